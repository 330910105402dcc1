/**
 * A small least-recently-used cache bounded by entries and by total size (the results are kept
 * as JSON text, so their size is known).
 * @module
 */

/** Counters of an {@linkcode LruCache}. */
export interface LruStats {
  /** Entries held. */
  entries: number;
  /** Sum of the entries' sizes (characters of JSON). */
  size: number;
  /** Lookups that found an entry. */
  hits: number;
  /** Lookups that did not. */
  misses: number;
}

/** LRU map from string keys to JSON texts. */
export class LruCache {
  readonly #map = new Map<string, string>();
  readonly #maxEntries: number;
  readonly #maxSize: number;
  #size = 0;
  #hits = 0;
  #misses = 0;

  /** A cache of at most `maxEntries` entries and `maxSize` characters in all. */
  constructor(maxEntries = 64, maxSize = 256 * 1024 * 1024) {
    this.#maxEntries = maxEntries;
    this.#maxSize = maxSize;
  }

  /** The entry for `key` (now the most recently used), or undefined. */
  get(key: string): string | undefined {
    const v = this.#map.get(key);
    if (v === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }

  /** Store an entry, evicting the least recently used ones past the bounds. */
  set(key: string, value: string): void {
    const old = this.#map.get(key);
    if (old !== undefined) {
      this.#size -= old.length;
      this.#map.delete(key);
    }
    if (value.length > this.#maxSize) return;
    this.#map.set(key, value);
    this.#size += value.length;
    while (this.#map.size > this.#maxEntries || this.#size > this.#maxSize) {
      const oldest = this.#map.keys().next().value as string;
      this.#size -= this.#map.get(oldest)!.length;
      this.#map.delete(oldest);
    }
  }

  /** Whether `key` is held (does not count as a use). */
  has(key: string): boolean {
    return this.#map.has(key);
  }

  /** Current counters. */
  stats(): LruStats {
    return { entries: this.#map.size, size: this.#size, hits: this.#hits, misses: this.#misses };
  }
}
