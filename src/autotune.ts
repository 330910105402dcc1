/**
 * Measured kernel-variant rules: times the variants of each "auto" choice on this device (the
 * matmul kernels — small tiles with or without K split, 128x128 tiles of depth 8 or of depth 16
 * with prefetch — over a
 * ladder of output sizes, row vs flash attention over sequence lengths,
 * prebinned vs direct MI) and derives the thresholds of a {@linkcode Tuning} table from where one
 * variant starts to win. `deno task cli tune` runs it and caches the table for the adapter, which
 * `Gpu.create()` then loads (src/gpu/tuning.ts).
 * @module
 */

import type { Gpu } from "./gpu/context.ts";
import type { TuneMeasurement, Tuning } from "./gpu/tuning.ts";
import { Tensor } from "./tensor/tensor.ts";
import { attention, matmul } from "./tensor/ops.ts";
import { pairwiseMiCov } from "./pairwise/pairwise.ts";

/** Options of {@linkcode autotune}. */
export interface AutotuneOptions {
  /** Timed runs per variant and shape after one warm-up (default 5; 2 on CPU adapters). */
  runs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /**
   * Measure the tiled matmul on CPU adapters too (default false: it is barrier-bound there, far
   * slower at every size, and large shapes take minutes). Informational: `matmul()` never takes
   * the tiled kernel on a CPU adapter under "auto", whatever the threshold.
   */
  cpuMatmul?: boolean;
  /**
   * The matmul ladder as output grids of 128x128 tiles [rows, columns] (default 1x6 up to
   * 32x24, K 768); small ladders keep tests quick.
   */
  matmulGrids?: [number, number][];
}

/** A variant wins a shape only when it is at least this much faster (noise margin). */
const MARGIN = 0.97;

function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Minimum GPU time of `record` (launches recorded, outputs returned for disposal). */
async function minMs(gpu: Gpu, runs: number, record: () => Tensor[]): Promise<number> {
  let best = Infinity;
  for (let r = -1; r < runs; r++) {
    const outs = record();
    const ms = await gpu.timeRecorded();
    for (const t of outs) t.dispose();
    if (r >= 0) best = Math.min(best, ms);
  }
  return best;
}

/**
 * Threshold from a ladder (ascending sizes): the smallest size from which `challenger` wins at
 * every measured size; 0 when it wins them all, null when it does not win at the largest.
 */
export function thresholdFrom(
  ladder: { size: number; best: string }[],
  challenger: string,
): number | null {
  let k = ladder.length;
  while (k > 0 && ladder[k - 1].best === challenger) k--;
  if (k === ladder.length) return null;
  return k === 0 ? 0 : ladder[k].size;
}

function pick(a: string, ta: number, b: string, tb: number): string {
  return tb < ta * MARGIN ? b : a;
}

/** Output grids of 128x128 tiles, 6 (GPT-2 at B1 x T128) to 768 tiles. */
const MATMUL_GRIDS: [number, number][] = [
  [1, 6],
  [2, 6],
  [4, 6],
  [8, 6],
  [8, 12],
  [16, 12],
  [16, 24],
  [32, 24],
];

async function tuneMatmul(
  gpu: Gpu,
  runs: number,
  grids: [number, number][],
  out: TuneMeasurement[],
  log: (s: string) => void,
): Promise<
  { minTiles: number | null; kernel: "tiled" | "tiled_pf"; small: "simple" | "ksplit" }
> {
  const K = 768; // GPT-2's width
  const variants = ["simple", "ksplit", "tiled", "tiled_pf"] as const;
  const rungs: { tiles: number; shape: string; ms: Record<string, number> }[] = [];
  for (const [r, c] of grids) {
    const [M, N] = [128 * r, 128 * c];
    const x = Tensor.from(gpu, noise(M * K, 1), [M, K]);
    const w = Tensor.from(gpu, noise(K * N, 2), [K, N]);
    const ms: Record<string, number> = {};
    for (const variant of variants) {
      ms[variant] = await minMs(gpu, runs, () => [matmul(x, w, { variant })]);
    }
    x.dispose();
    w.dispose();
    const shape = `${M}x${K}x${N} (${r * c} tiles)`;
    rungs.push({ tiles: r * c, shape, ms });
    log(
      `matmul ${shape}: ` +
        variants.map((v) => `${v} ${ms[v].toFixed(3)} ms`).join(", "),
    );
  }
  // The tiled kernel: the faster over the three largest outputs (where tiles are used at all);
  // the small-tile kernel: the faster over the three smallest (where small tiles are).
  const total = (rs: typeof rungs, v: string) => rs.reduce((a, g) => a + g.ms[v], 0);
  const [top, bottom] = [rungs.slice(-3), rungs.slice(0, 3)];
  const kernel = total(top, "tiled_pf") < total(top, "tiled") * MARGIN ? "tiled_pf" : "tiled";
  // CPU adapters (measured with cpuMatmul) keep their own small-tile kernels whatever the table.
  const small = !gpu.caps.isFallbackAdapter &&
      total(bottom, "ksplit") < total(bottom, "simple") * MARGIN
    ? "ksplit"
    : "simple";
  const ladder = rungs.map((g) => {
    const best = pick(small, g.ms[small], kernel, g.ms[kernel]);
    out.push({ op: "matmul", shape: g.shape, ms: g.ms, best });
    return { size: g.tiles, best };
  });
  return { minTiles: thresholdFrom(ladder, kernel), kernel, small };
}

async function tuneAttention(
  gpu: Gpu,
  runs: number,
  out: TuneMeasurement[],
  log: (s: string) => void,
): Promise<number | null> {
  const [H, D] = [12, 768]; // GPT-2 small's heads
  const lengths = gpu.caps.isFallbackAdapter ? [16, 64, 128] : [16, 32, 64, 128, 256, 512, 1024];
  const ladder: { size: number; best: string }[] = [];
  for (const T of lengths) {
    // Batched like the analyses (many short windows), one sequence from T 1024 on.
    const B = gpu.caps.isFallbackAdapter ? 1 : Math.max(1, Math.floor(2048 / T));
    const qkv = Tensor.from(gpu, noise(B * T * 3 * D, 3), [B, T, 3 * D]);
    const ms: Record<string, number> = {};
    for (const variant of ["row", "flash"] as const) {
      ms[variant] = await minMs(gpu, runs, () => [attention(qkv, { heads: H, variant })]);
    }
    qkv.dispose();
    const best = pick("row", ms.row, "flash", ms.flash);
    out.push({ op: "attention", shape: `B${B}xT${T}, 12 heads of 64`, ms, best });
    ladder.push({ size: T, best });
    log(`attention B${B}xT${T}: row ${ms.row.toFixed(3)} ms, flash ${ms.flash.toFixed(3)} ms`);
  }
  return thresholdFrom(ladder, "flash");
}

async function tuneMi(
  gpu: Gpu,
  runs: number,
  out: TuneMeasurement[],
  log: (s: string) => void,
): Promise<"prebinned" | "direct"> {
  const [L, N, D] = gpu.caps.isFallbackAdapter ? [1, 64, 256] : [2, 250, 1024];
  const x = noise(L * N * D, 4);
  for (let i = 0; i < x.length; i += 97) x[i] *= 12; // a few heavy dimensions, as hidden states
  const h = Tensor.from(gpu, x, [L, N, D]);
  const ms: Record<string, number> = {};
  for (const algorithm of ["prebinned", "direct"] as const) {
    ms[algorithm] = await minMs(gpu, runs, () => {
      const r = pairwiseMiCov(h, { algorithm });
      return [r.mi, r.cov];
    });
  }
  h.dispose();
  const best = pick("prebinned", ms.prebinned, "direct", ms.direct) as "prebinned" | "direct";
  out.push({ op: "mi", shape: `${L}x${N}x${D}, 15 bins`, ms, best });
  log(
    `MI ${L}x${N}x${D}: prebinned ${ms.prebinned.toFixed(3)} ms, direct ${ms.direct.toFixed(3)} ms`,
  );
  return best;
}

/**
 * Measure this device's kernel variants and return the table (the caller may assign it to
 * `gpu.tuning`, and `saveTuning()` caches it). Times are GPU times from timestamp queries (wall
 * times without them), minima over the runs. Takes about a second on a large GPU, and ~10 s on
 * lavapipe (which skips the tiled matmul unless `cpuMatmul`).
 *
 * @example
 * ```ts ignore
 * const gpu = await Gpu.create();
 * gpu.tuning = await autotune(gpu, { log: console.log });
 * await saveTuning(gpu.caps, gpu.tuning);
 * ```
 */
export async function autotune(gpu: Gpu, options: AutotuneOptions = {}): Promise<Tuning> {
  const cpu = gpu.caps.isFallbackAdapter;
  const runs = options.runs ?? (cpu ? 2 : 5);
  const log = options.log ?? (() => {});
  const measurements: TuneMeasurement[] = [];
  try {
    const mm = cpu && !options.cpuMatmul
      ? { minTiles: null, kernel: "tiled" as const, small: "simple" as const }
      : await tuneMatmul(gpu, runs, options.matmulGrids ?? MATMUL_GRIDS, measurements, log);
    const attentionFlashMinT = await tuneAttention(gpu, runs, measurements, log);
    const miAlgorithm = await tuneMi(gpu, runs, measurements, log);
    return {
      matmulTiledMinTiles: mm.minTiles,
      matmulTiledKernel: mm.kernel,
      matmulSmallKernel: mm.small,
      attentionFlashMinT,
      miAlgorithm,
      source: "measured",
      measuredAt: new Date().toISOString(),
      adapter: gpu.caps.description,
      measurements,
    };
  } finally {
    gpu.pool.clear();
  }
}
