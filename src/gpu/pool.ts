/**
 * A pool of storage buffers keyed by size, so a forward pass or a sweep reuses the buffers of
 * the previous one instead of allocating anew.
 * @module
 */

// INDIRECT: a pooled buffer may hold the workgroup counts of an indirect launch.
const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST |
  GPUBufferUsage.INDIRECT;

/** Reusable storage buffers, bucketed by size rounded up to 256 bytes. */
export class BufferPool {
  #device: GPUDevice;
  #free = new Map<number, GPUBuffer[]>();
  #freeBytes = 0;
  /** Pooled bytes kept at most; releases beyond this destroy the buffer. */
  maxFreeBytes: number;

  #destroy: (b: GPUBuffer) => void;

  /**
   * A pool on `device` keeping at most `maxFreeBytes` (default 1 GiB) of idle buffers; buffers
   * beyond that go to `destroy` (default: destroyed at once).
   */
  constructor(
    device: GPUDevice,
    maxFreeBytes = 1 << 30,
    destroy: (b: GPUBuffer) => void = (b) => b.destroy(),
  ) {
    this.#device = device;
    this.maxFreeBytes = maxFreeBytes;
    this.#destroy = destroy;
  }

  /** A storage buffer of at least `bytes` bytes (contents undefined). */
  acquire(bytes: number): GPUBuffer {
    const size = bucket(bytes);
    const list = this.#free.get(size);
    const b = list?.pop();
    if (b) {
      this.#freeBytes -= size;
      return b;
    }
    return this.#device.createBuffer({ size, usage: STORAGE });
  }

  /** Give a buffer back for reuse. */
  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    if (this.#freeBytes + size > this.maxFreeBytes) {
      this.#destroy(buffer);
      return;
    }
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(buffer);
    this.#freeBytes += size;
  }

  /** Bytes held idle in the pool. */
  get idleBytes(): number {
    return this.#freeBytes;
  }

  /**
   * Destroy every idle buffer (through the pool's `destroy`, so a Gpu's pool waits
   * for the recorded launches that still use a released buffer).
   */
  clear(): void {
    for (const list of this.#free.values()) for (const b of list) this.#destroy(b);
    this.#free.clear();
    this.#freeBytes = 0;
  }
}

function bucket(bytes: number): number {
  return Math.max(256, Math.ceil(bytes / 256) * 256);
}
