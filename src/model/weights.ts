/**
 * GPT-2 weights on the GPU: loaded from a Hugging Face checkpoint (Conv1D layout, tied lm_head)
 * or drawn at random with any config's shapes (benchmarks and size tests, no download).
 *
 * Storage: everything f32 by default. With `weights: "f16"` the big matrices (c_attn, attn
 * c_proj, mlp c_fc, mlp c_proj and wte, which is also the unembedding) are stored as packed IEEE
 * halves, halving weight memory and bandwidth; position embeddings, biases and layer norms stay
 * f32, and the kernels widen every half to f32 before accumulating in f32.
 * @module
 */

import type { Gpu } from "../gpu/context.ts";
import type { Gpt2Config } from "../io/config.ts";
import type { SafetensorsFile } from "../io/safetensors.ts";
import { FormatError, InvalidArgumentError } from "../errors.ts";
import { f32ToF16 } from "../tensor/f16.ts";
import type { WeightDType } from "../tensor/ops.ts";
import { byteSize, type DType, Tensor } from "../tensor/tensor.ts";

/** How the model's big weight matrices are stored on the GPU: f32, or IEEE half ("f16"). */
export interface WeightOptions {
  /**
   * "f32" (default) or "f16": c_attn, attn c_proj, mlp c_fc, mlp c_proj and wte stored as
   * halves (F16 checkpoints uploaded as they are, F32/BF16 rounded to nearest, ties to even).
   * Activations, hidden states, hooks, biases, layer norms and position embeddings stay f32.
   */
  weights?: WeightDType;
}

/** Check a {@linkcode WeightOptions.weights} value from outside TypeScript (CLI, JSON). */
export function checkWeightDType(value: unknown): WeightDType {
  if (value === undefined) return "f32";
  if (value === "f32" || value === "f16") return value;
  throw new InvalidArgumentError(
    `Weight storage must be "f32" or "f16", got "${value}"`,
    'Use "f16" to halve weight memory, or "f32" (the default) for full precision',
  );
}

/** One transformer block's parameters (HF Conv1D layout: weights [in, out]). */
export interface BlockWeights {
  /** ln_1 gain and bias [D]. */
  ln1G: Tensor;
  /** ln_1 bias [D]. */
  ln1B: Tensor;
  /** attn.c_attn weight [D, 3D] (f32 or f16 storage). */
  attnW: Tensor<WeightDType>;
  /** attn.c_attn bias [3D]. */
  attnB: Tensor;
  /** attn.c_proj weight [D, D] (f32 or f16 storage). */
  projW: Tensor<WeightDType>;
  /** attn.c_proj bias [D]. */
  projB: Tensor;
  /** ln_2 gain [D]. */
  ln2G: Tensor;
  /** ln_2 bias [D]. */
  ln2B: Tensor;
  /** mlp.c_fc weight [D, 4D] (f32 or f16 storage). */
  fcW: Tensor<WeightDType>;
  /** mlp.c_fc bias [4D]. */
  fcB: Tensor;
  /** mlp.c_proj weight [4D, D] (f32 or f16 storage). */
  fc2W: Tensor<WeightDType>;
  /** mlp.c_proj bias [D]. */
  fc2B: Tensor;
}

/** All parameters of a GPT-2 model on the GPU. */
export interface Gpt2Weights {
  /** Storage of the big matrices (the block weights and wte): "f32" or "f16". */
  dtype: WeightDType;
  /** Token embedding [V, D]; also the unembedding (tied lm_head). */
  wte: Tensor<WeightDType>;
  /** Row chunks of wte that each fit one storage binding. */
  wteChunks: { table: Tensor<WeightDType>; row0: number }[];
  /** Position embedding [P, D]. */
  wpe: Tensor;
  /** Transformer blocks. */
  blocks: BlockWeights[];
  /** ln_f gain [D]. */
  lnFG: Tensor;
  /** ln_f bias [D]. */
  lnFB: Tensor;
}

/** Row chunks of a [rows, D] table whose byte ranges fit one binding and start aligned. */
export function rowChunks<D extends DType>(
  gpu: Gpu,
  table: Tensor<D>,
): { table: Tensor<D>; row0: number }[] {
  const rows = table.shape[0];
  const rowBytes = byteSize(table.shape.slice(1), table.dtype);
  let per = Math.floor(gpu.caps.maxStorageBindingBytes / rowBytes);
  if (per >= rows) return [{ table, row0: 0 }];
  const step = alignedRowStep(gpu, rowBytes);
  // at least one aligned step (a chunk over the limit then fails with a clear error at launch,
  // instead of a zero-row step looping forever)
  per = Math.max(step, Math.floor(per / step) * step);
  const chunks = [];
  for (let r = 0; r < rows; r += per) {
    chunks.push({ table: table.slice(r, Math.min(per, rows - r)), row0: r });
  }
  return chunks;
}

/**
 * The smallest number of rows of `rowBytes` bytes whose total is a multiple of the device's
 * storage binding offset alignment: views starting at multiples of it can be bound.
 */
export function alignedRowStep(gpu: Gpu, rowBytes: number): number {
  const align = gpu.caps.storageOffsetAlignment;
  return align / gcd(rowBytes, align);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Find a tensor under the HF names (with or without the "transformer." prefix). */
function pick(file: SafetensorsFile, name: string): string {
  for (const n of [name, `transformer.${name}`]) if (file.has(n)) return n;
  throw new FormatError(
    `Tensor "${name}" is missing from "${file.source}"`,
    "The checkpoint is not a complete GPT-2 model; re-download it or check its config",
  );
}

/** The checked key of a tensor whose element count matches `shape`. */
function check(file: SafetensorsFile, name: string, shape: number[]): string {
  const key = pick(file, name);
  const t = file.get(key);
  const n = shape.reduce((a, b) => a * b, 1);
  const got = t.shape.reduce((a, b) => a * b, 1);
  if (got !== n) {
    throw new FormatError(
      `Tensor "${key}" has shape "[${t.shape.join(", ")}]", the config implies [${
        shape.join(", ")
      }]`,
      "The config.json does not belong to this model.safetensors",
    );
  }
  return key;
}

function load(gpu: Gpu, file: SafetensorsFile, name: string, shape: number[]): Tensor {
  return Tensor.from(gpu, file.getF32(check(file, name, shape)), shape);
}

/** A big matrix in the chosen storage: F16 bits uploaded unchanged, others rounded to half. */
function loadMatrix(
  gpu: Gpu,
  file: SafetensorsFile,
  name: string,
  shape: number[],
  dtype: WeightDType,
): Tensor<WeightDType> {
  if (dtype === "f32") return load(gpu, file, name, shape);
  const key = check(file, name, shape);
  const t = file.get(key);
  // F16 data is copied as is (little-endian halves, the order the GPU reads)
  const bits = t.dtype === "F16"
    ? new Uint16Array(t.data.slice().buffer)
    : f32ToF16(file.getF32(key));
  return Tensor.fromF16(gpu, bits, shape);
}

/**
 * Upload the weights of a HF GPT-2 checkpoint (F32, F16 or BF16; computed in float32, the big
 * matrices stored as f16 with `options.weights`).
 */
export function uploadGpt2Weights(
  gpu: Gpu,
  config: Gpt2Config,
  file: SafetensorsFile,
  options: WeightOptions = {},
): Gpt2Weights {
  const { nEmbd: D, vocabSize: V, nPositions: P, nInner: F } = config;
  const dtype = checkWeightDType(options.weights);
  const mat = (name: string, shape: number[]) => loadMatrix(gpu, file, name, shape, dtype);
  const wte = mat("wte.weight", [V, D]);
  const blocks: BlockWeights[] = [];
  for (let l = 0; l < config.nLayer; l++) {
    const h = `h.${l}.`;
    blocks.push({
      ln1G: load(gpu, file, h + "ln_1.weight", [D]),
      ln1B: load(gpu, file, h + "ln_1.bias", [D]),
      attnW: mat(h + "attn.c_attn.weight", [D, 3 * D]),
      attnB: load(gpu, file, h + "attn.c_attn.bias", [3 * D]),
      projW: mat(h + "attn.c_proj.weight", [D, D]),
      projB: load(gpu, file, h + "attn.c_proj.bias", [D]),
      ln2G: load(gpu, file, h + "ln_2.weight", [D]),
      ln2B: load(gpu, file, h + "ln_2.bias", [D]),
      fcW: mat(h + "mlp.c_fc.weight", [D, F]),
      fcB: load(gpu, file, h + "mlp.c_fc.bias", [F]),
      fc2W: mat(h + "mlp.c_proj.weight", [F, D]),
      fc2B: load(gpu, file, h + "mlp.c_proj.bias", [D]),
    });
  }
  return {
    dtype,
    wte,
    wteChunks: rowChunks(gpu, wte),
    wpe: load(gpu, file, "wpe.weight", [P, D]),
    blocks,
    lnFG: load(gpu, file, "ln_f.weight", [D]),
    lnFB: load(gpu, file, "ln_f.bias", [D]),
  };
}

/**
 * Random weights with a config's shapes (normal-ish, std 0.02 like HF's initializer; layer
 * norms at 1 and 0), generated on the CPU with a fast seeded generator. With `weights: "f16"`
 * the same draws are stored rounded to half (the f32 model of the same seed, rounded).
 */
export function randomGpt2Weights(
  gpu: Gpu,
  config: Gpt2Config,
  seed = 1,
  options: WeightOptions = {},
): Gpt2Weights {
  const { nEmbd: D, vocabSize: V, nPositions: P, nInner: F } = config;
  const dtype = checkWeightDType(options.weights);
  let s = seed >>> 0 || 1;
  const draw = (shape: number[], std: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      // xorshift32; sum of two uniforms ~ triangular, std scaled to `std`
      s ^= s << 13, s >>>= 0, s ^= s >>> 17, s ^= s << 5, s >>>= 0;
      const u1 = s / 4294967296;
      s ^= s << 13, s >>>= 0, s ^= s >>> 17, s ^= s << 5, s >>>= 0;
      const u2 = s / 4294967296;
      a[i] = (u1 + u2 - 1) * std * 2.449;
    }
    return a;
  };
  const rand = (shape: number[], std = 0.02) => Tensor.from(gpu, draw(shape, std), shape);
  const mat = (shape: number[]): Tensor<WeightDType> =>
    dtype === "f16" ? Tensor.fromF16(gpu, draw(shape, 0.02), shape) : rand(shape);
  const fill = (n: number, v: number) => Tensor.from(gpu, new Float32Array(n).fill(v), [n]);
  const wte = mat([V, D]);
  return {
    dtype,
    wte,
    wteChunks: rowChunks(gpu, wte),
    wpe: rand([P, D], 0.01),
    blocks: Array.from({ length: config.nLayer }, () => ({
      ln1G: fill(D, 1),
      ln1B: fill(D, 0),
      attnW: mat([D, 3 * D]),
      attnB: fill(3 * D, 0),
      projW: mat([D, D]),
      projB: fill(D, 0),
      ln2G: fill(D, 1),
      ln2B: fill(D, 0),
      fcW: mat([D, F]),
      fcB: fill(F, 0),
      fc2W: mat([F, D]),
      fc2B: fill(D, 0),
    })),
    lnFG: fill(D, 1),
    lnFB: fill(D, 0),
  };
}

/** Free every weight buffer. */
export function disposeGpt2Weights(w: Gpt2Weights): void {
  w.wte.dispose();
  w.wpe.dispose();
  w.lnFG.dispose();
  w.lnFB.dispose();
  for (const b of w.blocks) for (const t of Object.values(b)) t.dispose();
}
