/**
 * Hook points (TransformerLens names) and GPU-side interventions on them.
 * @module
 */

import type { Gpt2Config } from "../io/config.ts";
import { InvalidArgumentError } from "../errors.ts";
import { params } from "../gpu/context.ts";
import { grid, KERNELS } from "../tensor/kernels.ts";
import { Tensor } from "../tensor/tensor.ts";

/** Per-block hook names, after `blocks.{L}.`. */
export const BLOCK_HOOKS = [
  "hook_resid_pre",
  "ln1.hook_normalized",
  "attn.hook_q",
  "attn.hook_k",
  "attn.hook_v",
  "attn.hook_pattern",
  "attn.hook_z",
  "hook_attn_out",
  "hook_resid_mid",
  "ln2.hook_normalized",
  "mlp.hook_pre",
  "mlp.hook_post",
  "hook_mlp_out",
  "hook_resid_post",
] as const;

/** Hook names outside the blocks. */
export const GLOBAL_HOOKS = ["hook_embed", "hook_pos_embed", "ln_final.hook_normalized"] as const;

/** Every hook name of a model with `nLayer` blocks, in execution order. */
export function hookNames(nLayer: number): string[] {
  const names: string[] = ["hook_embed", "hook_pos_embed"];
  for (let l = 0; l < nLayer; l++) for (const h of BLOCK_HOOKS) names.push(`blocks.${l}.${h}`);
  names.push("ln_final.hook_normalized");
  return names;
}

/**
 * The shape of a hook's activation for a batch [B, T] (TransformerLens layout):
 * [B, T, D] for the residual-stream hooks, [B, T, H, dh] for q/k/v/z, [B, H, T, T] for the
 * pattern, [B, T, F] for the MLP's inner activations.
 */
export function hookShape(name: string, config: Gpt2Config, B: number, T: number): number[] {
  const { nEmbd: D, nHead: H, nInner: F } = config;
  if (/attn\.hook_[qkvz]$/.test(name)) return [B, T, H, D / H];
  if (name.endsWith("attn.hook_pattern")) return [B, H, T, T];
  if (/mlp\.hook_(pre|post)$/.test(name)) return [B, T, F];
  return [B, T, D];
}

/** Throw a clear error for a hook name the model does not have. */
export function checkHookName(name: string, config: Gpt2Config): void {
  const m = /^blocks\.(\d+)\.(.+)$/.exec(name);
  if (m) {
    const l = Number(m[1]);
    if (l >= config.nLayer) {
      throw new InvalidArgumentError(
        `Hook "${name}" names block ${l}, the model has blocks 0..${config.nLayer - 1}`,
        "Use a block index below n_layer",
      );
    }
    if ((BLOCK_HOOKS as readonly string[]).includes(m[2])) return;
  } else if ((GLOBAL_HOOKS as readonly string[]).includes(name)) return;
  throw new InvalidArgumentError(
    `Unknown hook "${name}"`,
    `Hook names follow TransformerLens: hook_embed, hook_pos_embed, blocks.{L}.(${
      BLOCK_HOOKS.join("|")
    }), ln_final.hook_normalized`,
  );
}

/** A GPU-side change to an activation at a hook point. */
export interface Intervention {
  /** Hook name, e.g. "blocks.3.hook_resid_post". */
  hook: string;
  /**
   * scale: multiply by `value` (a number); add: add `value` times `alpha`; set: replace by
   * `value` (e.g. from another run's cache: patching); zero: zero-ablate. For add and set,
   * `value` is a vector over the last dimension (add only), one sequence's activation (applied
   * to every selected sequence), or the whole batch's activation.
   */
  op: "scale" | "add" | "set" | "zero";
  /** The factor (scale) or the values (add/set): Float32Array or a GPU tensor. */
  value?: number | Float32Array | Tensor;
  /** Multiplier of `value` for add (default 1). */
  alpha?: number;
  /** Token positions affected (default all). */
  positions?: number[];
  /** Heads affected, for q/k/v/z/pattern (default all). */
  heads?: number[];
  /**
   * Sequences of the batch affected (default all): e.g. a batch of copies of one prompt with a
   * different layer's intervention in each copy, all in one forward pass.
   */
  sequences?: number[];
}

/** A JavaScript callback hook: the slow, general path (reads the activation back). */
export interface CallbackHook {
  /** Hook name. */
  hook: string;
  /** Receives the activation (row-major, `shape`); may return replacement values. */
  fn: (activation: Float32Array, shape: number[]) => Float32Array | void;
}

/** Strided view of an activation inside a buffer, as the intervene kernel sees it. */
export interface HookView {
  /** The tensor holding it. */
  tensor: Tensor;
  /** Rows (B*T, or B*H*T for patterns). */
  rows: number;
  /** Columns of the view. */
  cols: number;
  /** Row stride in elements. */
  stride: number;
  /** First column. */
  c0: number;
  /** Sequence length (positions are row % T). */
  T: number;
  /** Heads. */
  heads: number;
  /** Head size by column (0: heads by row, pattern layout). */
  headDim: number;
}

/** Where an intervention's value and masks live, and how the value is indexed. */
export interface InterventionResources {
  /** u32 [T]: 1 where the position is affected. */
  posMask: Tensor<"u32">;
  /** u32 [B]: 1 where the sequence is affected. */
  seqMask: Tensor<"u32">;
  /** The values (a 4-element dummy for scale and zero). */
  value: Tensor;
  /** First value element used. */
  valueOffset: number;
  /** Value elements per activation row (0 broadcasts one vector over rows). */
  valueStride: number;
  /** Value rows before wrapping around (rows per sequence broadcasts one sequence). */
  valueRows: number;
  /** First sequence of this launch within the batch. */
  b0: number;
}

/** Record one intervention on a view of `bc` sequences starting at sequence `resources.b0`. */
export function applyIntervention(
  iv: Intervention,
  view: HookView,
  bc: number,
  resources: InterventionResources,
): void {
  const gpu = view.tensor.gpu;
  const modes = { scale: 0, add: 1, set: 2, zero: 3 } as const;
  let headMask = 0xffffffff;
  if (iv.heads) {
    headMask = 0;
    for (const h of iv.heads) headMask |= 1 << h;
    headMask >>>= 0;
  }
  const alpha = iv.op === "scale" ? Number(iv.value) : iv.alpha ?? 1;
  const n = view.rows * view.cols;
  const [nx, ny] = grid(Math.ceil(n / 256), gpu.caps.maxWorkgroupsPerDimension);
  gpu.dispatch({
    kernel: KERNELS.intervene,
    params: params(
      view.rows,
      view.cols,
      view.stride,
      view.c0,
      view.T,
      view.heads,
      view.headDim,
      headMask,
      modes[iv.op],
      resources.valueStride,
      nx,
      { f: alpha },
      resources.valueOffset,
      Math.min(resources.valueRows, 0xffffffff),
      view.rows / bc,
      resources.b0,
    ),
    buffers: [
      resources.posMask.range,
      resources.seqMask.range,
      resources.value.range,
      view.tensor.range,
    ],
    workgroups: [nx, ny],
    bytes: 8 * n,
  });
}

/** Validate an intervention against the model and batch; returns a normalised copy. */
export function checkIntervention(
  iv: Intervention,
  config: Gpt2Config,
  B: number,
  T: number,
): Intervention {
  checkHookName(iv.hook, config);
  const ops = ["scale", "add", "set", "zero"];
  if (!ops.includes(iv.op)) {
    throw new InvalidArgumentError(
      `Unknown intervention "${iv.op}"`,
      `Use one of ${ops.join(", ")}`,
    );
  }
  if (iv.op === "scale" && (typeof iv.value !== "number" || !Number.isFinite(iv.value))) {
    throw new InvalidArgumentError(
      `Intervention "scale" on "${iv.hook}" needs a finite number, got "${iv.value}"`,
    );
  }
  for (const p of iv.positions ?? []) {
    if (!Number.isInteger(p) || p < 0 || p >= T) {
      throw new InvalidArgumentError(
        `Position "${p}" is outside the text's ${T} tokens`,
        `Use positions 0..${T - 1}`,
      );
    }
  }
  for (const h of iv.heads ?? []) {
    if (!Number.isInteger(h) || h < 0 || h >= config.nHead) {
      throw new InvalidArgumentError(
        `Head "${h}" does not exist; the model has ${config.nHead} heads`,
        `Use heads 0..${config.nHead - 1}`,
      );
    }
  }
  if (iv.heads && config.nHead > 32) {
    throw new InvalidArgumentError(
      `Heads were given for "${iv.hook}" of a model with ${config.nHead} heads; head selection ` +
        "supports at most 32 heads",
      "Leave heads out (every head), or intervene on hook_z columns with a value",
    );
  }
  if (iv.heads && !/attn\.hook_([qkvz]|pattern)$/.test(iv.hook)) {
    throw new InvalidArgumentError(
      `Heads were given for "${iv.hook}", which has no head dimension`,
      "Use heads with attn.hook_q, hook_k, hook_v, hook_z or hook_pattern",
    );
  }
  for (const b of iv.sequences ?? []) {
    if (!Number.isInteger(b) || b < 0 || b >= B) {
      throw new InvalidArgumentError(
        `Sequence "${b}" is outside the batch of ${B}`,
        `Use sequences 0..${B - 1}`,
      );
    }
  }
  if (iv.op === "add" || iv.op === "set") {
    const shape = hookShape(iv.hook, config, B, T);
    const full = shape.reduce((a, b) => a * b, 1);
    const perSeq = full / B;
    const last = /attn\.hook_[qkvz]$/.test(iv.hook) ? shape[2] * shape[3] : shape[shape.length - 1];
    const n = iv.value instanceof Tensor
      ? iv.value.size
      : iv.value instanceof Float32Array
      ? iv.value.length
      : -1;
    const ok = n === perSeq || n === full || (iv.op === "add" && n === last);
    if (!ok) {
      const sizes = iv.op === "add" ? `${last}, ${perSeq} or ${full}` : `${perSeq} or ${full}`;
      throw new InvalidArgumentError(
        `Intervention "${iv.op}" on "${iv.hook}" needs ${sizes} values, got "${
          n < 0 ? typeof iv.value : n
        }"`,
        `The activation has shape [${shape.join(", ")}]`,
      );
    }
  }
  return iv;
}
