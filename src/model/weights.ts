/**
 * GPT-2 weights on the GPU: loaded from a Hugging Face checkpoint (Conv1D layout, tied lm_head)
 * or drawn at random with any config's shapes (benchmarks and size tests, no download).
 * @module
 */

import type { Gpu } from "../gpu/context.ts";
import type { Gpt2Config } from "../io/config.ts";
import type { SafetensorsFile } from "../io/safetensors.ts";
import { FormatError } from "../errors.ts";
import { Tensor } from "../tensor/tensor.ts";

/** One transformer block's parameters (HF Conv1D layout: weights [in, out]). */
export interface BlockWeights {
  /** ln_1 gain and bias [D]. */
  ln1G: Tensor;
  /** ln_1 bias [D]. */
  ln1B: Tensor;
  /** attn.c_attn weight [D, 3D]. */
  attnW: Tensor;
  /** attn.c_attn bias [3D]. */
  attnB: Tensor;
  /** attn.c_proj weight [D, D]. */
  projW: Tensor;
  /** attn.c_proj bias [D]. */
  projB: Tensor;
  /** ln_2 gain [D]. */
  ln2G: Tensor;
  /** ln_2 bias [D]. */
  ln2B: Tensor;
  /** mlp.c_fc weight [D, 4D]. */
  fcW: Tensor;
  /** mlp.c_fc bias [4D]. */
  fcB: Tensor;
  /** mlp.c_proj weight [4D, D]. */
  fc2W: Tensor;
  /** mlp.c_proj bias [D]. */
  fc2B: Tensor;
}

/** All parameters of a GPT-2 model on the GPU. */
export interface Gpt2Weights {
  /** Token embedding [V, D]; also the unembedding (tied lm_head). */
  wte: Tensor;
  /** Row chunks of wte that each fit one storage binding. */
  wteChunks: { table: Tensor; row0: number }[];
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
export function rowChunks(gpu: Gpu, table: Tensor): { table: Tensor; row0: number }[] {
  const [rows, D] = table.shape;
  const rowBytes = D * 4;
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

function load(gpu: Gpu, file: SafetensorsFile, name: string, shape: number[]): Tensor {
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
  return Tensor.from(gpu, file.getF32(key), shape);
}

/** Upload the weights of a HF GPT-2 checkpoint (F32, F16 or BF16; computed in float32). */
export function uploadGpt2Weights(
  gpu: Gpu,
  config: Gpt2Config,
  file: SafetensorsFile,
): Gpt2Weights {
  const { nEmbd: D, vocabSize: V, nPositions: P, nInner: F } = config;
  const wte = load(gpu, file, "wte.weight", [V, D]);
  const blocks: BlockWeights[] = [];
  for (let l = 0; l < config.nLayer; l++) {
    const h = `h.${l}.`;
    blocks.push({
      ln1G: load(gpu, file, h + "ln_1.weight", [D]),
      ln1B: load(gpu, file, h + "ln_1.bias", [D]),
      attnW: load(gpu, file, h + "attn.c_attn.weight", [D, 3 * D]),
      attnB: load(gpu, file, h + "attn.c_attn.bias", [3 * D]),
      projW: load(gpu, file, h + "attn.c_proj.weight", [D, D]),
      projB: load(gpu, file, h + "attn.c_proj.bias", [D]),
      ln2G: load(gpu, file, h + "ln_2.weight", [D]),
      ln2B: load(gpu, file, h + "ln_2.bias", [D]),
      fcW: load(gpu, file, h + "mlp.c_fc.weight", [D, F]),
      fcB: load(gpu, file, h + "mlp.c_fc.bias", [F]),
      fc2W: load(gpu, file, h + "mlp.c_proj.weight", [F, D]),
      fc2B: load(gpu, file, h + "mlp.c_proj.bias", [D]),
    });
  }
  return {
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
 * norms at 1 and 0), generated on the CPU with a fast seeded generator.
 */
export function randomGpt2Weights(gpu: Gpu, config: Gpt2Config, seed = 1): Gpt2Weights {
  const { nEmbd: D, vocabSize: V, nPositions: P, nInner: F } = config;
  let s = seed >>> 0 || 1;
  const rand = (shape: number[], std = 0.02) => {
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
    return Tensor.from(gpu, a, shape);
  };
  const fill = (n: number, v: number) => Tensor.from(gpu, new Float32Array(n).fill(v), [n]);
  const wte = rand([V, D]);
  return {
    wte,
    wteChunks: rowChunks(gpu, wte),
    wpe: rand([P, D], 0.01),
    blocks: Array.from({ length: config.nLayer }, () => ({
      ln1G: fill(D, 1),
      ln1B: fill(D, 0),
      attnW: rand([D, 3 * D]),
      attnB: fill(3 * D, 0),
      projW: rand([D, D]),
      projB: fill(D, 0),
      ln2G: fill(D, 1),
      ln2B: fill(D, 0),
      fcW: rand([D, F]),
      fcB: fill(F, 0),
      fc2W: rand([F, D]),
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
