/**
 * Kernel-variant choices of a device ("auto" in `matmul()`, `attention()`, `pairwiseMiCov()`):
 * justified defaults per adapter kind, replaced by a table measured on the device itself
 * (`autotune()` in src/autotune.ts, `deno task cli tune`) and cached per adapter under
 * `$LAMINAR_CACHE/tune` (else `$XDG_CACHE_HOME/laminar/tune`, else `~/.cache/laminar/tune`).
 * `Gpu.create()` loads the cached table of its adapter when there is one.
 * @module
 */

import type { GpuCapabilities } from "./device.ts";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { FileNotFoundError, LaminarError } from "../errors.ts";

/**
 * Bumped whenever a kernel variant or a rule changes what a measured table means, so tables
 * measured with older kernels are not used.
 */
export const TUNING_VERSION = 3;

/** One variant timing behind a measured choice. */
export interface TuneMeasurement {
  /** Decision: "matmul", "attention" or "mi". */
  op: string;
  /** The shape, e.g. "1024x1024x1536 (96 tiles)". */
  shape: string;
  /** GPU (or wall) milliseconds per variant, minimum of the timed runs. */
  ms: Record<string, number>;
  /** The faster variant. */
  best: string;
}

/** The variant rules of a device. */
export interface Tuning {
  /**
   * Hardware adapters: use the 128x128-tile matmul when the output has at least this many
   * 128x128 tiles (`ceil(M / 128) * ceil(N / 128)`); `null`: never. CPU adapters never use it.
   */
  matmulTiledMinTiles: number | null;
  /**
   * Which 128x128-tile kernel: "tiled" (depth-8 tiles) or "tiled_pf" (depth 16, the next tile's
   * loads prefetched into registers).
   */
  matmulTiledKernel: "tiled" | "tiled_pf";
  /**
   * Hardware adapters, outputs below the tiled threshold: "simple" (32x32 tiles, one thread per
   * 4x4 outputs) or "ksplit" (the same tiles with each output's K terms split over 4 threads).
   * CPU adapters always use their own small-tile kernels.
   */
  matmulSmallKernel: "simple" | "ksplit";
  /** Use flash attention (when no pattern is asked for) from this many positions; `null`: never. */
  attentionFlashMinT: number | null;
  /** MI + covariance kernels of `pairwiseMiCov()` when the call does not choose. */
  miAlgorithm: "prebinned" | "direct";
  /** "rules" (the defaults) or "measured" (by `autotune()`). */
  source: "rules" | "measured";
  /** When it was measured (ISO date), for measured tables. */
  measuredAt?: string;
  /** The adapter it was measured on. */
  adapter?: string;
  /** The timings behind a measured table. */
  measurements?: TuneMeasurement[];
}

/**
 * The rules used until a device is measured. CPU adapters (lavapipe, measured here,
 * docs/benchmarks.md): never the tiled matmul (barrier-heavy kernels crawl there), flash
 * attention at every length. Hardware adapters (not yet measured on one): the tiled matmul once
 * it has 96 tiles to fill a large GPU, below that the K-split small-tile kernel (the plain one
 * runs too few threads, each a serial chain of K steps, to hide memory latency on a large GPU),
 * flash attention from one full 64-query block.
 */
export function defaultTuning(caps: Pick<GpuCapabilities, "isFallbackAdapter">): Tuning {
  return {
    matmulTiledMinTiles: caps.isFallbackAdapter ? null : 96,
    matmulTiledKernel: "tiled",
    matmulSmallKernel: caps.isFallbackAdapter ? "simple" : "ksplit",
    attentionFlashMinT: caps.isFallbackAdapter ? 0 : 64,
    miAlgorithm: "prebinned",
    source: "rules",
  };
}

/** Whether a permission is granted already (never prompts: `Gpu.create()` reads the cache quietly). */
function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/** The rules in words: "matmul: …; attention: …; MI: …". */
export function describeTuning(t: Tuning): string {
  const tiles = t.matmulTiledMinTiles;
  const flash = t.attentionFlashMinT;
  const small = `small tiles (${t.matmulSmallKernel})`;
  const matmul = tiles === null
    ? `${small}, never the 128x128 tiles`
    : `${small}, 128x128 tiles (${t.matmulTiledKernel}) from ${tiles} tiles`;
  const attention = flash === null
    ? "row kernel always"
    : flash === 0
    ? "flash always"
    : `flash from T ${flash}`;
  return `matmul: ${matmul}; attention: ${attention}; MI: ${t.miAlgorithm}`;
}

function env(name: string): string | undefined {
  if (!granted({ name: "env", variable: name })) return undefined;
  try {
    const v = Deno.env.get(name);
    return v === "" ? undefined : v;
  } catch {
    return undefined;
  }
}

/** The tuning cache folder, or null when no HOME / cache variable is set. */
export function tuningCacheDir(): string | null {
  const root = env("LAMINAR_CACHE");
  if (root) return resolve(root, "tune");
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return resolve(xdg, "laminar", "tune");
  const home = env("HOME") ?? env("USERPROFILE");
  return home ? join(home, ".cache", "laminar", "tune") : null;
}

/** File name of an adapter's table: its description and vendor, made safe for a path. */
export function tuningFileName(caps: Pick<GpuCapabilities, "description" | "vendor">): string {
  const slug = `${caps.vendor}-${caps.description}`.toLowerCase().replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "").slice(0, 120);
  return `${slug || "adapter"}.v${TUNING_VERSION}.json`;
}

function validThreshold(v: unknown): v is number | null {
  return v === null || (typeof v === "number" && Number.isInteger(v) && v >= 0);
}

/** Parse a cached table; null when it is not one (another version, a damaged file). */
export function parseTuning(text: string): Tuning | null {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text);
  } catch {
    return null;
  }
  if (
    !o || typeof o !== "object" || o.version !== TUNING_VERSION ||
    !validThreshold(o.matmulTiledMinTiles) || !validThreshold(o.attentionFlashMinT) ||
    (o.matmulTiledKernel !== "tiled" && o.matmulTiledKernel !== "tiled_pf") ||
    (o.matmulSmallKernel !== "simple" && o.matmulSmallKernel !== "ksplit") ||
    (o.miAlgorithm !== "prebinned" && o.miAlgorithm !== "direct")
  ) return null;
  return {
    matmulTiledMinTiles: o.matmulTiledMinTiles,
    matmulTiledKernel: o.matmulTiledKernel,
    matmulSmallKernel: o.matmulSmallKernel,
    attentionFlashMinT: o.attentionFlashMinT,
    miAlgorithm: o.miAlgorithm,
    source: "measured",
    measuredAt: typeof o.measuredAt === "string" ? o.measuredAt : undefined,
    adapter: typeof o.adapter === "string" ? o.adapter : undefined,
    measurements: Array.isArray(o.measurements) ? o.measurements as TuneMeasurement[] : undefined,
  };
}

/**
 * The cached measured table of this adapter, or null (none, unreadable, another version, or no
 * permission to read it: the rules then apply; it never prompts for a permission, so a process
 * without --allow-env / --allow-read gets the rules). `LAMINAR_TUNING=rules` ignores the cache.
 */
export async function loadTuning(
  caps: Pick<GpuCapabilities, "description" | "vendor">,
  dir: string | null = tuningCacheDir(),
): Promise<Tuning | null> {
  if (!dir || env("LAMINAR_TUNING") === "rules") return null;
  const path = join(dir, tuningFileName(caps));
  if (!granted({ name: "read", path })) return null;
  try {
    return parseTuning(await Deno.readTextFile(path));
  } catch {
    return null;
  }
}

/** Write a measured table to this adapter's cache file (atomically); returns the path. */
export async function saveTuning(
  caps: Pick<GpuCapabilities, "description" | "vendor">,
  tuning: Tuning,
  dir: string | null = tuningCacheDir(),
): Promise<string> {
  if (!dir) {
    throw new FileNotFoundError(
      "Cannot locate the tuning cache: HOME is not set",
      "Set LAMINAR_CACHE to a folder for laminar's caches",
    );
  }
  const path = join(dir, tuningFileName(caps));
  const { source: _source, ...rest } = tuning;
  try {
    await Deno.mkdir(dir, { recursive: true });
    await writeFileAtomic(
      path,
      JSON.stringify({ version: TUNING_VERSION, ...rest }, null, 2) + "\n",
    );
  } catch (e) {
    throw new LaminarError(
      `Cannot write the tuning table "${path}": ${(e as Error).message}`,
      "Set LAMINAR_CACHE to a writable folder, or measure without caching (tune --no-save)",
    );
  }
  return path;
}
