/**
 * The launches of seed 004's MI + covariance for one chunk of layers: the direct kernel (every
 * pair bins its own kept elements, kernels/pairwise_micov.wgsl) and the prebinned path (bins,
 * keep-masks and extremes once per vector, kernels/pairwise_mi_prep.wgsl; joint histograms of
 * pairs as popcounts of ANDed bin masks, kernels/pairwise_mi_fast.wgsl; the pairs whose kept
 * range is not their vectors' own, listed on the GPU and finished by the direct kernel in an
 * indirect launch). Both give the same histograms; MI and covariance agree to f32 rounding.
 * @module
 */

import { type BufferRange, type Gpu, type Kernel, params } from "../gpu/context.ts";
import { grid } from "../tensor/kernels.ts";
import { Tensor } from "../tensor/tensor.ts";
import exactSrc from "../../kernels/exact_f32.wgsl" with { type: "text" };
import binsOnlySrc from "../../kernels/pairwise_bins.wgsl" with { type: "text" };
import micovSrc from "../../kernels/pairwise_micov.wgsl" with { type: "text" };
import prepSrc from "../../kernels/pairwise_mi_prep.wgsl" with { type: "text" };
import fastSrc from "../../kernels/pairwise_mi_fast.wgsl" with { type: "text" };
import argsSrc from "../../kernels/pairwise_mi_args.wgsl" with { type: "text" };

/** How the MI histograms are counted; see {@linkcode MiChunk}. */
export type MiAlgorithm = "prebinned" | "direct";

/** Threads per workgroup of the prebinned kernel at most (the spec's minimum limit). */
const FAST_THREADS = 256;
/** Row width of the indirect launch over the listed pairs. */
const LISTED_NX = 32768;

/** Bin edges and the error-free f32 helpers they use (both need `p.zero`, always 0). */
const binsSrc = exactSrc + binsOnlySrc;

const PREP: Kernel = { name: "pairwise_mi_prep", code: binsSrc + prepSrc };
const ARGS: Kernel = { name: "pairwise_mi_args", code: argsSrc };

function directKernel(bins: number): Kernel {
  const size = Math.ceil((bins * bins) / 64) * 64;
  return {
    name: `pairwise_micov_h${size}`,
    code: binsSrc + micovSrc.replaceAll("HIST_SIZE", String(size)),
  };
}

/** Pairs per workgroup of the prebinned kernel (`bins` threads each) for `bins` per axis. */
export function fastPairs(bins: number): number {
  return Math.max(1, Math.min(32, Math.floor(FAST_THREADS / bins)));
}

/**
 * The histogram row of pairwise_mi_fast.wgsl, unrolled over the `bins` y-bins with one named
 * vec4 counter each (h0, h1, ...): H[a][b] = popcounts of x-bin a AND y-bin b over the words,
 * then e += tab[H[a][b]] (for counts > 1) and rsum = the row's sum.
 */
export function histRowCode(bins: number): string {
  const b = Array.from({ length: bins }, (_, i) => i);
  return [
    ...b.map((i) => `var h${i} = vec4<u32>(0u);`),
    "for (var q = 0u; q < w4; q = q + 1u) {",
    "  let xw = prepa[x4 + q];",
    ...b.map((i) => `  h${i} = h${i} + countOneBits(xw & prepb[y4 + ${i}u * w4 + q]);`),
    "}",
    "var rsum = 0u;",
    ...b.map((i) =>
      `{ let c = sum4(h${i}); if (c > 1u) { e = dd_add(e, tab[c]); } rsum = rsum + c; }`
    ),
  ].join("\n    ");
}

function fastKernel(bins: number): Kernel {
  return {
    name: `pairwise_mi_fast_b${bins}`,
    code: binsSrc +
      fastSrc.replace("/* HIST_ROW_CODE */", histRowCode(bins))
        .replaceAll("PAIRS", String(fastPairs(bins))).replaceAll("BINS", String(bins)),
  };
}

/** Words per mask of `d` elements in the prebinned path: a multiple of 4 (vec4 loads). */
function maskWords(d: number): number {
  return Math.ceil(d / 128) * 4;
}

/** u32 words per vector of the prebinned path's per-vector buffer (info, keep-mask, bin masks). */
export function prepWords(d: number, bins: number): number {
  return 4 + maskWords(d) * (1 + bins);
}

/** One stack of a chunk as the kernels address it. */
export interface MiStack {
  /** Vectors per layer. */
  n: number;
  layerStride: number;
  vecStride: number;
  /** Element offset of vector 0 inside `range`. */
  base: number;
  range: BufferRange;
  /** Per-vector (mean, std, norm, z-limit), `[layers * n, 4]`. */
  stats: Tensor;
}

/** One launch's worth of MI + covariance: `layers` layers of both stacks and of the outputs. */
export interface MiChunk {
  a: MiStack;
  /** The second stack, or `a` itself for pairs within one stack. */
  b: MiStack;
  layers: number;
  d: number;
  bins: number;
  /** 0: every (i, j); 1: i < j, the rest 0; 2: i <= j, mirrored. */
  mode: number;
  /** c * log2(c) table, kernels/pairwise_micov.wgsl. */
  table: Tensor;
  mi: BufferRange;
  cov: BufferRange;
  /** Element offset of the chunk's first value inside `mi` and `cov`. */
  outBase: number;
  /** A 16-byte range of zeros to clear the pair list from (a recorded copy). */
  zero: BufferRange;
  /** A u32 range the direct launch binds as its (unused) list. */
  sink: BufferRange;
  algorithm: MiAlgorithm;
}

/** Record one chunk's launches; returns the temporaries to dispose once recorded. */
export function recordMiChunk(gpu: Gpu, c: MiChunk): { dispose(): void }[] {
  const { a, b, layers, d, bins, mode } = c;
  const W = layers * a.n * b.n;
  const direct = (nx: number, listed: number) =>
    params(
      a.n,
      b.n,
      layers,
      d,
      a.layerStride,
      a.vecStride,
      a.base,
      b.layerStride,
      b.vecStride,
      b.base,
      bins,
      mode,
      nx,
      c.outBase,
      listed,
      0, // zero (kernels/exact_f32.wgsl)
    );
  const common = [a.range, b.range, a.stats.range, b.stats.range, c.table.range, c.mi, c.cov];
  // A layer's bin masks can outgrow one binding where its vectors do not (many bins, small D):
  // such a chunk takes the direct kernel, which needs no per-vector buffer.
  const limit = gpu.caps.maxStorageBindingBytes;
  const prepFits = layers * Math.max(a.n, b.n) * prepWords(d, bins) * 4 <= limit;
  if (c.algorithm === "direct" || !prepFits) {
    const [nx, ny] = grid(W, gpu.caps.maxWorkgroupsPerDimension);
    gpu.dispatch({
      kernel: directKernel(bins),
      params: direct(nx, 0),
      buffers: [...common, c.sink],
      workgroups: [nx, ny],
      flops: 12 * W * d,
      bytes: 16 * W * d,
    });
    return [];
  }
  const mw = maskWords(d);
  const temps: Tensor<"u32">[] = [];
  const temp = (words: number) => {
    const t = Tensor.empty(gpu, [words], "u32");
    temps.push(t);
    return t;
  };
  try {
    const prepOf = (s: MiStack) => {
      const V = layers * s.n;
      const prep = temp(V * prepWords(d, bins));
      const [nx, ny] = grid(V, gpu.caps.maxWorkgroupsPerDimension);
      gpu.dispatch({
        kernel: PREP,
        params: params(s.n, layers, d, s.layerStride, s.vecStride, s.base, nx, bins, mw, 0),
        buffers: [s.range, s.stats.range, prep.range],
        workgroups: [nx, ny],
        flops: 20 * V * d,
        bytes: 9 * V * d,
      });
      return prep;
    };
    const pa = prepOf(a);
    const pb = b === a ? pa : prepOf(b);
    const list = temp(4 + W);
    gpu.copy(c.zero, { buffer: list.buffer, offset: list.offset, size: 16 });
    const pairs = fastPairs(bins);
    const jbs = Math.ceil(b.n / pairs);
    const G = layers * a.n * jbs;
    const [nx, ny] = grid(G, gpu.caps.maxWorkgroupsPerDimension);
    gpu.dispatch({
      kernel: fastKernel(bins),
      params: params(
        a.n,
        b.n,
        layers,
        d,
        a.layerStride,
        a.vecStride,
        a.base,
        b.layerStride,
        b.vecStride,
        b.base,
        bins,
        mode,
        nx,
        c.outBase,
        jbs,
        mw,
        0,
      ),
      buffers: [a.range, b.range, pa.range, pb.range, c.table.range, c.mi, c.cov, list.range],
      workgroups: [nx, ny],
      flops: 4 * W * d,
      bytes: (bins * bins * W * d) / 4,
    });
    const args = temp(4);
    gpu.dispatch({
      kernel: ARGS,
      params: params(LISTED_NX),
      buffers: [list.range, args.range],
      workgroups: [1],
    });
    gpu.dispatch({
      kernel: directKernel(bins),
      params: direct(LISTED_NX, 1),
      buffers: [...common, list.range],
      workgroups: [0],
      indirect: args.range,
    });
    return temps;
  } catch (e) {
    for (const t of temps) t.dispose();
    throw e;
  }
}
