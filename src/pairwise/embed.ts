/**
 * The pairwise kernels for apps that bring their own WebGPU device and buffers.
 * @module
 */

import { Gpu } from "../gpu/context.ts";
import { InvalidArgumentError, ShapeError } from "../errors.ts";
import { Tensor } from "../tensor/tensor.ts";
import {
  checkFinite,
  type MiCovGpuOptions,
  pairwiseCosine,
  pairwiseCovariance,
  pairwiseMiCov,
  type PairwiseSummary,
  pairwiseSummary,
  type PairwiseSummaryOptions,
  type Triangle,
} from "./pairwise.ts";

/** A caller's GPU buffer holding a stack of f32 vectors `[L, N, D]` or `[N, D]`, row-major. */
export interface GpuStack {
  /** The buffer (usage STORAGE; COPY_SRC too if you read results through laminar). */
  buffer: GPUBuffer;
  /** `[L, N, D]` or `[N, D]`. */
  shape: readonly number[];
  /** Byte offset of the first element (default 0; a multiple of 4). */
  offset?: number;
}

/** Options of the embedding functions. */
export interface EmbedOptions {
  /** Second group `[L, M, D]` / `[M, D]`: pairs across the two groups. */
  other?: GpuStack;
  /** One stack: `"upper"` (i < j, rest 0) or `"full"`. */
  triangle?: Triangle;
  /**
   * Count NaN/Inf in the inputs on the GPU and throw InvalidArgumentError (costs one readback;
   * default true).
   */
  validate?: boolean;
}

/** The functions returned by {@linkcode createPairwise}. */
export interface PairwiseKernels {
  /** The laminar context wrapping the device (to mix with other laminar operations). */
  readonly gpu: Gpu;
  /**
   * Cosine matrices into `out` (a new STORAGE | COPY_SRC buffer owned by the caller when not
   * given): `[L, N, M]` f32. Resolves once the work is submitted (and validated).
   */
  cosine(input: GpuStack, options?: EmbedOptions & { out?: GPUBuffer }): Promise<GPUBuffer>;
  /** Covariance (ddof 1, all elements) matrices, as {@linkcode PairwiseKernels.cosine}. */
  covariance(input: GpuStack, options?: EmbedOptions & { out?: GPUBuffer }): Promise<GPUBuffer>;
  /** Seed 004 MI and covariance matrices (upper triangle by default). */
  miCov(
    input: GpuStack,
    options?: EmbedOptions & Omit<MiCovGpuOptions, "other" | "outMi" | "outCov"> & {
      outMi?: GPUBuffer;
      outCov?: GPUBuffer;
    },
  ): Promise<{ mi: GPUBuffer; cov: GPUBuffer }>;
  /** Per-layer summaries reduced on the GPU (always validated: it reads back anyway). */
  summary(
    input: GpuStack,
    options: Omit<PairwiseSummaryOptions, "other"> & { other?: GpuStack },
  ): Promise<PairwiseSummary[]>;
  /** Release laminar's pooled buffers and pipelines (the device stays the caller's). */
  dispose(): void;
}

/**
 * Pairwise statistics on a caller-provided GPUDevice and GPUBuffers. Each call records its
 * launches into one command buffer and submits it; results land in caller buffers (or new
 * buffers the caller owns and destroys).
 *
 * @example
 * ```ts
 * import { createPairwise } from "../kernels.ts";
 * const adapter = await navigator.gpu.requestAdapter();
 * const device = await adapter!.requestDevice();
 * const data = new Float32Array(3 * 10 * 64).map(() => Math.random() - 0.5); // [L=3, N=10, D=64]
 * const input = device.createBuffer({
 *   size: data.byteLength,
 *   usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
 * });
 * device.queue.writeBuffer(input, 0, data);
 * const pw = createPairwise(device);
 * const cos = await pw.cosine({ buffer: input, shape: [3, 10, 64] }); // [3, 10, 10] f32
 * const { mi } = await pw.miCov({ buffer: input, shape: [3, 10, 64] }, { bins: 15 });
 * const edges = Array.from({ length: 61 }, (_, k) => k / 40);
 * const layers = await pw.summary({ buffer: input, shape: [3, 10, 64] }, { metric: "mi", edges });
 * console.log(layers.map((s) => s.mean));
 * cos.destroy();
 * mi.destroy();
 * pw.dispose();
 * device.destroy();
 * ```
 */
export function createPairwise(device: GPUDevice): PairwiseKernels {
  const gpu = new Gpu(device);

  const view = (s: GpuStack): Tensor => {
    if (s.shape.length !== 2 && s.shape.length !== 3) {
      throw new ShapeError(
        `A stack must be [N, D] or [L, N, D], got "[${s.shape.join(", ")}]"`,
        "Describe the buffer's layout with its shape",
      );
    }
    const offset = s.offset ?? 0;
    if (offset % 4 !== 0) {
      throw new InvalidArgumentError(`Offset "${offset}" is not a multiple of 4`, "");
    }
    return new Tensor(gpu, s.buffer, s.shape, "f32", offset);
  };
  const outShape = (a: GpuStack, b?: GpuStack): number[] => {
    const [n, m] = [a.shape[a.shape.length - 2], (b ?? a).shape[(b ?? a).shape.length - 2]];
    return a.shape.length === 3 ? [a.shape[0], n, m] : [n, m];
  };
  const outBuffer = (given: GPUBuffer | undefined, shape: number[]): [Tensor, GPUBuffer] => {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    const buffer = given ?? device.createBuffer({
      size: Math.max(256, bytes),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    return [new Tensor(gpu, buffer, shape, "f32"), buffer];
  };
  const validate = async (inputs: (Tensor | undefined)[], on: boolean | undefined) => {
    if (on ?? true) { for (const t of inputs) if (t) await checkFinite(t); }
  };
  const gram = async (
    fn: typeof pairwiseCosine,
    input: GpuStack,
    options: EmbedOptions & { out?: GPUBuffer } = {},
  ): Promise<GPUBuffer> => {
    const a = view(input);
    const b = options.other ? view(options.other) : undefined;
    await validate([a, b], options.validate);
    const [out, buffer] = outBuffer(options.out, outShape(input, options.other));
    fn(a, { other: b, triangle: options.triangle, out });
    await gpu.flush();
    return buffer;
  };

  return {
    gpu,
    cosine: (input, options) => gram(pairwiseCosine, input, options),
    covariance: (input, options) => gram(pairwiseCovariance, input, options),
    async miCov(input, options = {}) {
      const a = view(input);
      const b = options.other ? view(options.other) : undefined;
      await validate([a, b], options.validate);
      const shape = outShape(input, options.other);
      const [mi, miBuf] = outBuffer(options.outMi, shape);
      const [cov, covBuf] = outBuffer(options.outCov, shape);
      pairwiseMiCov(a, {
        bins: options.bins,
        outlierZ: options.outlierZ,
        triangle: options.triangle,
        other: b,
        outMi: mi,
        outCov: cov,
      });
      await gpu.flush();
      return { mi: miBuf, cov: covBuf };
    },
    summary(input, options) {
      return pairwiseSummary(view(input), {
        ...options,
        other: options.other ? view(options.other) : undefined,
      });
    },
    dispose() {
      gpu.dispose();
    },
  };
}
