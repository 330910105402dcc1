/**
 * The WGSL kernels of the model, as {@linkcode Kernel} descriptors (source imported as text).
 * @module
 */

import type { Kernel } from "../gpu/context.ts";
import addSrc from "../../kernels/add.wgsl" with { type: "text" };
import attentionSrc from "../../kernels/attention.wgsl" with { type: "text" };
import attentionFlashSrc from "../../kernels/attention_flash.wgsl" with { type: "text" };
import elementwiseSrc from "../../kernels/elementwise.wgsl" with { type: "text" };
import gatherSrc from "../../kernels/gather.wgsl" with { type: "text" };
import interveneSrc from "../../kernels/intervene.wgsl" with { type: "text" };
import layernormSrc from "../../kernels/layernorm.wgsl" with { type: "text" };
import layernormSgSrc from "../../kernels/layernorm_sg.wgsl" with { type: "text" };
import matmulSrc from "../../kernels/matmul.wgsl" with { type: "text" };
import matmulTiledSrc from "../../kernels/matmul_tiled.wgsl" with { type: "text" };
import matmulSubgroupSrc from "../../kernels/matmul_subgroup.wgsl" with { type: "text" };
import softmaxSrc from "../../kernels/softmax.wgsl" with { type: "text" };
import softmaxSgSrc from "../../kernels/softmax_sg.wgsl" with { type: "text" };

/** Kernels by name. */
export const KERNELS = {
  add: { name: "add", code: addSrc },
  scale: { name: "scale", code: elementwiseSrc, entryPoint: "scale" },
  gelu: { name: "gelu", code: elementwiseSrc, entryPoint: "gelu" },
  layerNorm: { name: "layer_norm", code: layernormSrc },
  /** Subgroup-reduction variant of `layerNorm` (needs the "subgroups" feature). */
  layerNormSg: { name: "layer_norm_sg", code: layernormSgSrc },
  matmul: { name: "matmul", code: matmulSrc, constants: { TRANS_B: 0 } },
  matmulTransB: { name: "matmul_nt", code: matmulSrc, constants: { TRANS_B: 1 } },
  matmulTiled: { name: "matmul_tiled", code: matmulTiledSrc, constants: { TRANS_B: 0 } },
  matmulTiledTransB: { name: "matmul_tiled_nt", code: matmulTiledSrc, constants: { TRANS_B: 1 } },
  /**
   * CPU-adapter variant of `matmul` (vec4 loads, subgroup broadcasts; K % 4 == 0, N % 4 == 0).
   * Same name as `matmul`, so profiles count one "matmul" per launch whichever kernel ran; its own
   * entry point keeps the pipelines apart.
   */
  matmulSubgroup: {
    name: "matmul",
    code: matmulSubgroupSrc,
    entryPoint: "matmul_subgroup",
    constants: { TRANS_B: 0 },
  },
  /** CPU-adapter variant of `matmulTransB` (K % 4 == 0); named like it, see `matmulSubgroup`. */
  matmulSubgroupTransB: {
    name: "matmul_nt",
    code: matmulSubgroupSrc,
    entryPoint: "matmul_subgroup",
    constants: { TRANS_B: 1 },
  },
  attend: { name: "attention", code: attentionSrc, entryPoint: "attend" },
  zFromPattern: { name: "attention_z", code: attentionSrc, entryPoint: "z_from_pattern" },
  /**
   * Flash-style attention, z only (no pattern): 64 queries per workgroup, K/V tiles in workgroup
   * memory, online softmax. Set the pipeline constants DH4 (head size / 4) and BK (keys per tile).
   */
  attendFlash: { name: "attention_flash", code: attentionFlashSrc, entryPoint: "attend_flash" },
  embed: { name: "embed", code: gatherSrc, entryPoint: "embed" },
  gatherPositions: { name: "gather_positions", code: gatherSrc, entryPoint: "positions" },
  columns: { name: "columns", code: gatherSrc, entryPoint: "columns" },
  intervene: { name: "intervene", code: interveneSrc },
  logSoftmax: { name: "log_softmax", code: softmaxSrc, entryPoint: "log_softmax" },
  tokenStats: { name: "token_stats", code: softmaxSrc, entryPoint: "token_stats" },
  /** Subgroup-reduction variant of `logSoftmax` (needs the "subgroups" feature). */
  logSoftmaxSg: { name: "log_softmax_sg", code: softmaxSgSrc, entryPoint: "log_softmax" },
  /** Subgroup-reduction variant of `tokenStats` (needs the "subgroups" feature). */
  tokenStatsSg: { name: "token_stats_sg", code: softmaxSgSrc, entryPoint: "token_stats" },
} as const satisfies Record<string, Kernel>;

/** Split `n` workgroups over x and y so neither exceeds `max`: returns [nx, ny]. */
export function grid(n: number, max = 65535): [number, number] {
  if (n <= max) return [Math.max(1, n), 1];
  const ny = Math.ceil(n / max);
  return [Math.ceil(n / ny), ny];
}
