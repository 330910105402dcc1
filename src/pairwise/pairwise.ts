/**
 * All-pairs statistics on the GPU: cosine-similarity and covariance matrices, and seed 004's
 * mutual information + covariance (`mutInfo_and_cov`) for every pair of vectors of a stack
 * `H [L, N, D]` (or `[N, D]`), or across two stacks `A [L, N, D]`, `B [L, M, D]`; every layer in
 * one submission, optionally reduced to per-layer summaries on the GPU so a sweep reads back
 * kilobytes.
 *
 * To combine many reductions in one readback: {@linkcode recordSummary} (per-layer count, mean,
 * min, max, histogram), {@linkcode recordEdges} (histogram edges over the data's range, on the
 * GPU) and {@linkcode recordJointMoments} (per-layer Pearson r of two pair-value matrices) record
 * without reading; {@linkcode readRecorded} reads any number of them with one `gpu.read`.
 *
 * Functions that return {@linkcode Tensor}s only record launches (nothing runs until a readback)
 * and cannot look at the data: NaN or Inf in the input gives NaN results. Use
 * {@linkcode checkFinite} (a GPU reduction, one readback) or the async functions
 * ({@linkcode computePairwise}, {@linkcode pairwiseSummary}), which run the same check on the GPU
 * in the readback of their results and throw {@linkcode InvalidArgumentError}.
 * @module
 */

import { type BufferRange, type Gpu, type Kernel, params } from "../gpu/context.ts";
import { InvalidArgumentError, ShapeError } from "../errors.ts";
import { grid } from "../tensor/kernels.ts";
import { matmul } from "../tensor/ops.ts";
import { type Shape, Tensor } from "../tensor/tensor.ts";
import { type MiAlgorithm, prepWords, recordMiChunk } from "./mi_kernels.ts";
import statsSrc from "../../kernels/pairwise_stats.wgsl" with { type: "text" };
import gramSrc from "../../kernels/pairwise_gram.wgsl" with { type: "text" };
import exactSrc from "../../kernels/exact_f32.wgsl" with { type: "text" };
import summarySrc from "../../kernels/pairwise_summary.wgsl" with { type: "text" };
import edgesSrc from "../../kernels/pairwise_edges.wgsl" with { type: "text" };
import momentsSrc from "../../kernels/pairwise_moments.wgsl" with { type: "text" };
import rowsSrc from "../../kernels/pairwise_rows.wgsl" with { type: "text" };
import maskSrc from "../../kernels/pairwise_mask.wgsl" with { type: "text" };

/** Which pair statistic. `covariance` here is the outlier-free ddof-1 covariance of all D. */
export type PairwiseMetric = "cosine" | "covariance" | "mi";

/** Which pairs of a one-stack matrix are filled. */
export type Triangle = "upper" | "full";

/** Options shared by the pairwise functions. */
export interface PairOptions {
  /**
   * Second stack `B [L, M, D]` (or `[M, D]`): pairs (a_i, b_j) across the two groups, output
   * `[L, N, M]`, every entry filled.
   */
  other?: Tensor;
  /**
   * For one stack: `"upper"` fills i < j and writes 0 elsewhere (the seed's layout), `"full"`
   * fills every entry (symmetric). Default `"full"` for cosine and covariance, `"upper"` for MI.
   */
  triangle?: Triangle;
}

/** Options of {@linkcode pairwiseMiCov}. */
export interface MiCovGpuOptions extends PairOptions {
  /** Equal-width bins per axis of the joint histogram, 2..64 (default 15). */
  bins?: number;
  /**
   * Drop element k of a pair when `|z| > outlierZ` in either vector (z-scores with ddof 1 over
   * the D elements of each vector); 0 keeps everything (default 5, as the seed's sweep).
   */
  outlierZ?: number;
  /**
   * How the joint histograms are counted (default `gpu.tuning.miAlgorithm`: `"prebinned"` unless
   * `autotune()` measured otherwise): `"prebinned"` bins each vector once and counts pairs from
   * the shared bins, finishing on the GPU the pairs whose kept range differs from their vectors'
   * own with the direct kernel; `"direct"` bins every pair's elements itself. Same MI;
   * covariance equal to f32 rounding.
   */
  algorithm?: MiAlgorithm;
  /** Write MI here (`[L, N, M]` elements). */
  outMi?: Tensor;
  /** Write the covariance here (`[L, N, M]` elements). */
  outCov?: Tensor;
}

/** Options of {@linkcode pairwiseCosine} and {@linkcode pairwiseCovariance}. */
export interface GramOptions extends PairOptions {
  /** Write the matrix here (`[L, N, M]` elements). */
  out?: Tensor;
}

/** Largest bins per axis of the MI histogram (bins^2 u32 counters in workgroup memory). */
export const MAX_MI_BINS = 64;
/** Largest number of bins of a summary histogram. */
export const MAX_SUMMARY_BINS = 1024;

const STATS: Kernel = { name: "pairwise_stats", code: statsSrc };
const GRAM: Kernel = { name: "pairwise_gram", code: gramSrc };
const SUMMARY: Kernel = { name: "pairwise_summary", code: exactSrc + summarySrc };
const EDGES: Kernel = { name: "pairwise_edges", code: edgesSrc };
const MOMENTS: Kernel = { name: "pairwise_moments", code: exactSrc + momentsSrc };
const ROWS: Kernel = { name: "pairwise_rows", code: rowsSrc };
const MASK: Kernel = { name: "pairwise_mask", code: maskSrc };

function fmt(s: Shape): string {
  return `[${s.join(", ")}]`;
}

/** A stack of vectors as the kernels address it. */
interface Stack {
  t: Tensor;
  layers: number;
  n: number;
  d: number;
  /** Leading dims of the output (`[]` for [N, D] input, `[L]` for [L, N, D]). */
  lead: number[];
  layerStride: number;
  vecStride: number;
  /** Element offset of vector 0 inside the bound range. */
  base: number;
  range: BufferRange;
}

function bindRange(gpu: Gpu, t: Tensor, firstByte: number, endByte: number): BufferRange {
  const align = gpu.caps.storageOffsetAlignment || 256;
  const offset = Math.floor(firstByte / align) * align;
  return { buffer: t.buffer, offset, size: Math.max(4, endByte - offset) };
}

function stackOf(t: Tensor, what: string): Stack {
  if (t.dtype !== "f32") {
    throw new InvalidArgumentError(
      `The ${what} must hold f32 values, got "${t.dtype}"`,
      "Convert the vectors to float32",
    );
  }
  if (t.shape.length !== 2 && t.shape.length !== 3) {
    throw new ShapeError(
      `The ${what} must be [N, D] or [L, N, D], got "${fmt(t.shape)}"`,
      "Stack the vectors as rows: one [N, D] matrix per layer",
    );
  }
  const [layers, n, d] = t.shape.length === 3 ? t.shape : [1, ...t.shape];
  if (d < 2) {
    throw new InvalidArgumentError(
      `Vectors need at least 2 elements, got D = "${d}"`,
      "Covariance and z-scores use ddof = 1; pass vectors of length >= 2",
    );
  }
  if (n < 1 || layers < 1) {
    throw new ShapeError(`The ${what} "${fmt(t.shape)}" holds no vectors`, "Pass non-empty data");
  }
  const range = bindRange(t.gpu, t, t.offset, t.offset + t.bytes);
  return {
    t,
    layers,
    n,
    d,
    lead: t.shape.length === 3 ? [layers] : [],
    layerStride: n * d,
    vecStride: d,
    base: (t.offset - range.offset) / 4,
    range,
  };
}

function pairOf(a: Tensor, options: PairOptions, defaultTri: Triangle) {
  const A = stackOf(a, "input");
  let B = A;
  if (options.other) {
    B = stackOf(options.other, "second group");
    if (
      options.other.shape.length !== a.shape.length || B.layers !== A.layers || B.d !== A.d
    ) {
      throw new ShapeError(
        `Cannot pair "${fmt(a.shape)}" with "${fmt(options.other.shape)}"`,
        "Both groups need the same number of layers L and the same width D: [L, N, D] and " +
          "[L, M, D]",
      );
    }
    if (options.triangle === "upper") {
      throw new InvalidArgumentError(
        `triangle "upper" needs one stack; pairs across two groups fill every entry`,
        'Leave triangle unset (or "full") when passing a second group',
      );
    }
  } else if (A.n < 2) {
    throw new InvalidArgumentError(
      `Pairwise statistics need at least 2 vectors, got N = "${A.n}"`,
      "Pass a stack [N, D] or [L, N, D] with N >= 2",
    );
  }
  const triangle = options.triangle ?? defaultTri;
  if (triangle !== "upper" && triangle !== "full") {
    throw new InvalidArgumentError(
      `triangle must be "upper" or "full", got "${triangle}"`,
      'Use "upper" for the seed layout (i < j filled), "full" for the whole matrix',
    );
  }
  const mode = options.other ? 0 : triangle === "upper" ? 1 : 2;
  return { A, B, mode, shape: [...A.lead, A.n, B.n] as number[] };
}

/** Per-vector (mean, std, norm, z-limit) of a stack, plus the non-finite counter. */
interface StackStats {
  stats: Tensor;
  bad: Tensor<"u32">;
}

function recordStats(s: Stack, thr: number, bad?: Tensor<"u32">): StackStats {
  const gpu = s.t.gpu;
  const V = s.layers * s.n;
  const stats = Tensor.empty(gpu, [V, 4]);
  const flag = bad ?? sink(gpu);
  const [nx, ny] = grid(V, gpu.caps.maxWorkgroupsPerDimension);
  gpu.dispatch({
    kernel: STATS,
    params: params(s.n, s.layers, s.d, s.layerStride, s.vecStride, s.base, nx, { f: thr }),
    buffers: [s.range, stats.range, flag.range],
    workgroups: [nx, ny],
    flops: 4 * V * s.d,
    bytes: 8 * V * s.d,
  });
  return { stats, bad: flag };
}

const scratch = new WeakMap<Gpu, { zero: Tensor<"u32">; sink: Tensor<"u32"> }>();

function scratchOf(gpu: Gpu) {
  let s = scratch.get(gpu);
  if (!s) {
    s = {
      zero: Tensor.from(gpu, new Uint32Array(4), [4]),
      sink: Tensor.from(gpu, new Uint32Array(4), [4]),
    };
    scratch.set(gpu, s);
  }
  return s;
}

/**
 * A NaN/Inf counter cleared in the command stream (a recorded copy, so a pooled buffer still
 * used by launches recorded earlier is not overwritten before they run). Dispose after reading.
 */
function zeros(gpu: Gpu): Tensor<"u32"> {
  const t = Tensor.empty(gpu, [4], "u32");
  gpu.copy(scratchOf(gpu).zero.range, t.range);
  return t;
}

/** A counter nobody reads (for launches that only record): shared, never disposed. */
function sink(gpu: Gpu): Tensor<"u32"> {
  const s = scratchOf(gpu).sink;
  return new Tensor(gpu, s.buffer, s.shape, "u32");
}

function outTensor(gpu: Gpu, out: Tensor | undefined, shape: number[], what: string): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (!out) return Tensor.empty(gpu, shape);
  if (out.size !== size || out.dtype !== "f32") {
    throw new ShapeError(
      `${what} has shape "${fmt(out.shape)}" (${out.dtype}), expected ${fmt(shape)} f32`,
      "Allocate the output with the shape of the result",
    );
  }
  return out;
}

/**
 * Layers `[l0, l0 + count)` of an `[L, N, M]` output, bound from an aligned offset: the range and
 * the element offset of the first value inside it (the kernels' `o_base`).
 */
function outLayers(
  t: Tensor,
  perLayer: number,
  l0: number,
  count: number,
): { range: BufferRange; base: number } {
  const first = t.offset + l0 * perLayer * 4;
  const range = bindRange(t.gpu, t, first, first + count * perLayer * 4);
  return { range, base: (first - range.offset) / 4 };
}

/** Layers `[l0, l0 + count)` of a stack, bound from an aligned offset. */
function stackLayers(s: Stack, l0: number, count: number): Stack {
  if (l0 === 0 && count === s.layers) return s;
  const first = s.range.offset + (s.base + l0 * s.layerStride) * 4;
  const end = first + ((count - 1) * s.layerStride + (s.n - 1) * s.vecStride + s.d) * 4;
  const range = bindRange(s.t.gpu, s.t, first, end);
  return { ...s, layers: count, range, base: (first - range.offset) / 4 };
}

/**
 * How many layers one launch covers: all of them when every range it binds (the stacks, their
 * per-vector temporaries of `vecBytes` each and the outputs) fits one storage binding, else as many as fit (at
 * least 1; a single layer too large is refused by the launch with a clear error). Big stacks
 * (gpt2-large: 37 hidden states x 1280) then run as several launches in the same submission.
 */
function layersPerLaunch(A: Stack, B: Stack, outPerLayer: number, vecBytes = 16): number {
  const caps = A.t.gpu.caps;
  const limit = caps.maxStorageBindingBytes;
  const align = caps.storageOffsetAlignment || 256;
  const span = (s: Stack, c: number) =>
    ((c - 1) * s.layerStride + (s.n - 1) * s.vecStride + s.d) * 4;
  const fits = (c: number) =>
    span(A, c) + align <= limit && span(B, c) + align <= limit &&
    c * outPerLayer * 4 + align <= limit && vecBytes * c * Math.max(A.n, B.n) <= limit;
  if (A.range.size <= limit && B.range.size <= limit && fits(A.layers)) return A.layers;
  let c = A.layers;
  while (c > 1 && !fits(c)) c = Math.max(1, Math.floor(c / 2));
  while (c + 1 < A.layers && fits(c + 1)) c++;
  return c;
}

const tables = new WeakMap<Gpu, Map<number, Tensor>>();

/** tab[c] = c * log2(c) as an f32 (hi, lo) pair, c = 0..d. */
function cLogTable(gpu: Gpu, d: number): Tensor {
  let byD = tables.get(gpu);
  if (!byD) tables.set(gpu, byD = new Map());
  let t = byD.get(d);
  if (!t) {
    const data = new Float32Array(2 * (d + 1));
    for (let c = 2; c <= d; c++) {
      const v = c * Math.log2(c);
      const hi = Math.fround(v);
      data[2 * c] = hi;
      data[2 * c + 1] = Math.fround(v - hi);
    }
    t = Tensor.from(gpu, data, [d + 1, 2]);
    byD.set(d, t);
  }
  return t;
}

function checkBins(gpu: Gpu, bins: number): void {
  if (!Number.isInteger(bins) || bins < 2 || bins > MAX_MI_BINS) {
    throw new InvalidArgumentError(
      `bins must be an integer from 2 to ${MAX_MI_BINS}, got "${bins}"`,
      "The seed uses 15 bins per axis",
    );
  }
  const bytes = Math.ceil((bins * bins) / 64) * 64 * 4 + 2048;
  if (bytes > gpu.caps.maxWorkgroupStorageBytes) {
    throw new InvalidArgumentError(
      `${bins} bins need ${bytes} bytes of workgroup memory; this device offers ` +
        `${gpu.caps.maxWorkgroupStorageBytes}`,
      "Use fewer bins",
    );
  }
}

function checkZ(z: number): void {
  if (typeof z !== "number" || !Number.isFinite(z) || z < 0) {
    throw new InvalidArgumentError(
      `outlierZ must be a finite number >= 0, got "${z}"`,
      "Pass a z-score threshold such as 5, or 0 to keep every element",
    );
  }
}

/** Upper-triangle or full / cross pair layout of a result. */
interface RecordedPairs {
  shape: number[];
  mode: number;
  bad: Tensor<"u32">;
  temps: { dispose(): void }[];
}

/**
 * Whether cosine / covariance matrices are matrix products of prepared rows ({@linkcode matmul}:
 * 30-45 GFLOP/s on lavapipe against ~0.9 for pairwise_gram.wgsl, docs/benchmarks.md) rather than
 * the 16 x 16 tile kernel. CPU adapters only: hardware adapters keep the tile kernel (unmeasured
 * there).
 */
function gramByMatmul(gpu: Gpu): boolean {
  return gpu.caps.isFallbackAdapter;
}

/** Width of the prepared rows: D rounded up to whole vec4s (matmul's fast kernel needs K % 4 == 0). */
function paddedWidth(d: number): number {
  return Math.ceil(d / 4) * 4;
}

/** Elements per layer of prepared rows: `n` rows of `dp`, rounded up to an aligned binding offset. */
function preparedLayer(gpu: Gpu, n: number, dp: number): number {
  const align = (gpu.caps.storageOffsetAlignment || 256) / 4;
  return Math.ceil((n * dp) / align) * align;
}

/**
 * Rows for {@linkcode recordGramMatmul}: `[layers, n, dp]` at a layer stride of `ls` elements
 * (cosine: row / norm, zero rows 0; covariance: (row - mean) / sqrt(D - 1)).
 */
function prepareRows(
  metric: 0 | 1,
  s: Stack,
  stats: Tensor,
): { t: Tensor; ls: number; dp: number } {
  const gpu = s.t.gpu;
  const dp = paddedWidth(s.d);
  const ls = preparedLayer(gpu, s.n, dp);
  const t = Tensor.empty(gpu, [s.layers * ls]);
  const V = s.layers * s.n;
  const [nx, ny] = grid(V, gpu.caps.maxWorkgroupsPerDimension);
  gpu.dispatch({
    kernel: ROWS,
    params: params(
      s.n,
      s.layers,
      s.d,
      s.layerStride,
      s.vecStride,
      s.base,
      dp,
      ls,
      metric,
      nx,
      { f: 1 / Math.sqrt(s.d - 1) },
    ),
    buffers: [s.range, stats.range, t.range],
    workgroups: [nx, ny],
    flops: 2 * V * s.d,
    bytes: 4 * V * (s.d + dp),
  });
  return { t, ls, dp };
}

/**
 * The matrices of one launch chunk as matrix products (CPU adapters): rows prepared on the GPU
 * ({@linkcode prepareRows}), then per layer `matmul(P_a, P_b, transposeW)` straight into layer
 * `l0 + l` of `out` when that starts at an aligned offset, else into a temporary copied there;
 * `mode` 1 then zeroes the lower triangle and diagonal. Temporaries are pushed on `temps`.
 */
function recordGramMatmul(
  metric: 0 | 1,
  sA: Stack,
  sB: Stack | null,
  statsA: Tensor,
  statsB: Tensor,
  mode: number,
  out: Tensor,
  l0: number,
  temps: Tensor[],
): void {
  const gpu = sA.t.gpu;
  const c = sA.layers;
  const n = sA.n, m = sB ? sB.n : sA.n;
  const per = n * m;
  const pa = prepareRows(metric, sA, statsA);
  temps.push(pa.t);
  let pb = pa;
  if (sB) {
    pb = prepareRows(metric, sB, statsB);
    temps.push(pb.t);
  }
  const align = gpu.caps.storageOffsetAlignment || 256;
  let tmp: Tensor | null = null;
  for (let l = 0; l < c; l++) {
    const x = new Tensor(gpu, pa.t.buffer, [n, pa.dp], "f32", pa.t.offset + l * pa.ls * 4);
    const w = new Tensor(gpu, pb.t.buffer, [m, pb.dp], "f32", pb.t.offset + l * pb.ls * 4);
    const at = out.offset + (l0 + l) * per * 4;
    if (at % align === 0) {
      matmul(x, w, { transposeW: true, out: new Tensor(gpu, out.buffer, [n, m], "f32", at) });
    } else {
      if (!tmp) {
        tmp = Tensor.empty(gpu, [n, m]);
        temps.push(tmp);
      }
      matmul(x, w, { transposeW: true, out: tmp });
      gpu.copy(tmp.range, { buffer: out.buffer, offset: at, size: per * 4 });
    }
  }
  if (mode === 1) {
    const o = outLayers(out, per, l0, c);
    const [nx, ny] = grid(Math.ceil((c * per) / 256), gpu.caps.maxWorkgroupsPerDimension);
    gpu.dispatch({
      kernel: MASK,
      params: params(n, c, o.base, nx),
      buffers: [o.range],
      workgroups: [nx, ny],
      bytes: 2 * c * per,
    });
  }
}

/**
 * Layers per launch chunk: {@linkcode layersPerLaunch}, and on the matmul path also few enough
 * that the prepared rows of a chunk fit one binding.
 */
function gramLayersPerLaunch(A: Stack, B: Stack, per: number): number {
  const step = layersPerLaunch(A, B, per);
  const gpu = A.t.gpu;
  if (!gramByMatmul(gpu)) return step;
  const layer = 4 * Math.max(
    preparedLayer(gpu, A.n, paddedWidth(A.d)),
    preparedLayer(gpu, B.n, paddedWidth(B.d)),
  );
  return Math.max(1, Math.min(step, Math.floor(gpu.caps.maxStorageBindingBytes / layer)));
}

function recordGram(
  metric: 0 | 1,
  a: Tensor,
  options: GramOptions,
  bad?: Tensor<"u32">,
): { out: Tensor } & RecordedPairs {
  const { A, B, mode, shape } = pairOf(a, options, "full");
  const gpu = a.gpu;
  const out = outTensor(gpu, options.out, shape, "Output");
  const per = A.n * B.n;
  const step = gramLayersPerLaunch(A, B, per);
  const byMatmul = gramByMatmul(gpu);
  const temps: Tensor[] = [];
  let flag = bad;
  for (let l0 = 0; l0 < A.layers; l0 += step) {
    const c = Math.min(step, A.layers - l0);
    const sA = stackLayers(A, l0, c);
    const sB = options.other ? stackLayers(B, l0, c) : sA;
    const sa = recordStats(sA, 0, flag);
    flag = sa.bad;
    const sb = options.other ? recordStats(sB, 0, flag) : sa;
    temps.push(sa.stats);
    if (options.other) temps.push(sb.stats);
    if (byMatmul) {
      recordGramMatmul(
        metric,
        sA,
        options.other ? sB : null,
        sa.stats,
        sb.stats,
        mode,
        out,
        l0,
        temps,
      );
      continue;
    }
    const o = outLayers(out, per, l0, c);
    const tx = Math.ceil(B.n / 16), ty = Math.ceil(A.n / 16);
    gpu.dispatch({
      kernel: GRAM,
      params: params(
        A.n,
        B.n,
        c,
        A.d,
        sA.layerStride,
        sA.vecStride,
        sA.base,
        sB.layerStride,
        sB.vecStride,
        sB.base,
        metric,
        mode,
        o.base,
      ),
      buffers: [sA.range, sB.range, sa.stats.range, sb.stats.range, o.range],
      workgroups: [tx, ty, c],
      flops: 2 * c * A.n * B.n * A.d,
      bytes: 4 * c * (A.n + B.n) * A.d * Math.max(tx, ty),
    });
  }
  return { out, shape, mode, bad: flag!, temps };
}

/**
 * Cosine similarity of every pair of vectors: `h [L, N, D]` → `[L, N, N]` (or `[N, D]` →
 * `[N, N]`), or across groups with `other` `[L, M, D]` → `[L, N, M]`. A pair with a zero vector
 * gives 0. Records launches only (see the module note on NaN/Inf).
 *
 * @example
 * ```ts
 * import { Gpu } from "../gpu/context.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * using gpu = await Gpu.create();
 * const h = Tensor.from(gpu, new Float32Array([1, 0, 1, 1, 0, 2]), [3, 2]);
 * console.log(await pairwiseCosine(h).read()); // [1, 0.707…, 0, 0.707…, 1, 0.707…, 0, …, 1]
 * ```
 */
export function pairwiseCosine(h: Tensor, options: GramOptions = {}): Tensor {
  const r = recordGram(0, h, options);
  // Temporaries go back to the pool now: whoever gets them next records its launches after
  // these, and one submission runs launches in recording order.
  for (const t of r.temps) t.dispose();
  return r.out;
}

/**
 * Covariance (ddof 1, all D elements, no outlier removal: `np.cov`) of every pair of vectors:
 * `[L, N, D]` → `[L, N, N]`, or across groups with `other`. Records launches only.
 */
export function pairwiseCovariance(h: Tensor, options: GramOptions = {}): Tensor {
  const r = recordGram(1, h, options);
  for (const t of r.temps) t.dispose();
  return r.out;
}

/**
 * The layer x layer cosine matrix of one token's vectors (seed 003): `h [L, D]` → `[L, L]`, or
 * `h [L, N, D]` with `token` → the `[L, L]` matrix of vector `token` across layers.
 */
export function layerCosine(h: Tensor, options: { token?: number; out?: Tensor } = {}): Tensor {
  if (h.shape.length === 2) return pairwiseCosine(h, { out: options.out });
  if (h.shape.length !== 3) {
    throw new ShapeError(
      `layerCosine expects [L, D] or [L, N, D], got "${fmt(h.shape)}"`,
      "Pass one token's hidden states [L, D], or all of them with a token index",
    );
  }
  const [L, N, D] = h.shape;
  const token = options.token;
  if (token === undefined || !Number.isInteger(token) || token < 0 || token >= N) {
    throw new InvalidArgumentError(
      `token must be an integer in [0, ${N}), got "${token}"`,
      "Pass the index of the token whose layers to compare",
    );
  }
  if (L < 2 || D < 2) {
    throw new InvalidArgumentError(
      `layerCosine needs at least 2 layers of width >= 2, got "${fmt(h.shape)}"`,
      "",
    );
  }
  // L vectors with stride N * D starting at token * D: a strided view the kernels can address.
  const gpu = h.gpu;
  const out = outTensor(gpu, options.out, [L, L], "Output");
  const first = h.offset + token * D * 4;
  const end = first + ((L - 1) * N * D + D) * 4;
  if (end - first + (gpu.caps.storageOffsetAlignment || 256) > gpu.caps.maxStorageBindingBytes) {
    // The strided view spans (nearly) the whole stack, more than one binding: copy the token's
    // L vectors into a compact [L, D] tensor (in the command stream) and compare those.
    const rows = Tensor.empty(gpu, [L, D]);
    for (let l = 0; l < L; l++) {
      gpu.copy(
        { buffer: h.buffer, offset: first + l * N * D * 4, size: D * 4 },
        { buffer: rows.buffer, offset: rows.offset + l * D * 4, size: D * 4 },
      );
    }
    const r = recordGram(0, rows, { out });
    for (const t of r.temps) t.dispose();
    rows.dispose(); // launches recorded later run after these: the pooled buffer can go back
    return out;
  }
  const range = bindRange(gpu, h, first, end);
  const s: Stack = {
    t: h,
    layers: 1,
    n: L,
    d: D,
    lead: [],
    layerStride: 0,
    vecStride: N * D,
    base: (first - range.offset) / 4,
    range,
  };
  const st = recordStats(s, 0);
  if (gramByMatmul(gpu)) {
    const temps: Tensor[] = [st.stats];
    recordGramMatmul(0, s, null, st.stats, st.stats, 2, out, 0, temps);
    for (const t of temps) t.dispose();
    return out;
  }
  const o = outLayers(out, L * L, 0, 1);
  gpu.dispatch({
    kernel: GRAM,
    params: params(L, L, 1, D, 0, N * D, s.base, 0, N * D, s.base, 0, 2, o.base),
    buffers: [range, range, st.stats.range, st.stats.range, o.range],
    workgroups: [Math.ceil(L / 16), Math.ceil(L / 16), 1],
    flops: 2 * L * L * D,
  });
  st.stats.dispose();
  return out;
}

function recordMiCov(
  a: Tensor,
  options: MiCovGpuOptions,
  bad?: Tensor<"u32">,
): { mi: Tensor; cov: Tensor } & RecordedPairs {
  const bins = options.bins ?? 15;
  const thr = options.outlierZ ?? 5;
  const algorithm = options.algorithm ?? a.gpu.tuning.miAlgorithm;
  if (algorithm !== "prebinned" && algorithm !== "direct") {
    throw new InvalidArgumentError(
      `algorithm must be "prebinned" or "direct", got "${algorithm}"`,
      'Leave it unset ("prebinned") unless comparing the two kernels',
    );
  }
  checkBins(a.gpu, bins);
  checkZ(thr);
  const { A, B, mode, shape } = pairOf(a, options, "upper");
  const gpu = a.gpu;
  const mi = outTensor(gpu, options.outMi, shape, "MI output");
  const cov = outTensor(gpu, options.outCov, shape, "Covariance output");
  const table = cLogTable(gpu, A.d);
  const per = A.n * B.n;
  // Per-vector temporaries: statistics (16 bytes), and the prebinned path's masks and bins.
  const vecBytes = algorithm === "prebinned" ? Math.max(16, 4 * prepWords(A.d, bins)) : 16;
  const step = layersPerLaunch(A, B, per, vecBytes);
  const temps: { dispose(): void }[] = [];
  let flag = bad;
  try {
    for (let l0 = 0; l0 < A.layers; l0 += step) {
      const c = Math.min(step, A.layers - l0);
      const sA = stackLayers(A, l0, c);
      const sB = options.other ? stackLayers(B, l0, c) : sA;
      const sa = recordStats(sA, thr, flag);
      flag = sa.bad;
      const sb = options.other ? recordStats(sB, thr, flag) : sa;
      temps.push(sa.stats);
      if (options.other) temps.push(sb.stats);
      const oMi = outLayers(mi, per, l0, c);
      const oCov = outLayers(cov, per, l0, c);
      if (oMi.base !== oCov.base) {
        // Both outputs are addressed with one o_base: bind the covariance from the same relative
        // offset (pool tensors start at offset 0, so this only happens for caller-given outputs).
        throw new InvalidArgumentError(
          "The MI and covariance outputs must have the same byte offset modulo " +
            `${gpu.caps.storageOffsetAlignment || 256}`,
          "Pass output tensors at offset 0 of their buffers",
        );
      }
      const stackOf = (st: Stack, stats: Tensor) => ({
        n: st.n,
        layerStride: st.layerStride,
        vecStride: st.vecStride,
        base: st.base,
        range: st.range,
        stats,
      });
      const ma = stackOf(sA, sa.stats);
      temps.push(
        ...recordMiChunk(gpu, {
          a: ma,
          b: options.other ? stackOf(sB, sb.stats) : ma,
          layers: c,
          d: A.d,
          bins,
          mode,
          table,
          mi: oMi.range,
          cov: oCov.range,
          outBase: oMi.base,
          zero: scratchOf(gpu).zero.range,
          sink: sink(gpu).range,
          algorithm,
        }),
      );
    }
  } catch (e) {
    // A launch refused while recording (e.g. a layer over the binding limit): free what this
    // call allocated before passing the error on.
    for (const t of temps) t.dispose();
    if (!options.outMi) mi.dispose();
    if (!options.outCov) cov.dispose();
    throw e;
  }
  return { mi, cov, shape, mode, bad: flag!, temps };
}

/**
 * Seed 004's `mutInfo_and_cov` for every pair: mutual information (bits) and covariance (ddof 1)
 * on the elements kept by the outlier rule, `[L, N, D]` → two `[L, N, N]` tensors (upper
 * triangle i < j by default, as the seed), or across groups with `other`. Pairs with fewer than
 * two kept elements give NaN. Records launches only.
 *
 * @example
 * ```ts
 * import { Gpu } from "../gpu/context.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * using gpu = await Gpu.create();
 * const x = new Float32Array(4 * 64).map((_, k) => Math.sin(k) * (1 + (k % 7)));
 * const { mi, cov } = pairwiseMiCov(Tensor.from(gpu, x, [4, 64]), { bins: 15, outlierZ: 5 });
 * const [m] = await gpu.read([mi.range]);
 * console.log(new Float32Array(m).slice(0, 16)); // row 0: [0, MI(0,1), MI(0,2), MI(0,3)], …
 * ```
 */
export function pairwiseMiCov(h: Tensor, options: MiCovGpuOptions = {}): {
  mi: Tensor;
  cov: Tensor;
} {
  const r = recordMiCov(h, options);
  for (const t of r.temps) t.dispose();
  return { mi: r.mi, cov: r.cov };
}

/**
 * Count NaN and Inf elements of a tensor on the GPU (one reduction, one readback) and throw
 * {@linkcode InvalidArgumentError} when there are any.
 */
export async function checkFinite(h: Tensor, what = "input"): Promise<void> {
  const s = stackOf(h.shape.length === 1 ? h.reshape([1, h.size]) : h, what);
  const st = recordStats(s, 0, zeros(h.gpu));
  const [buf] = await h.gpu.read([st.bad.range]);
  st.stats.dispose();
  st.bad.dispose();
  throwIfBad(new Uint32Array(buf)[0], what);
}

function throwIfBad(count: number, what: string): void {
  if (count > 0) {
    throw new InvalidArgumentError(
      `The ${what} holds ${count} NaN or infinite value${count === 1 ? "" : "s"}`,
      "Remove or replace non-finite values before computing pairwise statistics",
    );
  }
}

/** Options of {@linkcode computePairwise}. */
export interface ComputeOptions extends MiCovGpuOptions {
  /** Which statistic. */
  metric: PairwiseMetric;
}

/**
 * Compute one statistic, check the input for NaN/Inf on the GPU in the same submission, and
 * read the matrix back: `{ values: Float32Array, shape }` (`[L, N, M]` or `[N, M]`). For
 * `metric: "covariance"` with `outlierZ > 0` the seed's covariance of the kept elements is
 * returned (from the MI kernel); with `outlierZ: 0` it is the plain covariance.
 *
 * @throws {InvalidArgumentError} When the input holds NaN or Inf (checked on the GPU).
 */
export async function computePairwise(
  h: Tensor,
  options: ComputeOptions,
): Promise<{ values: Float32Array; shape: number[] }> {
  const gpu = h.gpu;
  const bad = zeros(gpu);
  let out: Tensor;
  let shape: number[];
  const release: { dispose(): void }[] = [bad];
  if (options.metric === "cosine") {
    const r = recordGram(0, h, { other: options.other, triangle: options.triangle }, bad);
    [out, shape] = [r.out, r.shape];
    release.push(...r.temps, out);
  } else if (options.metric === "covariance" && (options.outlierZ ?? 5) === 0) {
    const r = recordGram(1, h, { other: options.other, triangle: options.triangle }, bad);
    [out, shape] = [r.out, r.shape];
    release.push(...r.temps, out);
  } else if (options.metric === "mi" || options.metric === "covariance") {
    const r = recordMiCov(h, options, bad);
    out = options.metric === "mi" ? r.mi : r.cov;
    shape = r.shape;
    release.push(...r.temps, r.mi, r.cov);
  } else {
    throw new InvalidArgumentError(
      `Unknown metric "${(options as { metric: string }).metric}"`,
      'Use "cosine", "covariance" or "mi"',
    );
  }
  try {
    const [flag, data] = await gpu.read([bad.range, out.range]);
    throwIfBad(new Uint32Array(flag)[0], "input");
    return { values: new Float32Array(data, 0, out.size), shape };
  } finally {
    for (const t of release) t.dispose();
  }
}

/** Per-layer summary of the pair values (upper triangle for one stack, all pairs for two). */
export interface PairwiseSummary {
  /** Number of finite pair values. */
  count: number;
  /** Number of NaN / Inf pair values (pairs with fewer than 2 kept elements give NaN MI). */
  nonFinite: number;
  /** Mean of the finite values. */
  mean: number;
  /** Smallest finite value. */
  min: number;
  /** Largest finite value. */
  max: number;
  /** `np.histogram(values, bins=edges)` counts, `[edges.length - 1]`. */
  histogram: Uint32Array;
}

/** Options of {@linkcode summarizePairs} and {@linkcode pairwiseSummary}. */
export interface SummaryOptions {
  /** Increasing, finite histogram edges (numpy.histogram semantics), 2..1025 values. */
  edges: ArrayLike<number>;
}

function nextDown(x: number): number {
  const f = Math.fround(x);
  if (f <= x) return f;
  const b = new Float32Array([f]);
  const u = new Int32Array(b.buffer);
  if (f === 0) return -1.401298464324817e-45;
  u[0] += f > 0 ? -1 : 1;
  return b[0];
}

function nextUpF32(x: number): number {
  const f = Math.fround(x);
  if (f >= x) return f;
  return -nextDown(-x);
}

function checkEdges(edges: ArrayLike<number>): void {
  const n = edges.length;
  if (n < 2 || n > MAX_SUMMARY_BINS + 1) {
    throw new InvalidArgumentError(
      `Summary histograms take 2 to ${MAX_SUMMARY_BINS + 1} edges, got "${n}"`,
      "Pass bins + 1 increasing edges, e.g. linspace(0, 1.5, 101) as the seed",
    );
  }
  for (let i = 0; i < n; i++) {
    const e = edges[i];
    if (!Number.isFinite(e) || (i > 0 && e < edges[i - 1])) {
      throw new InvalidArgumentError(
        `Histogram edges must be finite and increasing, got "${e}" at index ${i}`,
        "Sort the edges in increasing order",
      );
    }
  }
}

/** Edges for the summary kernel: `[B + 2]`, edges rounded up to f32, then e_B rounded down. */
function edgesTensor(gpu: Gpu, edges: ArrayLike<number>): Tensor {
  checkEdges(edges);
  const n = edges.length;
  const up = new Float32Array(n + 1);
  for (let i = 0; i < n; i++) up[i] = nextUpF32(edges[i]);
  up[n] = nextDown(edges[n - 1]);
  return Tensor.from(gpu, up, [n + 1]);
}

/**
 * Something recorded on the GPU and not yet read: the buffer ranges that hold its results and
 * how to decode them. Record many, then read them all with one {@linkcode readRecorded} (one
 * submission, one map), then {@linkcode Recorded.dispose} each.
 */
export interface Recorded<R> {
  /** The buffer ranges to read back, in this order. */
  readonly ranges: readonly BufferRange[];
  /** Turn the buffers read back from `ranges` (same order) into the result. */
  decode(buffers: readonly ArrayBuffer[]): R;
  /** Release the GPU buffers this record owns (after the read). */
  dispose(): void;
}

/** The decoded results of a tuple of {@linkcode Recorded}s. */
export type DecodedAll<T extends readonly Recorded<unknown>[]> = {
  -readonly [K in keyof T]: T[K] extends Recorded<infer R> ? R : never;
};

/**
 * Submit everything recorded so far and read the results of many {@linkcode Recorded}s with
 * one `gpu.read` (one submission, one map). Does not dispose them.
 *
 * @example
 * ```ts
 * import { Gpu } from "../gpu/context.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * using gpu = await Gpu.create();
 * const h = Tensor.from(gpu, new Float32Array(2 * 8 * 32).map(Math.random), [2, 8, 32]);
 * const { mi, cov } = pairwiseMiCov(h);
 * const sMi = recordSummary(mi, { edges: [0, 0.5, 1, 1.5] });
 * const r = recordJointMoments(mi, cov);
 * const [layers, moments] = await readRecorded(gpu, [sMi, r] as const);
 * console.log(layers[0].mean, moments[0].r);
 * ```
 */
export async function readRecorded<T extends readonly Recorded<unknown>[]>(
  gpu: Gpu,
  items: T,
): Promise<DecodedAll<T>> {
  const bufs = await gpu.read(items.flatMap((it) => [...it.ranges]));
  let k = 0;
  return items.map((it) => {
    const part = bufs.slice(k, k + it.ranges.length);
    k += it.ranges.length;
    return it.decode(part);
  }) as DecodedAll<T>;
}

/**
 * A tensor as a {@linkcode Recorded}: its f32 values come back in a {@linkcode readRecorded}
 * with the rest. Disposing it releases nothing (the caller owns the tensor).
 */
export function recordedTensor(t: Tensor): Recorded<Float32Array> {
  if (t.dtype !== "f32") {
    throw new InvalidArgumentError(`recordedTensor() reads f32 tensors, got "${t.dtype}"`);
  }
  return {
    ranges: [t.range],
    decode: ([b]) => new Float32Array(b, 0, t.size),
    dispose() {},
  };
}

/** Layers `first .. first + count` of a pair-value tensor, bound for the summary kernels. */
interface PairLayers {
  layers: number;
  n: number;
  m: number;
  /**
   * One launch each (one workgroup per layer): layers `l0 .. l0 + count` relative to `first`,
   * bound from an aligned offset. More than one when the layers do not fit one storage binding
   * (or one launch's workgroups).
   */
  chunks: { l0: number; count: number; range: BufferRange; base: number }[];
}

function pairLayers(values: Tensor, what: string, first?: number, count?: number): PairLayers {
  const s = values.shape;
  if (s.length !== 2 && s.length !== 3) {
    throw new ShapeError(`${what} must be [N, M] or [L, N, M], got "${fmt(s)}"`, "");
  }
  if (values.dtype !== "f32") {
    throw new InvalidArgumentError(`${what} must hold f32 values, got "${values.dtype}"`);
  }
  const [L, N, M] = s.length === 3 ? s : [1, ...s];
  const f = first ?? 0;
  const c = count ?? L - f;
  if (!Number.isInteger(f) || !Number.isInteger(c) || f < 0 || c < 1 || f + c > L) {
    throw new InvalidArgumentError(
      `Layers "${f}..${f + c}" are outside the "${L}" layers of ${what}`,
      "Pass firstLayer >= 0 and layerCount >= 1 within the tensor's layers",
    );
  }
  if (N < 1 || M < 1) throw new ShapeError(`${what} "${fmt(s)}" holds no pairs`, "");
  const gpu = values.gpu;
  const caps = gpu.caps;
  const layerBytes = N * M * 4;
  const fitting = Math.floor(
    (caps.maxStorageBindingBytes - (caps.storageOffsetAlignment || 256)) / layerBytes,
  );
  // A single layer over the limit is left to the launch, which refuses it with a clear error.
  const step = Math.max(1, Math.min(c, caps.maxWorkgroupsPerDimension, fitting));
  const chunks: PairLayers["chunks"] = [];
  for (let l0 = 0; l0 < c; l0 += step) {
    const k = Math.min(step, c - l0);
    const firstByte = values.offset + (f + l0) * layerBytes;
    const range = bindRange(gpu, values, firstByte, firstByte + k * layerBytes);
    chunks.push({ l0, count: k, range, base: (firstByte - range.offset) / 4 });
  }
  return { layers: c, n: N, m: M, chunks };
}

/**
 * Record one launch per chunk of layers, each writing its own rows of the outputs `outs`
 * (`[layers, rowElems]` each): directly when there is one chunk, else into temporaries copied
 * into place (their offsets need not meet the storage offset alignment).
 */
function perChunk(
  P: PairLayers,
  outs: readonly { t: Tensor<"f32"> | Tensor<"u32">; rowBytes: number }[],
  launch: (chunk: PairLayers["chunks"][number], outRanges: BufferRange[]) => void,
): void {
  if (P.chunks.length === 1) {
    launch(P.chunks[0], outs.map((o) => o.t.range));
    return;
  }
  const gpu = outs[0].t.gpu;
  for (const ch of P.chunks) {
    const tmp = outs.map((o) => Tensor.empty(gpu, [ch.count * o.rowBytes / 4], o.t.dtype));
    launch(ch, tmp.map((t) => t.range));
    outs.forEach((o, i) => {
      const size = ch.count * o.rowBytes;
      gpu.copy(
        { buffer: tmp[i].buffer, offset: tmp[i].offset, size },
        { buffer: o.t.buffer, offset: o.t.offset + ch.l0 * o.rowBytes, size },
      );
    });
    // Launches recorded later run after these copies: the pooled buffers can go back now.
    for (const t of tmp) t.dispose();
  }
}

/** Options of {@linkcode recordSummary}. */
export interface RecordSummaryOptions {
  /**
   * Histogram edges: increasing finite numbers (numpy.histogram semantics, 2..1025 values), or
   * edges computed on the GPU by {@linkcode recordEdges}. Leave out for no histogram (count,
   * mean, min and max only).
   */
  edges?: ArrayLike<number> | RecordedEdges;
  /** Read only i < j (default: when the matrices are square). */
  upper?: boolean;
  /** First layer to summarise (default 0). */
  firstLayer?: number;
  /** Layers to summarise (default: all from `firstLayer` on). */
  layerCount?: number;
}

/** A per-layer summary recorded by {@linkcode recordSummary}. */
export interface RecordedSummary extends Recorded<PairwiseSummary[]> {
  /** Layers summarised (entries of the decoded array). */
  readonly layers: number;
  /** Histogram bins (0 without edges). */
  readonly bins: number;
  /**
   * Per-layer `(sum hi, sum lo, min, max)` on the GPU, `[layers, 4]` (min = +3.4e38 and max =
   * −3.4e38 for a layer without finite values): what {@linkcode recordEdges} reads.
   */
  readonly stats: Tensor;
}

function isRecordedEdges(e: ArrayLike<number> | RecordedEdges): e is RecordedEdges {
  return (e as RecordedEdges).tensor instanceof Tensor && "bins" in e;
}

/**
 * Record the per-layer summary of a pair-value tensor (`[L, N, M]` or `[N, M]`): finite count,
 * non-finite count, mean, min, max and an optional histogram, reduced on the GPU (one workgroup
 * per layer) without reading anything back. Read it with {@linkcode readRecorded} together with
 * everything else, then dispose it.
 */
export function recordSummary(values: Tensor, options: RecordSummaryOptions = {}): RecordedSummary {
  const gpu = values.gpu;
  const P = pairLayers(values, "Pair values", options.firstLayer, options.layerCount);
  const upper = options.upper ?? P.n === P.m;
  let e: Tensor | null = null;
  let edgeRange: BufferRange;
  let nb = 0;
  if (options.edges === undefined) edgeRange = scratchOf(gpu).zero.range;
  else if (isRecordedEdges(options.edges)) {
    if (options.edges.tensor.gpu !== gpu) {
      throw new InvalidArgumentError("The edges were recorded on another GPU context");
    }
    nb = options.edges.bins;
    edgeRange = options.edges.tensor.range;
  } else {
    e = edgesTensor(gpu, options.edges);
    nb = options.edges.length - 1;
    edgeRange = e.range;
  }
  const L = P.layers;
  const f = Tensor.empty(gpu, [L, 4]);
  const u = Tensor.empty(gpu, [L, nb + 2], "u32");
  perChunk(P, [{ t: f, rowBytes: 16 }, { t: u, rowBytes: 4 * (nb + 2) }], (ch, [fr, ur]) => {
    gpu.dispatch({
      kernel: SUMMARY,
      params: params(P.n, P.m, upper ? 1 : 0, nb, ch.base, 0), // 0: p.zero (exact_f32.wgsl)
      buffers: [ch.range, edgeRange, fr, ur],
      workgroups: [ch.count],
      bytes: 4 * ch.count * P.n * P.m,
    });
  });
  return {
    layers: L,
    bins: nb,
    stats: f,
    ranges: [f.range, u.range],
    decode: ([fb, ub]) => decodeSummaries(fb, ub, L, nb),
    dispose() {
      f.dispose();
      u.dispose();
      e?.dispose();
    },
  };
}

function decodeSummaries(fb: ArrayBuffer, ub: ArrayBuffer, layers: number, nb: number) {
  const fs = new Float32Array(fb, 0, 4 * layers);
  const us = new Uint32Array(ub, 0, layers * (nb + 2));
  const out: PairwiseSummary[] = [];
  for (let l = 0; l < layers; l++) {
    const count = us[l * (nb + 2)];
    const sum = fs[4 * l] + fs[4 * l + 1];
    out.push({
      count,
      nonFinite: us[l * (nb + 2) + 1],
      mean: count > 0 ? sum / count : NaN,
      min: count > 0 ? fs[4 * l + 2] : NaN,
      max: count > 0 ? fs[4 * l + 3] : NaN,
      histogram: us.slice(l * (nb + 2) + 2, (l + 1) * (nb + 2)),
    });
  }
  return out;
}

/** Layers of a recorded summary whose range {@linkcode recordEdges} takes. */
export interface EdgeSource {
  /** The summary. */
  summary: RecordedSummary;
  /** First of its layers (default 0). */
  firstLayer?: number;
  /** Number of its layers (default: all from `firstLayer` on). */
  layerCount?: number;
}

/** Histogram edges computed on the GPU by {@linkcode recordEdges}. */
export interface RecordedEdges extends Recorded<number[]> {
  /** Number of bins. */
  readonly bins: number;
  /** The edges on the GPU, `[bins + 2]` (the last entry is the summary kernel's closing edge). */
  readonly tensor: Tensor;
}

/**
 * Record equal-width histogram edges over the range of the finite values that recorded
 * summaries saw (their min and max), computed on the GPU: numpy's `histogram(values, bins)`
 * with an automatic range over the union of the sources (no finite value: `(0, 1)`; one value:
 * `(v - 0.5, v + 0.5)`). Pass the result as `edges` to {@linkcode recordSummary}; nothing is
 * read back. The edges are f32 (`lo + k * ((hi - lo) / bins)`, the last one `hi`) and decode to
 * exactly the values the histograms were counted with (within ~1e-7 relative of numpy's float64
 * `linspace`; a value within that distance of an edge may sit in the neighbouring bin compared
 * with numpy on float64 edges).
 */
export function recordEdges(
  sources: readonly (RecordedSummary | EdgeSource)[],
  bins: number,
): RecordedEdges {
  if (!Number.isInteger(bins) || bins < 1 || bins > MAX_SUMMARY_BINS) {
    throw new InvalidArgumentError(
      `bins must be an integer from 1 to ${MAX_SUMMARY_BINS}, got "${bins}"`,
    );
  }
  if (sources.length === 0) {
    throw new InvalidArgumentError("recordEdges() needs at least one summary", "");
  }
  const list = sources.map((s) => ("summary" in s ? s : { summary: s }));
  const gpu = list[0].summary.stats.gpu;
  let total = 0;
  const parts = list.map(({ summary, firstLayer, layerCount }) => {
    const f = firstLayer ?? 0;
    const c = layerCount ?? summary.layers - f;
    if (summary.stats.gpu !== gpu) {
      throw new InvalidArgumentError("The summaries were recorded on different GPU contexts");
    }
    if (!Number.isInteger(f) || !Number.isInteger(c) || f < 0 || c < 1 || f + c > summary.layers) {
      throw new InvalidArgumentError(
        `Layers "${f}..${f + c}" are outside the summary's "${summary.layers}" layers`,
      );
    }
    const at = total;
    total += c;
    return { summary, f, c, at };
  });
  const cat = Tensor.empty(gpu, [total, 4]);
  for (const { summary, f, c, at } of parts) {
    const st = summary.stats;
    gpu.copy(
      { buffer: st.buffer, offset: st.offset + 16 * f, size: 16 * c },
      { buffer: cat.buffer, offset: cat.offset + 16 * at, size: 16 * c },
    );
  }
  const out = Tensor.empty(gpu, [bins + 2]);
  gpu.dispatch({
    kernel: EDGES,
    params: params(total, bins),
    buffers: [cat.range, out.range],
    workgroups: [1],
  });
  // Launches recorded later run after this one: the pooled buffer can go back now.
  cat.dispose();
  return {
    bins,
    tensor: out,
    ranges: [{ buffer: out.buffer, offset: out.offset, size: 4 * (bins + 1) }],
    decode: ([b]) => Array.from(new Float32Array(b, 0, bins + 1)),
    dispose: () => out.dispose(),
  };
}

/**
 * Per-layer summaries of a pair-value tensor already on the GPU (`[L, N, M]` or `[N, M]`): per
 * layer the count, mean, min, max and a histogram over `edges`, reduced on the GPU. `upper: true`
 * reads only i < j (the seed's `triu_indices(N, 1)`). One readback; to combine several, use
 * {@linkcode recordSummary} and {@linkcode readRecorded}.
 */
export async function summarizePairs(
  values: Tensor,
  options: SummaryOptions & { upper?: boolean },
): Promise<PairwiseSummary[]> {
  const r = recordSummary(values, options);
  try {
    const [out] = await readRecorded(values.gpu, [r] as const);
    return out;
  } finally {
    r.dispose();
  }
}

/** Per-layer joint moments of two pair-value matrices (see {@linkcode recordJointMoments}). */
export interface JointMoments {
  /** Pairs where both values are finite. */
  count: number;
  /** Pairs with a NaN / Inf value in either matrix (left out). */
  nonFinite: number;
  /** Mean of x over the counted pairs (NaN without pairs). */
  meanX: number;
  /** Mean of y. */
  meanY: number;
  /** Variance of x (ddof 1; NaN with fewer than 2 pairs; exactly 0 when x is constant). */
  varX: number;
  /** Variance of y (ddof 1). */
  varY: number;
  /** Covariance of x and y (ddof 1). */
  cov: number;
  /**
   * Pearson correlation of x and y over the counted pairs, `np.corrcoef(x, y)[0, 1]` clipped to
   * [-1, 1]; NaN with fewer than 2 pairs or a constant x or y.
   */
  r: number;
}

/** Options of {@linkcode recordJointMoments}. */
export interface JointMomentsOptions {
  /** Read only i < j (default: when the matrices are square). */
  upper?: boolean;
  /** First layer (default 0). */
  firstLayer?: number;
  /** Layers (default: all from `firstLayer` on). */
  layerCount?: number;
}

/**
 * Record the per-layer joint moments of two pair-value matrices of the same shape (e.g. MI and
 * covariance, `[L, N, M]` or `[N, M]`) over the pairs where both are finite (i < j with
 * `upper`): count, means, variances, covariance and the Pearson r, reduced on the GPU without
 * reading anything back (a few dozen bytes per layer come back in {@linkcode readRecorded}).
 *
 * Precision: one workgroup per layer makes two passes: double-f32 sums give the means, then
 * double-f32 sums of the centred values, squares and products; the CPU finishes in float64.
 * The only roundings that matter are those of `x - mean` and of each product (relative 2^-24
 * per term), so r is within ~4 × 2^-24 ≈ 2.4e-7 of the float64 Pearson r of the same f32
 * values, whatever the number of pairs (tests: ≤ 1e-6 on random and fixture matrices).
 */
export function recordJointMoments(
  x: Tensor,
  y: Tensor,
  options: JointMomentsOptions = {},
): Recorded<JointMoments[]> {
  if (x.gpu !== y.gpu) {
    throw new InvalidArgumentError("The two matrices live on different GPU contexts");
  }
  if (fmt(x.shape) !== fmt(y.shape)) {
    throw new ShapeError(
      `Joint moments need two matrices of the same shape, got "${fmt(x.shape)}" and ` +
        `"${fmt(y.shape)}"`,
      "Pass e.g. the MI and covariance outputs of one pairwiseMiCov call",
    );
  }
  const gpu = x.gpu;
  const X = pairLayers(x, "The first matrix", options.firstLayer, options.layerCount);
  const Y = pairLayers(y, "The second matrix", options.firstLayer, options.layerCount);
  const upper = options.upper ?? X.n === X.m;
  const L = X.layers;
  const f = Tensor.empty(gpu, [L, 20]);
  const u = Tensor.empty(gpu, [L, 2], "u32");
  perChunk(X, [{ t: f, rowBytes: 80 }, { t: u, rowBytes: 8 }], (ch, [fr, ur]) => {
    const cy = Y.chunks.find((c) => c.l0 === ch.l0)!; // same shape: the same chunks
    gpu.dispatch({
      kernel: MOMENTS,
      params: params(X.n, X.m, upper ? 1 : 0, ch.base, cy.base, 0), // 0: p.zero (exact_f32.wgsl)
      buffers: [ch.range, cy.range, fr, ur],
      workgroups: [ch.count],
      bytes: 16 * ch.count * X.n * X.m,
    });
  });
  return {
    ranges: [f.range, u.range],
    decode: ([fb, ub]) => decodeMoments(fb, ub, L),
    dispose() {
      f.dispose();
      u.dispose();
    },
  };
}

function decodeMoments(fb: ArrayBuffer, ub: ArrayBuffer, layers: number): JointMoments[] {
  const f = new Float32Array(fb, 0, 20 * layers);
  const u = new Uint32Array(ub, 0, 2 * layers);
  const out: JointMoments[] = [];
  for (let l = 0; l < layers; l++) {
    const o = 20 * l;
    const n = u[2 * l];
    const dd = (k: number) => f[o + k] + f[o + k + 1]; // float64 sum of a double-f32 pair
    const [mx, my] = [f[o], f[o + 1]];
    const constX = f[o + 4] === f[o + 5], constY = f[o + 6] === f[o + 7];
    const sx = dd(8), sy = dd(10), sxx = dd(12), syy = dd(14), sxy = dd(16);
    const varX = n < 2 ? NaN : constX ? 0 : Math.max(0, sxx - (sx * sx) / n) / (n - 1);
    const varY = n < 2 ? NaN : constY ? 0 : Math.max(0, syy - (sy * sy) / n) / (n - 1);
    const cov = n < 2 ? NaN : constX || constY ? 0 : (sxy - (sx * sy) / n) / (n - 1);
    const r = varX > 0 && varY > 0 ? cov / Math.sqrt(varX * varY) : NaN;
    out.push({
      count: n,
      nonFinite: u[2 * l + 1],
      meanX: n > 0 ? mx + sx / n : NaN,
      meanY: n > 0 ? my + sy / n : NaN,
      varX,
      varY,
      cov,
      r: Number.isNaN(r) ? r : Math.min(1, Math.max(-1, r)),
    });
  }
  return out;
}

/**
 * Per-layer joint moments and Pearson r of two pair-value matrices, reduced on the GPU: one
 * readback of a few dozen bytes per layer (see {@linkcode recordJointMoments}).
 *
 * @example
 * ```ts
 * import { Gpu } from "../gpu/context.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * using gpu = await Gpu.create();
 * const h = Tensor.from(gpu, new Float32Array(3 * 10 * 64).map(Math.random), [3, 10, 64]);
 * const { mi, cov } = pairwiseMiCov(h);
 * const layers = await jointMoments(mi, cov); // upper triangle, like the seed
 * console.log(layers.map((m) => m.r));
 * ```
 */
export async function jointMoments(
  x: Tensor,
  y: Tensor,
  options: JointMomentsOptions = {},
): Promise<JointMoments[]> {
  const r = recordJointMoments(x, y, options);
  try {
    const [out] = await readRecorded(x.gpu, [r] as const);
    return out;
  } finally {
    r.dispose();
  }
}

/** Options of {@linkcode pairwiseSummary}. */
export interface PairwiseSummaryOptions extends SummaryOptions {
  /** Which statistic. */
  metric: PairwiseMetric;
  /** MI bins per axis (default 15). */
  bins?: number;
  /** Outlier z threshold for MI and the seed's covariance (default 5). */
  outlierZ?: number;
  /** Second group: summarise every (a_i, b_j) pair. */
  other?: Tensor;
}

/**
 * Compute a statistic for every layer and reduce it to per-layer summaries on the GPU, with the
 * NaN/Inf check of the input in the same submission: one readback of a few kilobytes. The
 * summary covers the upper triangle i < j for one stack and every pair for two groups. For
 * `"covariance"`, `outlierZ > 0` (default 5) summarises the seed's covariance of kept elements.
 *
 * @throws {InvalidArgumentError} When the input holds NaN or Inf (checked on the GPU).
 *
 * @example
 * ```ts
 * import { Gpu } from "../gpu/context.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * using gpu = await Gpu.create();
 * const h = Tensor.from(gpu, new Float32Array(2 * 8 * 32).map(Math.random), [2, 8, 32]);
 * const edges = Array.from({ length: 101 }, (_, k) => (1.5 * k) / 100);
 * const layers = await pairwiseSummary(h, { metric: "mi", edges });
 * console.log(layers[0].count, layers[0].mean); // 28 pairs per layer
 * ```
 */
export async function pairwiseSummary(
  h: Tensor,
  options: PairwiseSummaryOptions,
): Promise<PairwiseSummary[]> {
  const gpu = h.gpu;
  const bad = zeros(gpu);
  const release: { dispose(): void }[] = [bad];
  let vals: Tensor;
  let upper: boolean;
  const triangle = options.other ? undefined : "upper" as const;
  if (options.metric === "mi" || (options.metric === "covariance" && options.outlierZ !== 0)) {
    const r = recordMiCov(h, { ...options, triangle }, bad);
    vals = options.metric === "mi" ? r.mi : r.cov;
    upper = r.mode === 1;
    release.push(...r.temps, r.mi, r.cov);
  } else if (options.metric === "cosine" || options.metric === "covariance") {
    const r = recordGram(options.metric === "cosine" ? 0 : 1, h, {
      other: options.other,
      triangle,
    }, bad);
    [vals, upper] = [r.out, r.mode === 1];
    release.push(...r.temps, r.out);
  } else {
    throw new InvalidArgumentError(
      `Unknown metric "${options.metric}"`,
      'Use "cosine", "covariance" or "mi"',
    );
  }
  const r = recordSummary(vals, { edges: options.edges, upper });
  release.push(r);
  try {
    const [flag, fb, ub] = await gpu.read([bad.range, ...r.ranges]);
    throwIfBad(new Uint32Array(flag)[0], "input");
    return r.decode([fb, ub]);
  } finally {
    for (const t of release) t.dispose();
  }
}
