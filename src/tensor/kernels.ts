/**
 * The WGSL kernels of the model, as {@linkcode Kernel} descriptors (source imported as text).
 * @module
 */

import type { Kernel } from "../gpu/context.ts";
import addSrc from "../../kernels/add.wgsl" with { type: "text" };
import attentionSrc from "../../kernels/attention.wgsl" with { type: "text" };
import attentionFlashSrc from "../../kernels/attention_flash.wgsl" with { type: "text" };
import elementwiseSrc from "../../kernels/elementwise.wgsl" with { type: "text" };
import embedSrc from "../../kernels/embed.wgsl" with { type: "text" };
import gatherSrc from "../../kernels/gather.wgsl" with { type: "text" };
import interveneSrc from "../../kernels/intervene.wgsl" with { type: "text" };
import layernormSrc from "../../kernels/layernorm.wgsl" with { type: "text" };
import layernormSgSrc from "../../kernels/layernorm_sg.wgsl" with { type: "text" };
import layernormRowsSrc from "../../kernels/layernorm_rows.wgsl" with { type: "text" };
import matmulSrc from "../../kernels/matmul.wgsl" with { type: "text" };
import tiledCommonSrc from "../../kernels/matmul_tiled_common.wgsl" with { type: "text" };
import tiledLoadsSrc from "../../kernels/matmul_tiled_loads.wgsl" with { type: "text" };
import tiledLoadsV4Src from "../../kernels/matmul_tiled_loads_v4.wgsl" with { type: "text" };
import tiledBodySrc from "../../kernels/matmul_tiled.wgsl" with { type: "text" };
import tiledPfBodySrc from "../../kernels/matmul_tiled_pf.wgsl" with { type: "text" };
import matmulSubgroupSrc from "../../kernels/matmul_subgroup.wgsl" with { type: "text" };
import softmaxSrc from "../../kernels/softmax.wgsl" with { type: "text" };
import softmaxSgSrc from "../../kernels/softmax_sg.wgsl" with { type: "text" };

/** The marker that ends each line of a kernel that declares or reads its f32 weight operand. */
const F16_MARK = "(swapped for f16)";

/**
 * The f16-weight twin of a kernel's source: the lines ending in {@linkcode F16_MARK} (the weight
 * operand's binding and its one load function) replaced by `lines`, which bind it as u32 words of
 * packed IEEE halves and widen them with WGSL's core `unpack2x16float` (no "shader-f16" feature
 * needed). Everything else, accumulation included, is the f32 kernel unchanged. Throws at import
 * when a kernel's marked lines no longer match (a kernel edit that forgot its f16 twin).
 */
export function withF16Weights(code: string, lines: readonly string[]): string {
  const src = code.split("\n");
  const marked = src.flatMap((l, i) => (l.trimEnd().endsWith(F16_MARK) ? [i] : []));
  if (marked.length !== lines.length) {
    throw new Error(
      `Kernel has ${marked.length} lines marked "${F16_MARK}", the f16 swap has ${lines.length}`,
    );
  }
  marked.forEach((at, k) => (src[at] = lines[k]));
  return src.join("\n");
}

// Element i of B (flat index, even row stride): the half in word i / 2, low bits for even i.
const B_F16 = [
  "@group(0) @binding(2) var<storage, read> b: array<u32>;",
  "fn b_at(i: u32) -> f32 { return unpack2x16float(b[i >> 1u] >> ((i & 1u) * 16u)).x; }",
];
// Elements 4i .. 4i + 3 of B: two words.
const B4_F16 = [
  "@group(0) @binding(2) var<storage, read> b: array<vec2<u32>>;",
  "fn b4_at(i: u32) -> vec4<f32> { let w = b[i]; " +
  "return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)); }",
];
// Element (r, c) of the embedding table: rows of D halves padded to an even length.
const TABLE_F16 = [
  "@group(0) @binding(2) var<storage, read> table: array<u32>;",
  "fn table_at(r: u32, c: u32) -> f32 { let i = r * (p.d + p.d % 2u) + c; " +
  "return unpack2x16float(table[i >> 1u] >> ((i & 1u) * 16u)).x; }",
];
const matmulF16Src: string = withF16Weights(matmulSrc, B_F16);
const UNROLL_MARK = "// unroll";
const UNROLL_FOR = /^(\s*)for \(var (\w+) = 0u; \2 < (\d+)u; \2 = \2 \+ 1u\) \{\s*$/;

/**
 * `code` with every loop marked by a line starting "// unroll" (the next line: `for (var i = 0u;
 * i < Nu; i = i + 1u) {`, a constant trip count, the body ending at the matching "}" line of the
 * same indent) replaced by N brace-scoped copies of its body with the counter as a literal. Why:
 * wgpu (25+) bounds every loop with a hidden counter, which keeps drivers from unrolling it, so
 * indices stay computed and the loop pays a branch per step (PERFORMANCE.md). The .wgsl files stay
 * valid WGSL with the loop. Throws when a marked loop is not of that form.
 */
export function unrollMarkedLoops(code: string): string {
  const lines = code.replace(/\r\n/g, "\n").split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const mark = lines[i].trim();
    if (mark !== UNROLL_MARK && !mark.startsWith(UNROLL_MARK + " ")) {
      out.push(lines[i]);
      continue;
    }
    const m = UNROLL_FOR.exec(lines[i + 1] ?? "");
    if (!m) throw new Error(`Line ${i + 2}: "${UNROLL_MARK}" must precede a constant for loop`);
    const [, indent, name, count] = m;
    const end = lines.findIndex((l, j) => j > i + 1 && l.trimEnd() === `${indent}}`);
    if (end < 0) throw new Error(`Line ${i + 2}: the unrolled loop has no "${indent}}" line`);
    const body = lines.slice(i + 2, end);
    // In a bare block, break / continue would act on an enclosing loop.
    if (body.some((l) => /\b(break|continue)\b/.test(l.replace(/\/\/.*/, "")))) {
      throw new Error(`Line ${i + 2}: an unrolled loop cannot break or continue`);
    }
    const counter = new RegExp(`(?<![.\\w])${name}\\b`, "g"); // not a member or a longer name
    for (let k = 0; k < Number(count); k++) {
      out.push(`${indent}{  // ${name} = ${k}`);
      for (const l of body) out.push(l.replace(counter, `${k}u`));
      out.push(`${indent}}`);
    }
    i = end;
  }
  return out.join("\n");
}

// The 128x128-tile kernels: their shared parameters, bindings and stores + how they load A and B
// (scalar, or vec4 when the shapes allow: "v4") + their loop.
const tiledBody = unrollMarkedLoops(tiledBodySrc);
const tiledPfBody = unrollMarkedLoops(tiledPfBodySrc);
const matmulTiledSrc: string = tiledCommonSrc + tiledLoadsSrc + tiledBody;
const matmulTiledPfSrc: string = tiledCommonSrc + tiledLoadsSrc + tiledPfBody;
const matmulTiledV4Src: string = tiledCommonSrc + tiledLoadsV4Src + tiledBody;
const matmulTiledPfV4Src: string = tiledCommonSrc + tiledLoadsV4Src + tiledPfBody;
const matmulTiledF16Src: string = withF16Weights(matmulTiledSrc, B_F16);
const matmulTiledPfF16Src: string = withF16Weights(matmulTiledPfSrc, B_F16);
const matmulTiledV4F16Src: string = withF16Weights(matmulTiledV4Src, B4_F16);
const matmulTiledPfV4F16Src: string = withF16Weights(matmulTiledPfV4Src, B4_F16);
const matmulSubgroupF16Src: string = withF16Weights(matmulSubgroupSrc, B4_F16);
const embedF16Src: string = withF16Weights(embedSrc, TABLE_F16);

const flashKernels = new Map<number, Kernel>();

/**
 * Flash attention (kernels/attention_flash.wgsl) for heads of 4 * dh4 values: the query and the
 * accumulator unrolled into named vec4 variables. Pipeline constants DH4 and BK still to be set.
 */
export function attendFlashKernel(dh4: number): Kernel {
  let k = flashKernels.get(dh4);
  if (!k) {
    const c = Array.from({ length: dh4 }, (_, i) => i);
    const lines = (f: (i: number) => string) => c.map(f).join("\n  ");
    const code = attentionFlashSrc
      .replace(
        "/* FLASH_INIT */",
        lines((i) => `var qv${i} = qkv[qbase + ${i}u] * p.scale;\n  var av${i} = vec4<f32>(0.0);`),
      )
      .replace("/* FLASH_SCORE */", lines((i) => `s = s + dot(qv${i}, kt[kr + ${i}u]);`))
      .replace("/* FLASH_RESCALE */", lines((i) => `av${i} = av${i} * corr;`))
      .replace("/* FLASH_ACCUMULATE */", lines((i) => `av${i} = av${i} + e * vt[kr + ${i}u];`))
      .replace("/* FLASH_STORE */", lines((i) => `z[zbase + ${i}u] = av${i} * inv;`));
    // One name for every head size: the pipeline cache keys on the DH4 constant too.
    k = { name: "attention_flash", code, entryPoint: "attend_flash" };
    flashKernels.set(dh4, k);
  }
  return k;
}

/**
 * Kernels by name. Each matmul and the embedding gather has an "F16" twin whose weight operand
 * (B, or the table) is packed f16 (`Tensor<"f16">`); see {@linkcode withF16Weights}.
 */
export const KERNELS = {
  add: { name: "add", code: addSrc },
  scale: { name: "scale", code: elementwiseSrc, entryPoint: "scale" },
  gelu: { name: "gelu", code: elementwiseSrc, entryPoint: "gelu" },
  layerNorm: { name: "layer_norm", code: layernormSrc },
  /** Subgroup-reduction variant of `layerNorm` (needs the "subgroups" feature). */
  layerNormSg: { name: "layer_norm_sg", code: layernormSgSrc },
  /** Subgroup-per-row variant of `layerNorm` for rows up to 8192 wide (needs "subgroups"). */
  layerNormRows: { name: "layer_norm_rows", code: layernormRowsSrc },
  matmul: { name: "matmul", code: matmulSrc, constants: { TRANS_B: 0 } },
  matmulTransB: { name: "matmul_nt", code: matmulSrc, constants: { TRANS_B: 1 } },
  matmulTiled: { name: "matmul_tiled", code: matmulTiledSrc, constants: { TRANS_B: 0 } },
  matmulTiledTransB: { name: "matmul_tiled_nt", code: matmulTiledSrc, constants: { TRANS_B: 1 } },
  matmulF16: { name: "matmul_f16", code: matmulF16Src, constants: { TRANS_B: 0 } },
  /**
   * `matmul` with each output's K terms split over 4 threads (entry point main_ksplit of
   * kernels/matmul.wgsl): small outputs on large GPUs. Named like `matmul` (and its twins like
   * theirs), so a profile has one "matmul" row for the small-tile kernels whichever ran (the
   * rules say which: `describeTuning`); the entry point keeps the pipelines apart.
   */
  matmulKsplit: {
    name: "matmul",
    code: matmulSrc,
    entryPoint: "main_ksplit",
    constants: { TRANS_B: 0 },
  },
  matmulKsplitTransB: {
    name: "matmul_nt",
    code: matmulSrc,
    entryPoint: "main_ksplit",
    constants: { TRANS_B: 1 },
  },
  matmulKsplitF16: {
    name: "matmul_f16",
    code: matmulF16Src,
    entryPoint: "main_ksplit",
    constants: { TRANS_B: 0 },
  },
  matmulKsplitTransBF16: {
    name: "matmul_nt_f16",
    code: matmulF16Src,
    entryPoint: "main_ksplit",
    constants: { TRANS_B: 1 },
  },
  matmulTransBF16: { name: "matmul_nt_f16", code: matmulF16Src, constants: { TRANS_B: 1 } },
  matmulTiledF16: { name: "matmul_tiled_f16", code: matmulTiledF16Src, constants: { TRANS_B: 0 } },
  matmulTiledTransBF16: {
    name: "matmul_tiled_nt_f16",
    code: matmulTiledF16Src,
    constants: { TRANS_B: 1 },
  },
  /** `matmulTiled` with depth-16 tiles and register prefetch (kernels/matmul_tiled_pf.wgsl). */
  matmulTiledPf: { name: "matmul_tiled_pf", code: matmulTiledPfSrc, constants: { TRANS_B: 0 } },
  matmulTiledPfTransB: {
    name: "matmul_tiled_pf_nt",
    code: matmulTiledPfSrc,
    constants: { TRANS_B: 1 },
  },
  matmulTiledPfF16: {
    name: "matmul_tiled_pf_f16",
    code: matmulTiledPfF16Src,
    constants: { TRANS_B: 0 },
  },
  matmulTiledPfTransBF16: {
    name: "matmul_tiled_pf_nt_f16",
    code: matmulTiledPfF16Src,
    constants: { TRANS_B: 1 },
  },
  /**
   * `matmulTiled` reading A and B as vec4s (kernels/matmul_tiled_loads_v4.wgsl): used instead of
   * it when K % 4 == 0 and N % 4 == 0 (the NT twins: K % 4 == 0).
   */
  matmulTiledV4: { name: "matmul_tiled_v4", code: matmulTiledV4Src, constants: { TRANS_B: 0 } },
  matmulTiledV4TransB: {
    name: "matmul_tiled_v4_nt",
    code: matmulTiledV4Src,
    constants: { TRANS_B: 1 },
  },
  matmulTiledV4F16: {
    name: "matmul_tiled_v4_f16",
    code: matmulTiledV4F16Src,
    constants: { TRANS_B: 0 },
  },
  matmulTiledV4TransBF16: {
    name: "matmul_tiled_v4_nt_f16",
    code: matmulTiledV4F16Src,
    constants: { TRANS_B: 1 },
  },
  /** `matmulTiledPf` reading A and B as vec4s, under the conditions of `matmulTiledV4`. */
  matmulTiledPfV4: {
    name: "matmul_tiled_pf_v4",
    code: matmulTiledPfV4Src,
    constants: { TRANS_B: 0 },
  },
  matmulTiledPfV4TransB: {
    name: "matmul_tiled_pf_v4_nt",
    code: matmulTiledPfV4Src,
    constants: { TRANS_B: 1 },
  },
  matmulTiledPfV4F16: {
    name: "matmul_tiled_pf_v4_f16",
    code: matmulTiledPfV4F16Src,
    constants: { TRANS_B: 0 },
  },
  matmulTiledPfV4TransBF16: {
    name: "matmul_tiled_pf_v4_nt_f16",
    code: matmulTiledPfV4F16Src,
    constants: { TRANS_B: 1 },
  },
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
  /** f16 twin of `matmulSubgroup`, named like `matmulF16`. */
  matmulSubgroupF16: {
    name: "matmul_f16",
    code: matmulSubgroupF16Src,
    entryPoint: "matmul_subgroup",
    constants: { TRANS_B: 0 },
  },
  /** f16 twin of `matmulSubgroupTransB`, named like `matmulTransBF16`. */
  matmulSubgroupTransBF16: {
    name: "matmul_nt_f16",
    code: matmulSubgroupF16Src,
    entryPoint: "matmul_subgroup",
    constants: { TRANS_B: 1 },
  },
  attend: { name: "attention", code: attentionSrc, entryPoint: "attend" },
  zFromPattern: { name: "attention_z", code: attentionSrc, entryPoint: "z_from_pattern" },
  /**
   * Flash-style attention, z only (no pattern): 64 queries per workgroup, K/V tiles in workgroup
   * memory, online softmax. Set the pipeline constants DH4 (head size / 4) and BK (keys per tile).
   */

  embed: { name: "embed", code: embedSrc },
  embedF16: { name: "embed_f16", code: embedF16Src },
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
