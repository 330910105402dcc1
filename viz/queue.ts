/**
 * The GPU queue: a FIFO mutex, so at most one analysis uses the (single) GPU and its shared
 * buffers at a time. Instrumented: it counts what runs, what waits, and the most that ever ran
 * at once (which must stay 1).
 * @module
 */

/** Counters of a {@linkcode GpuQueue}. */
export interface QueueStats {
  /** Jobs running now (0 or 1). */
  active: number;
  /** Most jobs that ever ran at once (1 when the queue works). */
  maxActive: number;
  /** Jobs waiting for their turn. */
  waiting: number;
  /** Jobs finished (resolved or rejected). */
  completed: number;
  /** Jobs that threw. */
  failed: number;
}

/** A first-in first-out mutex for GPU work. */
export class GpuQueue {
  #tail: Promise<void> = Promise.resolve();
  #active = 0;
  #maxActive = 0;
  #waiting = 0;
  #completed = 0;
  #failed = 0;

  /**
   * Run `job` after every job queued before it has finished. `onQueued` is told how many jobs
   * are ahead (running or waiting) when this one joins the queue.
   */
  run<T>(job: () => Promise<T>, onQueued?: (ahead: number) => void): Promise<T> {
    const ahead = this.#active + this.#waiting;
    this.#waiting++;
    onQueued?.(ahead);
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => release = resolve);
    return previous.then(async () => {
      this.#waiting--;
      this.#active++;
      this.#maxActive = Math.max(this.#maxActive, this.#active);
      try {
        return await job();
      } catch (e) {
        this.#failed++;
        throw e;
      } finally {
        this.#active--;
        this.#completed++;
        release();
      }
    });
  }

  /** Current counters. */
  stats(): QueueStats {
    return {
      active: this.#active,
      maxActive: this.#maxActive,
      waiting: this.#waiting,
      completed: this.#completed,
      failed: this.#failed,
    };
  }
}
