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
import matmulBodySrc from "../../kernels/matmul.wgsl" with { type: "text" };
import matmulCommonSrc from "../../kernels/matmul_common.wgsl" with { type: "text" };
import loadsSrc from "../../kernels/matmul_loads.wgsl" with { type: "text" };
import loadsV4Src from "../../kernels/matmul_loads_v4.wgsl" with { type: "text" };
import tiledBodySrc from "../../kernels/matmul_tiled.wgsl" with { type: "text" };
import tiledPfBodySrc from "../../kernels/matmul_tiled_pf.wgsl" with { type: "text" };
import subgroupBodySrc from "../../kernels/matmul_subgroup.wgsl" with { type: "text" };
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
 * The four kernels of a matmul family, indexed `(transposeW ? 1 : 0) + (f16 ? 2 : 0)`: B as
 * [K, N] (NN), B as [N, K] (NT, pipeline constant TRANS_B), and their twins with packed-f16 B.
 */
export type MatmulFamily = readonly [Kernel, Kernel, Kernel, Kernel];

/**
 * A matmul family from its body: matmul_common.wgsl + the load file ("scalar":
 * matmul_loads.wgsl, "v4": matmul_loads_v4.wgsl) + `body`, and the f16 twins of that source.
 */
function matmulFamily(
  name: string,
  body: string,
  loads: "scalar" | "v4",
  entryPoint?: string,
): MatmulFamily {
  const f32 = matmulCommonSrc + (loads === "v4" ? loadsV4Src : loadsSrc) + body;
  const f16 = withF16Weights(f32, loads === "v4" ? B4_F16 : B_F16);
  const k = (suffix: string, code: string, transB: number): Kernel => ({
    name: name + suffix,
    code,
    ...(entryPoint ? { entryPoint } : {}),
    constants: { TRANS_B: transB },
  });
  return [k("", f32, 0), k("_nt", f32, 1), k("_f16", f16, 0), k("_nt_f16", f16, 1)];
}

// The tiled bodies with their depth loops unrolled.
const tiledBody = unrollMarkedLoops(tiledBodySrc);
const tiledPfBody = unrollMarkedLoops(tiledPfBodySrc);

/**
 * The matmul kernels by family (`matmul()` in src/tensor/ops.ts picks one):
 * - plain: kernels/matmul.wgsl, a 4x4 register tile per thread, any shape;
 * - ksplit: its entry point main_ksplit, each output's K terms split over 4 threads (small
 *   outputs on large GPUs);
 * - subgroup: kernels/matmul_subgroup.wgsl, for CPU adapters (K % 4 == 0, N % 4 == 0);
 * - tiled / tiledPf: 128x128 tiles of depth 8 / of depth 16 with register prefetch, scalar loads;
 * - tiledV4 / tiledPfV4: the same reading A and B as vec4s (K % 4 == 0, and N % 4 == 0 for NN).
 * The small-tile families share the names "matmul", "matmul_nt", ... so a profile has one row for
 * them whichever ran (the rules say which: `describeTuning`); entry points keep the pipelines
 * apart.
 */
export const MATMUL_KERNELS = {
  plain: matmulFamily("matmul", matmulBodySrc, "scalar"),
  ksplit: matmulFamily("matmul", matmulBodySrc, "scalar", "main_ksplit"),
  subgroup: matmulFamily("matmul", subgroupBodySrc, "v4", "matmul_subgroup"),
  tiled: matmulFamily("matmul_tiled", tiledBody, "scalar"),
  tiledV4: matmulFamily("matmul_tiled_v4", tiledBody, "v4"),
  tiledPf: matmulFamily("matmul_tiled_pf", tiledPfBody, "scalar"),
  tiledPfV4: matmulFamily("matmul_tiled_pf_v4", tiledPfBody, "v4"),
} as const satisfies Record<string, MatmulFamily>;

/**
 * Kernels by name (the matmuls: {@linkcode MATMUL_KERNELS}). The embedding gather has an "F16"
 * twin whose table is packed f16 (`Tensor<"f16">`); see {@linkcode withF16Weights}.
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
