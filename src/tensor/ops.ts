/**
 * Tensor operations: each records one kernel launch (nothing runs until a flush or a readback).
 * Outputs are new pooled tensors unless an `out` tensor is given.
 * @module
 */

import { type Gpu, params } from "../gpu/context.ts";
import { InvalidArgumentError, ShapeError } from "../errors.ts";
import { attendFlashKernel, grid, KERNELS, MATMUL_KERNELS } from "./kernels.ts";
import { type DType, type Shape, Tensor } from "./tensor.ts";

/** Storage types of weight operands: f32, or IEEE half packed two per u32 (read as f32). */
export type WeightDType = "f32" | "f16";

function checkDType(t: Tensor<DType>, what: string, allowed: readonly DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new InvalidArgumentError(
      `${what} has dtype "${t.dtype}", expected ${allowed.map((d) => `"${d}"`).join(" or ")}`,
      'Upload activations and biases as f32 (Tensor.from); only weights may be "f16" ' +
        "(Tensor.fromF16)",
    );
  }
}

function same(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function fmt(s: Shape): string {
  return `[${s.join(", ")}]`;
}

function outOrNew(out: Tensor | undefined, like: Tensor, shape: Shape): Tensor {
  if (out) {
    if (out.size !== shape.reduce((a, b) => a * b, 1)) {
      throw new ShapeError(`Output has shape "${fmt(out.shape)}", expected "${fmt(shape)}"`);
    }
    return out;
  }
  return Tensor.empty(like.gpu, shape);
}

/** A matmul kernel variant (see {@linkcode MatmulOptions.variant}). */
export type MatmulVariant = "simple" | "ksplit" | "tiled" | "tiled_pf" | "auto";

/** Options for {@linkcode matmul}. */
export interface MatmulOptions {
  /** Bias [N] added to every row. */
  bias?: Tensor;
  /** Apply gelu_new after the bias (fused). */
  gelu?: boolean;
  /**
   * Add the result into `out` instead of overwriting it (`out = out + act(x @ w + bias)`): a
   * transformer block's residual add fused into its projection. Needs `out`; each element is
   * read and written once by the thread that computes it, so `out` must not alias `x` or `w`.
   */
  accumulate?: boolean;
  /** `w` is [N, K] (token-embedding layout, unembedding) instead of [K, N] (HF Conv1D). */
  transposeW?: boolean;
  /** Write into this tensor (row stride `outRowStride`, first column `outColumn`). */
  out?: Tensor;
  /** Row stride of `out` in elements (default N). */
  outRowStride?: number;
  /** First column of `out` written (default 0). */
  outColumn?: number;
  /**
   * Kernel variant: "simple" (no workgroup memory: on CPU adapters such as lavapipe a 32x4
   * register tile per thread with A rows shared by subgroupBroadcast and vec4 loads when the
   * shapes allow, else a 4x4 register tile), "ksplit" (the 4x4 register tiles with each
   * output's K terms split over 4 threads and summed in workgroup memory: small outputs on large
   * GPUs), "tiled" (128x128 workgroup tile, 8x8 per thread: large GPUs), "tiled_pf" (the same
   * tile, depth-16 tiles with the next tile's loads issued before the current one is
   * multiplied), or "auto" (default: on hardware adapters the tiled kernel
   * `gpu.tuning.matmulTiledKernel` when the output spans at least
   * `gpu.tuning.matmulTiledMinTiles` such tiles, 96 unless measured by `autotune()`, else
   * `gpu.tuning.matmulSmallKernel`; on CPU adapters simple).
   */
  variant?: MatmulVariant;
}

/**
 * `x @ w (+ bias)(, gelu)`: x [M, K], w [K, N] (or [N, K] with `transposeW`) → [M, N]. The weight
 * `w` may be "f16" (packed halves, {@linkcode Tensor.fromF16}): the same kernel variants read it
 * and widen each value to f32; x, bias, the output and all accumulation stay f32.
 *
 * @example
 * ```ts ignore
 * const y = matmul(x, w, { bias: b }); // x [M, K], w [K, N] → y [M, N]
 * ```
 */
export function matmul(
  x: Tensor,
  w: Tensor<WeightDType>,
  options: MatmulOptions = {},
): Tensor {
  checkDType(x, "The matmul input", ["f32"]);
  checkDType(w, "The matmul weight", ["f32", "f16"]);
  if (options.bias) checkDType(options.bias, "The matmul bias", ["f32"]);
  const K = x.shape[x.shape.length - 1];
  const M = x.size / Math.max(1, K);
  const [wr, wc] = [w.shape[0], w.shape[w.shape.length - 1]];
  const N = options.transposeW ? wr : wc;
  const wK = options.transposeW ? wc : wr;
  if (w.shape.length !== 2 || wK !== K) {
    throw new ShapeError(
      `Cannot multiply "${fmt(x.shape)}" by "${fmt(w.shape)}"${
        options.transposeW ? " (transposed)" : ""
      }`,
    );
  }
  if (options.bias && options.bias.size !== N) {
    throw new ShapeError(`Bias has "${options.bias.size}" elements, expected ${N}`);
  }
  const ldc = options.outRowStride ?? N;
  const col = options.outColumn ?? 0;
  let out: Tensor;
  if (options.out) {
    out = options.out;
    if (col + N > ldc || out.size < (M - 1) * ldc + col + N) {
      throw new ShapeError(`Output "${fmt(out.shape)}" cannot hold a [${M}, ${N}] block`);
    }
  } else out = Tensor.empty(x.gpu, [...x.shape.slice(0, -1), N]);
  if (options.out && [x, w, options.bias].some((t) => t?.buffer === options.out!.buffer)) {
    throw new InvalidArgumentError(
      "The matmul output shares a GPU buffer with its input, weight or bias",
      "Write into a separate tensor (one launch cannot read and write the same buffer)",
    );
  }
  if (options.accumulate && !options.out) {
    throw new InvalidArgumentError(
      "matmul({ accumulate: true }) adds into an existing output",
      "Pass the tensor to add into as `out`",
    );
  }
  // Nothing to write (and vec4 bindings need 16 bytes, more than an empty tensor's 4).
  if (M === 0 || N === 0) return out;
  const flags = (options.bias ? 1 : 0) | (options.gelu ? 2 : 0) | (options.accumulate ? 4 : 0);
  const variant = options.variant ?? x.gpu.matmulVariant;
  // 128x128 tiles only when there are enough of them to fill the GPU (gpu.tuning: 96 by the
  // rules, or the count measured by autotune()); small outputs (e.g. B1 x T128 projections: 18
  // tiles) keep more workgroups in flight with the 32x32 variant. Never on CPU adapters.
  const minTiles = x.gpu.tuning.matmulTiledMinTiles;
  const autoTiled = variant === "auto" && !x.gpu.caps.isFallbackAdapter && minTiles !== null &&
    Math.ceil(M / 128) * Math.ceil(N / 128) >= minTiles;
  const tiled = variant === "tiled" || variant === "tiled_pf" || autoTiled;
  const prefetch = variant === "tiled_pf" ||
    (autoTiled && x.gpu.tuning.matmulTiledKernel === "tiled_pf");
  // Rows of A and B are whole vec4s: K % 4 == 0, and N % 4 == 0 for [K, N] weights (then
  // ldb % 4 == 0 too, f16 rows included). The tiled kernels then read A and B as vec4s (one load
  // and one bounds check per 4 values; scalar loads otherwise). On CPU adapters (lavapipe) the
  // small-tile kernel then becomes matmul_subgroup.wgsl (vec4 loads along K, rows of A shared by
  // subgroupBroadcast: 5-10x faster there, docs/benchmarks.md) when subgroups have at least 8
  // lanes; other shapes keep matmul.wgsl (scalar loads, any shape).
  const caps = x.gpu.caps;
  const v4 = K > 0 && K % 4 === 0 && (options.transposeW || N % 4 === 0);
  const ksplit = variant === "ksplit" ||
    (variant === "auto" && !tiled && !caps.isFallbackAdapter &&
      x.gpu.tuning.matmulSmallKernel === "ksplit");
  const cpu = !tiled && !ksplit && caps.isFallbackAdapter && caps.subgroups &&
    caps.subgroupMinSize >= 8 && v4;
  const f16 = w.dtype === "f16";
  const family: keyof typeof MATMUL_KERNELS = tiled
    ? (prefetch ? (v4 ? "tiledPfV4" : "tiledPf") : (v4 ? "tiledV4" : "tiled"))
    : ksplit
    ? "ksplit"
    : cpu
    ? "subgroup"
    : "plain";
  const kernel = MATMUL_KERNELS[family][(options.transposeW ? 1 : 0) + (f16 ? 2 : 0)];
  const tile = tiled ? 128 : 32;
  // B's row stride in elements: packed f16 rows are padded to an even length
  const wRow = options.transposeW ? K : N;
  const ldb = f16 ? wRow + (wRow % 2) : wRow;
  x.gpu.dispatch({
    kernel,
    params: params(M, N, K, K, ldb, ldc, col, flags),
    buffers: [x.range, w.range, (options.bias ?? w).range, out.range],
    // matmul_subgroup: 32 rows x 64 columns per workgroup, rows fastest
    workgroups: cpu
      ? [Math.ceil(M / 32), Math.ceil(N / 64)]
      : [Math.ceil(N / tile), Math.ceil(M / tile)],
    flops: 2 * M * N * K,
    bytes: 4 * (M * K + M * N * (options.accumulate ? 2 : 1)) + w.bytes,
  });
  return out;
}

/**
 * How the row reductions of {@linkcode layerNorm}, {@linkcode logSoftmax} and
 * {@linkcode tokenStats} are done: "workgroup" (a tree through workgroup memory, a barrier per
 * step: works everywhere), "subgroup" (subgroupAdd/subgroupMax, then one combine of the
 * per-subgroup partials: needs the "subgroups" device feature), or "auto" (subgroup when the
 * device has the feature with subgroups of at least 4 invocations, else workgroup).
 */
export type ReductionVariant = "workgroup" | "subgroup" | "auto";

const reductionVariants = new WeakMap<Gpu, ReductionVariant>();

/**
 * Force a reduction kernel variant for every later launch on this context ("auto", the default,
 * picks per device): for tests and benchmarks of a variant. Forcing "subgroup" on a device
 * without the "subgroups" feature throws.
 *
 * @example
 * ```ts ignore
 * setReductionVariant(gpu, "workgroup"); // the fallback kernels, as on adapters without subgroups
 * ```
 */
export function setReductionVariant(gpu: Gpu, variant: ReductionVariant): void {
  if (variant === "subgroup" && !gpu.caps.subgroups) {
    throw new InvalidArgumentError(
      `This device (${gpu.caps.description}) has no subgroup operations`,
      'Use the "workgroup" or "auto" reduction variant',
    );
  }
  reductionVariants.set(gpu, variant);
}

/** The reduction variant forced on this context ("auto" unless {@linkcode setReductionVariant}). */
export function getReductionVariant(gpu: Gpu): ReductionVariant {
  return reductionVariants.get(gpu) ?? "auto";
}

/** Whether reductions on this context use the subgroup kernels (resolves "auto"). */
export function usesSubgroupReductions(gpu: Gpu): boolean {
  const v = getReductionVariant(gpu);
  if (v !== "auto") return v === "subgroup";
  const min = gpu.caps.subgroupMinSize;
  // The kernels keep 256 / 4 per-subgroup partials: WebGPU's smallest subgroup size is 4.
  return gpu.caps.subgroups && (min === 0 || min >= 4);
}

/**
 * Widest rows the subgroup-per-row layer norm (kernels/layernorm_rows.wgsl) takes; wider rows use
 * a workgroup per row (layernorm_sg.wgsl), whose 256 invocations then have work.
 */
const LAYER_NORM_ROWS_MAX_D = 8192;

/**
 * Layer norm over the last dimension: x [..., D], g [D], b [D] → [..., D]. With subgroups, one
 * subgroup per row (D <= 8192); else a workgroup per row.
 */
export function layerNorm(
  x: Tensor,
  g: Tensor,
  b: Tensor,
  options: { eps?: number; out?: Tensor } = {},
): Tensor {
  const D = x.shape[x.shape.length - 1];
  if (g.size !== D || b.size !== D) {
    throw new ShapeError(`Layer norm of width ${D} got weights of "${g.size}" and "${b.size}"`);
  }
  const rows = x.size / D;
  const out = outOrNew(options.out, x, x.shape);
  const gpu = x.gpu;
  const eps = { f: options.eps ?? 1e-5 };
  if (usesSubgroupReductions(gpu) && D <= LAYER_NORM_ROWS_MAX_D) {
    // One subgroup per row, 64 / (largest subgroup size) rows per workgroup of 64.
    const rpw = Math.max(1, Math.floor(64 / (gpu.caps.subgroupMaxSize || 64)));
    const [nx, ny] = grid(Math.ceil(rows / rpw), gpu.caps.maxWorkgroupsPerDimension);
    gpu.dispatch({
      kernel: KERNELS.layerNormRows,
      params: params(rows, D, nx, eps, rpw),
      buffers: [x.range, g.range, b.range, out.range],
      workgroups: [nx, ny],
      flops: 8 * x.size,
      bytes: 8 * x.size,
    });
    return out;
  }
  const [nx, ny] = grid(rows, gpu.caps.maxWorkgroupsPerDimension);
  x.gpu.dispatch({
    kernel: usesSubgroupReductions(x.gpu) ? KERNELS.layerNormSg : KERNELS.layerNorm,
    params: params(rows, D, nx, eps),
    buffers: [x.range, g.range, b.range, out.range],
    workgroups: [nx, ny],
    flops: 8 * x.size,
    bytes: 8 * x.size,
  });
  return out;
}

function flat(x: Tensor): [number, number] {
  return grid(Math.ceil(x.size / 256), x.gpu.caps.maxWorkgroupsPerDimension);
}

/** `a + b`, where b is a or broadcast over the leading dimensions of a (b's size divides a's). */
export function add(a: Tensor, b: Tensor, out?: Tensor): Tensor {
  if (b.size === 0 || a.size % b.size !== 0 || !same(a.shape.slice(-b.shape.length), b.shape)) {
    throw new ShapeError(`Cannot add "${fmt(b.shape)}" to "${fmt(a.shape)}"`);
  }
  const o = outOrNew(out, a, a.shape);
  const [nx, ny] = flat(a);
  a.gpu.dispatch({
    kernel: KERNELS.add,
    params: params(a.size, b.size, nx, 0),
    buffers: [a.range, b.range, o.range],
    workgroups: [nx, ny],
    flops: a.size,
    bytes: 12 * a.size,
  });
  return o;
}

/** `alpha * x`. */
export function scale(x: Tensor, alpha: number, out?: Tensor): Tensor {
  const o = outOrNew(out, x, x.shape);
  const [nx, ny] = flat(x);
  x.gpu.dispatch({
    kernel: KERNELS.scale,
    params: params(x.size, x.size, nx, { f: alpha }),
    buffers: [x.range, o.range],
    workgroups: [nx, ny],
    flops: x.size,
    bytes: 8 * x.size,
  });
  return o;
}

/** gelu_new (GPT-2's tanh approximation), elementwise. */
export function gelu(x: Tensor, out?: Tensor): Tensor {
  const o = outOrNew(out, x, x.shape);
  const [nx, ny] = flat(x);
  x.gpu.dispatch({
    kernel: KERNELS.gelu,
    params: params(x.size, x.size, nx, { f: 0 }),
    buffers: [x.range, o.range],
    workgroups: [nx, ny],
    flops: 10 * x.size,
    bytes: 8 * x.size,
  });
  return o;
}

/** Options for {@linkcode attention}. */
export interface AttentionOptions {
  /** Number of heads. */
  heads: number;
  /** Score scale (default 1 / sqrt(head size)). */
  scale?: number;
  /** Write the attention probabilities here ([B, H, T, T]). */
  pattern?: Tensor;
  /** Output z [B, T, D]. */
  out?: Tensor;
  /**
   * Kernel variant: "row" (one workgroup per query row, scores in workgroup memory: the only one
   * that writes a pattern), "flash" (64 queries per workgroup, K/V tiles in workgroup memory,
   * online softmax, no T x T pattern: z only), or "auto" (default, when no pattern is asked
   * for: flash from `gpu.tuning.attentionFlashMinT` positions, by the rules every length on CPU
   * adapters such as lavapipe and T >= 64 on hardware ones). Flash needs a head size that is a
   * multiple of 4 and at most 128; otherwise, and whenever a pattern is asked for, the row kernel
   * runs.
   * Default: the context's `attentionVariant`.
   */
  variant?: "row" | "flash" | "auto";
}

/**
 * Causal multi-head attention from the fused projection qkv [B, T, 3D] → z [B, T, D]
 * (heads concatenated), optionally writing the probabilities [B, H, T, T].
 */
export function attention(qkv: Tensor, options: AttentionOptions): Tensor {
  if (qkv.shape.length !== 3 || qkv.shape[2] % 3 !== 0) {
    throw new ShapeError(`Attention expects qkv [B, T, 3D], got "${fmt(qkv.shape)}"`);
  }
  const [B, T, D3] = qkv.shape;
  const D = D3 / 3;
  const H = options.heads;
  if (D % H !== 0) throw new ShapeError(`Width ${D} is not divisible by ${H} heads`);
  if (T > 1024) {
    throw new InvalidArgumentError(
      `Attention supports at most 1024 positions, got "${T}"`,
      "Use a shorter text or a sliding window",
    );
  }
  const dh = D / H;
  const z = outOrNew(options.out, qkv, [B, T, D]);
  if (options.pattern && options.pattern.size !== B * H * T * T) {
    throw new ShapeError(
      `Pattern has shape "${fmt(options.pattern.shape)}", expected [B, H, T, T]`,
    );
  }
  const scaleQK = options.scale ?? 1 / Math.sqrt(dh);
  const variant = options.variant ?? qkv.gpu.attentionVariant;
  // From gpu.tuning.attentionFlashMinT positions: by the rules every length on CPU adapters
  // (lavapipe: 2.2-3.7x faster at every shape, docs/benchmarks.md) and from T 64 (one full query
  // block) on hardware ones, or the length measured by autotune().
  const minT = qkv.gpu.tuning.attentionFlashMinT;
  const flash = !options.pattern && dh % 4 === 0 && dh <= 128 &&
    (variant === "flash" || (variant === "auto" && minT !== null && T >= minT));
  if (flash) {
    const dh4 = dh / 4;
    qkv.gpu.dispatch({
      // BK keys per tile: K and V tiles of 512 vec4 each (16 KiB), at most 64 keys
      kernel: {
        ...attendFlashKernel(dh4),
        constants: { DH4: dh4, BK: Math.min(64, 512 / dh4 | 0) },
      },
      params: params(T, H, dh, D, { f: scaleQK }, 0),
      buffers: [qkv.range, z.range],
      workgroups: [Math.ceil(T / 64), H, B],
      flops: 2 * B * H * T * T * dh,
      bytes: 4 * (B * T * 3 * D + B * T * D),
    });
    return z;
  }
  const pattern = options.pattern ?? z;
  qkv.gpu.dispatch({
    kernel: KERNELS.attend,
    params: params(T, H, dh, D, { f: scaleQK }, options.pattern ? 1 : 0),
    buffers: [qkv.range, pattern.range, z.range],
    workgroups: [T, H, B],
    flops: 2 * B * H * T * T * dh,
    bytes: 4 * (B * T * 3 * D + B * T * D + (options.pattern ? B * H * T * T : 0)),
  });
  return z;
}

/** z [B, T, D] from attention probabilities [B, H, T, T] and the values in qkv [B, T, 3D]. */
export function attentionFromPattern(
  qkv: Tensor,
  pattern: Tensor,
  options: { heads: number; out?: Tensor },
): Tensor {
  const [B, T, D3] = qkv.shape;
  const D = D3 / 3;
  const H = options.heads;
  const z = outOrNew(options.out, qkv, [B, T, D]);
  qkv.gpu.dispatch({
    kernel: KERNELS.zFromPattern,
    params: params(T, H, D / H, D, { f: 1 }, 0),
    buffers: [qkv.range, pattern.range, z.range],
    workgroups: [T, H, B],
    flops: B * H * T * T * (D / H),
    bytes: 4 * (B * T * 4 * D + B * H * T * T),
  });
  return z;
}

/**
 * Token-embedding gather: out [R, D] gets table[ids[r]] for ids [R] (u32). `chunks` are row
 * ranges [rows, D] of the table, each bound separately (an embedding can exceed one storage
 * binding); a table may be "f16" (packed halves, widened to f32 in out).
 */
export function embed(
  ids: Tensor<"u32">,
  chunks: { table: Tensor<WeightDType>; row0: number }[],
  out: Tensor,
): Tensor {
  const D = out.shape[out.shape.length - 1];
  const n = ids.size * D;
  const [nx, ny] = grid(Math.ceil(n / 256), ids.gpu.caps.maxWorkgroupsPerDimension);
  for (const { table, row0 } of chunks) {
    checkDType(table, "The embedding table", ["f32", "f16"]);
    if (table.shape[table.shape.length - 1] !== D) {
      throw new ShapeError(
        `Embedding table "${fmt(table.shape)}" has rows of another width than the output ` +
          `"${fmt(out.shape)}"`,
      );
    }
    ids.gpu.dispatch({
      kernel: table.dtype === "f16" ? KERNELS.embedF16 : KERNELS.embed,
      params: params(n, D, row0, table.shape[0], nx),
      buffers: [ids.range, table.range, out.range],
      workgroups: [nx, ny],
      bytes: (table.dtype === "f16" ? 6 : 8) * n,
    });
  }
  return out;
}

/**
 * Keep the rows of chosen positions: x [B, T, D], positions [P] (u32) → out[offset ...] as
 * [B, P, D] starting at element `outOffset` of `out`.
 */
export function gatherPositions(
  x: Tensor,
  positions: Tensor<"u32">,
  out: Tensor,
  outOffset = 0,
): void {
  const [B, T, D] = x.shape;
  const P = positions.size;
  const n = B * P * D;
  if (outOffset + n > out.size) {
    throw new ShapeError(`Output of ${out.size} elements cannot hold ${n} at ${outOffset}`);
  }
  const [nx, ny] = grid(Math.ceil(n / 256), x.gpu.caps.maxWorkgroupsPerDimension);
  x.gpu.dispatch({
    kernel: KERNELS.gatherPositions,
    params: params(n, D, 0, 0, T, P, outOffset, nx),
    buffers: [positions.range, x.range, out.range],
    workgroups: [nx, ny],
    bytes: 8 * n,
  });
}

/** Options for {@linkcode logSoftmax}. */
export interface SoftmaxOptions {
  /** Divide logits by this first (default 1). */
  temperature?: number;
  /** Write probabilities instead of log-probabilities. */
  probabilities?: boolean;
  /** Output [R, V]. */
  out?: Tensor;
}

function checkTemperature(t: number): void {
  if (!(t > 0) || !Number.isFinite(t)) {
    throw new InvalidArgumentError(
      `Temperature must be a positive number, got "${t}"`,
      "Use a temperature such as 0.5, 1 or 2",
    );
  }
}

/** Row-wise stable log-softmax (or softmax) over the last dimension: x [..., V] → [..., V]. */
export function logSoftmax(x: Tensor, options: SoftmaxOptions = {}): Tensor {
  const t = options.temperature ?? 1;
  checkTemperature(t);
  const V = x.shape[x.shape.length - 1];
  const rows = x.size / V;
  const out = outOrNew(options.out, x, x.shape);
  const [nx, ny] = grid(rows, x.gpu.caps.maxWorkgroupsPerDimension);
  x.gpu.dispatch({
    kernel: usesSubgroupReductions(x.gpu) ? KERNELS.logSoftmaxSg : KERNELS.logSoftmax,
    params: params(rows, V, nx, options.probabilities ? 1 : 0, { f: 1 / t }),
    buffers: [x.range, x.range, out.range],
    workgroups: [nx, ny],
    flops: 5 * x.size,
    bytes: 12 * x.size,
  });
  return out;
}

/**
 * Per-row next-token statistics: logits [R, V], targets [R] (u32; >= V for none) →
 * [R, 5] = (log p(target), rank (1 = top, 0 = no target), entropy (nats), max, logsumexp),
 * all at the given temperature. Writes into `out` at row `outRow` when given; row r uses
 * `targets[targetRow + r]`.
 */
export function tokenStats(
  logits: Tensor,
  targets: Tensor<"u32">,
  options: { temperature?: number; out?: Tensor; outRow?: number; targetRow?: number } = {},
): Tensor {
  const t = options.temperature ?? 1;
  checkTemperature(t);
  const V = logits.shape[logits.shape.length - 1];
  const rows = logits.size / V;
  const targetRow = options.targetRow ?? 0;
  if (targets.size < targetRow + rows) {
    throw new ShapeError(`Token stats of ${rows} rows got "${targets.size}" targets`);
  }
  const outRow = options.outRow ?? 0;
  const out = options.out ?? Tensor.empty(logits.gpu, [rows, 5]);
  if (out.size < (outRow + rows) * 5) {
    throw new ShapeError(
      `Token stats output "${fmt(out.shape)}" cannot hold rows ${outRow}+${rows}`,
    );
  }
  const [nx, ny] = grid(rows, logits.gpu.caps.maxWorkgroupsPerDimension);
  logits.gpu.dispatch({
    kernel: usesSubgroupReductions(logits.gpu) ? KERNELS.tokenStatsSg : KERNELS.tokenStats,
    params: params(rows, V, nx, 0, { f: 1 / t }, outRow, targetRow),
    buffers: [logits.range, targets.range, out.range],
    workgroups: [nx, ny],
    flops: 6 * logits.size,
    bytes: 8 * logits.size,
  });
  return out;
}
