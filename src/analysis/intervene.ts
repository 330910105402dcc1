/**
 * Seed 003, demo 3: change a block's activation at one hook point, at every layer in turn, and
 * measure the effect on the log-softmax of a target token at the last position. The seed scales
 * the OUTPUT hidden state of block L (`blocks.{L}.hook_resid_post`) by 0.8; here the hook, the
 * operation (scale, add a vector, zero-ablate, patch from another prompt), the positions and the
 * heads are options.
 *
 * Every layer's intervened pass runs on the GPU in one batched forward: a batch of 1 + G copies
 * of the prompt where copy 0 is clean and copy 1 + k carries the intervention of the k-th chosen
 * block, restricted to that copy with the intervention's `sequences` selector. One submission,
 * one readback of the last-position logits `[1 + G, V]`. `strategy: "sequential"` runs one
 * forward per block instead (also one submission), as a cross-check.
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import type { ForwardResult, Gpt2Model } from "../model/gpt2.ts";
import { BLOCK_HOOKS, checkIntervention, hookShape, type Intervention } from "../model/hooks.ts";
import { logSoftmax } from "../stats/mod.ts";
import { type AnalysisOptions, gpt2Tokenizer, type ModelInfo, modelInfo } from "./common.ts";
import { inputTokens, resolveIndex, type TokenInfo, type TokenInput } from "./layers.ts";

/** The seed's prompt: the next word is " insect". */
export const INTERVENE_DEFAULT_TEXT: string =
  "As Gregor Samsa awoke one morning from uneasy dreams, he found himself transformed in his " +
  "bed into a gigantic";

/** The seed's target token. */
export const INTERVENE_DEFAULT_TARGET = " insect";

/** The seed's scale factor. */
export const INTERVENE_DEFAULT_FACTOR = 0.8;

/**
 * Largest |factor| accepted: GPT-2's residual stream has entries in the hundreds, so larger
 * factors only push float32 toward overflow.
 */
export const INTERVENE_MAX_FACTOR = 10_000;

/** What is done to the activation. */
export type InterveneOp = "scale" | "add" | "zero" | "patch";

/** How the per-layer passes are run. */
export type InterveneStrategy = "batched" | "sequential";

/** Options of {@linkcode intervene}. */
export interface InterveneOptions extends AnalysisOptions {
  /**
   * The target: a string that is exactly one GPT-2 token (mind the leading space: " insect"),
   * or a token id. Default " insect".
   */
  target?: string | number;
  /** The operation (default "scale", as the seed). */
  op?: InterveneOp;
  /**
   * scale: the factor (default 0.8, as the seed); add: the multiplier of the vector (default 1).
   * Ignored by zero and patch.
   */
  factor?: number;
  /**
   * The hook inside each block, a TransformerLens name without `blocks.{L}.` (default
   * "hook_resid_post": the block's output, what the seed's forward hook on `h[L]` changes).
   */
  hook?: string;
  /** Blocks to intervene at, one pass each (negative counts from the end). Default all. */
  layers?: readonly number[];
  /** Token positions changed (negative counts from the end). Default all. */
  positions?: readonly number[];
  /** Heads changed, for attn.hook_q/k/v/z/pattern. Default all. */
  heads?: readonly number[];
  /** For op "patch": the prompt whose activation replaces the clean one (same token length). */
  patch?: TokenInput;
  /** For op "add": the vector added at every selected position, `[last dim of the hook]`. */
  vector?: ArrayLike<number>;
  /** Batched (default) or one forward per layer (same numbers; a cross-check). */
  strategy?: InterveneStrategy;
  /** How many of the clean pass's most likely next tokens to report (default 10). */
  top?: number;
}

/** A token with its log-probability. */
export interface TokenLogProb extends TokenInfo {
  /** Natural-log probability at the last position. */
  logProb: number;
}

/** The target's score in one pass. */
export interface TargetScore {
  /** log-softmax of the target at the last position (nats). */
  logProb: number;
  /** Its probability. */
  prob: number;
  /** 1 + the number of tokens with a strictly larger logit (1 = most likely). */
  rank: number;
  /** The most likely next token of this pass. */
  top: TokenLogProb;
}

/** One intervened pass. */
export interface InterveneLayer extends TargetScore {
  /** Block index. */
  layer: number;
  /** Full hook name, e.g. "blocks.3.hook_resid_post". */
  hook: string;
  /** `logProb - clean.logProb`. */
  delta: number;
}

/** Result of {@linkcode intervene}. */
export interface InterveneResult {
  /** Result type. */
  schema: "laminar.intervene";
  /** Schema version. */
  version: 1;
  /** The model. */
  model: ModelInfo;
  /** The options used (defaults filled in, indices made non-negative). */
  options: {
    op: InterveneOp;
    factor: number | null;
    hook: string;
    layers: number[];
    positions: number[] | null;
    heads: number[] | null;
    patchTokens: TokenInfo[] | null;
    vectorLength: number | null;
    strategy: InterveneStrategy;
    top: number;
  };
  /** The prompt's tokens, `[T]`. */
  tokens: TokenInfo[];
  /** The target token. */
  target: TokenInfo;
  /** The clean pass, with its `top` most likely next tokens. */
  clean: TargetScore & { topK: TokenLogProb[] };
  /** One entry per chosen block, in the order given. */
  layers: InterveneLayer[];
  /** GPU submissions used (the whole sweep: 1). */
  submissions: number;
}

/** Resolve a target (one-token string or id) against the model. */
export function resolveTarget(model: Gpt2Model, target: string | number): TokenInfo {
  const V = model.config.vocabSize;
  const tok = gpt2Tokenizer();
  if (typeof target === "number") {
    if (!Number.isInteger(target) || target < 0 || target >= V) {
      throw new InvalidArgumentError(
        `Target id "${target}" is outside the model's vocabulary [0, ${V})`,
        "Give a token id the model knows, or a one-token word",
      );
    }
    return { id: target, text: target < tok.vocabSize ? tok.tokenText(target) : `<${target}>` };
  }
  const pieces = tok.tokenize(target);
  if (pieces.length === 0) {
    throw new InvalidArgumentError(
      "The target is empty",
      'Give a word that is a single GPT-2 token, usually with its leading space (" insect"), ' +
        "or a token id",
    );
  }
  if (pieces.length !== 1) {
    throw new InvalidArgumentError(
      `Target "${target}" is ${pieces.length} tokens (${
        pieces.map((p) => JSON.stringify(p.text)).join(", ")
      }), not one`,
      'Give a word that is a single GPT-2 token, usually with its leading space (" insect"), ' +
        "or a token id",
    );
  }
  if (pieces[0].id >= V) {
    throw new InvalidArgumentError(
      `Target "${target}" is token ${pieces[0].id}, outside the model's vocabulary of ${V}`,
      "Use a model with the GPT-2 vocabulary, or give a token id",
    );
  }
  return { id: pieces[0].id, text: pieces[0].text };
}

/**
 * The effect of an intervention at each block on a target token's log-softmax at the last
 * position (seed 003, demo 3). Defaults reproduce the seed: its prompt, target " insect", the
 * output of every block (`hook_resid_post`) scaled by 0.8.
 *
 * Shapes: prompt ids `[T]`; the batched pass is `[1 + G, T]` with G = number of chosen blocks
 * (the model splits it into chunks that fit the GPU's bindings); logits read back at the last
 * position only, `[1 + G, V]`, log-softmax on the CPU in float64.
 *
 * @example
 * ```ts ignore
 * using gpu = await Gpu.create();
 * const model = await Gpt2Model.load(gpu, "gpt2");
 * const r = await intervene(model); // the seed's defaults
 * r.clean.logProb; // log p(" insect") without intervention
 * r.layers.map((l) => l.delta); // change per block when its output is scaled by 0.8
 * const z = await intervene(model, "The Eiffel Tower is in", {
 *   target: " Paris",
 *   op: "zero",
 *   hook: "hook_mlp_out",
 * });
 * ```
 */
export async function intervene(
  model: Gpt2Model,
  input: TokenInput = INTERVENE_DEFAULT_TEXT,
  options: InterveneOptions = {},
): Promise<InterveneResult> {
  const cfg = model.config;
  const toks = inputTokens(model, input, 1);
  const T = toks.length;
  const ids = toks.map((t) => t.id);
  const target = resolveTarget(model, options.target ?? INTERVENE_DEFAULT_TARGET);
  const op = options.op ?? "scale";
  if (!["scale", "add", "zero", "patch"].includes(op)) {
    throw new InvalidArgumentError(`Unknown operation "${op}"`, "Use scale, add, zero or patch");
  }
  const suffix = options.hook ?? "hook_resid_post";
  if (!(BLOCK_HOOKS as readonly string[]).includes(suffix)) {
    throw new InvalidArgumentError(
      `Unknown block hook "${suffix}"`,
      /^blocks\.\d+\./.test(suffix)
        ? "Give the hook without blocks.{L}. and choose blocks with the layers option"
        : `Use one of ${BLOCK_HOOKS.join(", ")}`,
    );
  }
  const factor = op === "scale"
    ? options.factor ?? INTERVENE_DEFAULT_FACTOR
    : op === "add"
    ? options.factor ?? 1
    : null;
  if (factor !== null && !(Math.abs(factor) <= INTERVENE_MAX_FACTOR)) {
    throw new InvalidArgumentError(
      `The factor must be a number from -${INTERVENE_MAX_FACTOR} to ${INTERVENE_MAX_FACTOR}, got ${factor}`,
      "Use a factor such as 0.8 (the seed's), 0 or 2",
    );
  }
  const layerSel = (options.layers ?? Array.from({ length: cfg.nLayer }, (_, l) => l)).map((l) =>
    resolveIndex(l, cfg.nLayer, "Block")
  );
  if (layerSel.length === 0) throw new InvalidArgumentError("The list of blocks is empty");
  const positions = options.positions?.map((p) => resolveIndex(p, T, "Position")) ?? null;
  if (positions && positions.length === 0) {
    throw new InvalidArgumentError("The list of positions is empty");
  }
  const heads = options.heads ? [...options.heads] : null;
  const top = options.top ?? 10;
  if (!Number.isInteger(top) || top < 1 || top > cfg.vocabSize) {
    throw new InvalidArgumentError(`Top must be an integer in 1..${cfg.vocabSize}, got "${top}"`);
  }
  const strategy = options.strategy ?? "batched";
  if (strategy !== "batched" && strategy !== "sequential") {
    throw new InvalidArgumentError(`Unknown strategy "${strategy}"`, "Use batched or sequential");
  }
  // Hook name, positions and heads, checked before anything is recorded on the GPU.
  checkIntervention(
    {
      hook: `blocks.${layerSel[0]}.${suffix}`,
      op: "scale",
      value: 1,
      positions: positions ?? undefined,
      heads: heads ?? undefined,
    },
    cfg,
    1,
    T,
  );

  let patchToks: TokenInfo[] | null = null;
  if (op === "patch") {
    if (options.patch === undefined) {
      throw new InvalidArgumentError(
        'Operation "patch" needs the prompt to patch from',
        "Pass the other prompt (--patch-text); it must have the same number of tokens",
      );
    }
    patchToks = inputTokens(model, options.patch, 1);
    if (patchToks.length !== T) {
      throw new InvalidArgumentError(
        `The patch prompt has ${patchToks.length} tokens, the prompt has ${T}`,
        "Patching replaces activations position by position; give prompts of equal token length",
      );
    }
  } else if (options.patch !== undefined) {
    throw new InvalidArgumentError(
      `A patch prompt was given for operation "${op}"`,
      "Use op patch",
    );
  }
  const shape1 = hookShape(`blocks.0.${suffix}`, cfg, 1, T); // one sequence's activation
  const lastDim = /attn\.hook_[qkvz]$/.test(suffix) ? shape1[2] * shape1[3] : shape1.at(-1)!;
  let vector: Float32Array | null = null;
  if (op === "add") {
    if (!options.vector) {
      throw new InvalidArgumentError(
        'Operation "add" needs a vector',
        `Give ${lastDim} values (the last dimension of ${suffix})`,
      );
    }
    vector = Float32Array.from(options.vector);
    if (vector.length !== lastDim || vector.some((v) => !Number.isFinite(v))) {
      throw new InvalidArgumentError(
        `The vector for "${suffix}" needs ${lastDim} finite values, got "${vector.length}"`,
        `The activation has shape [${shape1.join(", ")}] per sequence`,
      );
    }
  } else if (options.vector !== undefined) {
    throw new InvalidArgumentError(`A vector was given for operation "${op}"`, "Use op add");
  }

  const progress = options.onProgress ?? (() => {});
  progress("intervene", 0, 1);
  const plan: Plan = { ids, suffix, op, factor, layerSel, positions, heads, patchToks, vector };
  const run = strategy === "batched"
    ? await runBatched(model, plan)
    : await runSequential(model, plan);
  progress("intervene", 1, 1);

  // CPU: log-softmax in float64 per pass, [1 + G, V].
  const V = cfg.vocabSize;
  const tok = gpt2Tokenizer();
  const info = (id: number, logProb: number): TokenLogProb => ({
    id,
    text: id < tok.vocabSize ? tok.tokenText(id) : `<${id}>`,
    logProb,
  });
  const score = (logits: Float32Array): { s: TargetScore; ls: Float64Array } => {
    const ls = logSoftmax(logits);
    const t = logits[target.id];
    let rank = 1;
    let best = 0;
    for (let i = 0; i < V; i++) {
      if (logits[i] > t) rank++;
      if (logits[i] > logits[best]) best = i;
    }
    const lp = ls[target.id];
    return { s: { logProb: lp, prob: Math.exp(lp), rank, top: info(best, ls[best]) }, ls };
  };
  const overflowed = layerSel.filter((_, k) => run.logits[1 + k].some((v) => !Number.isFinite(v)));
  if (overflowed.length > 0) {
    throw new InvalidArgumentError(
      `The intervention made the next-token logits non-finite (float32 overflow) at block${
        overflowed.length > 1 ? "s" : ""
      } ${overflowed.join(", ")}`,
      op === "add" ? "Use a smaller factor or vector" : "Use a smaller factor",
    );
  }
  const clean = score(run.logits[0]);
  const order = [...clean.ls.keys()].sort((a, b) => clean.ls[b] - clean.ls[a]).slice(0, top);
  return {
    schema: "laminar.intervene",
    version: 1,
    model: modelInfo(model),
    options: {
      op,
      factor,
      hook: suffix,
      layers: layerSel,
      positions,
      heads,
      patchTokens: patchToks,
      vectorLength: vector ? vector.length : null,
      strategy,
      top,
    },
    tokens: toks,
    target,
    clean: { ...clean.s, topK: order.map((id) => info(id, clean.ls[id])) },
    layers: layerSel.map((layer, k) => {
      const { s } = score(run.logits[1 + k]);
      return { layer, hook: `blocks.${layer}.${suffix}`, ...s, delta: s.logProb - clean.s.logProb };
    }),
    submissions: run.submissions,
  };
}

interface Plan {
  ids: number[];
  suffix: string;
  op: InterveneOp;
  factor: number | null;
  layerSel: number[];
  positions: number[] | null;
  heads: number[] | null;
  patchToks: TokenInfo[] | null;
  vector: Float32Array | null;
}

type Run = { logits: Float32Array[]; submissions: number };

/** Read the last-position logits of every pass in one map: `[1 + G]` rows of `[V]`. */
async function readLogits(model: Gpt2Model, passes: ForwardResult[]): Promise<Float32Array[]> {
  const V = model.config.vocabSize;
  const bufs = await model.gpu.read(passes.map((p) => p.logits!.range));
  const rows: Float32Array[] = [];
  bufs.forEach((b, i) => {
    for (let s = 0; s < passes[i].B; s++) rows.push(new Float32Array(b, s * V * 4, V));
  });
  return rows;
}

/** The model intervention for one block, per the plan (`other`: the patch prompt's cache). */
function interventionFor(plan: Plan, name: string, other: ForwardResult | null): Intervention {
  const where = { positions: plan.positions ?? undefined, heads: plan.heads ?? undefined };
  switch (plan.op) {
    case "scale":
      return { hook: name, op: "scale", value: plan.factor!, ...where };
    case "zero":
      return { hook: name, op: "zero", ...where };
    case "add":
      return { hook: name, op: "add", value: plan.vector!, alpha: plan.factor!, ...where };
    default:
      return { hook: name, op: "set", value: other!.cache.get(name)!, ...where };
  }
}

/**
 * One batched forward of 1 + G copies of the prompt: copy 0 is clean, copy 1 + k gets the k-th
 * block's intervention (restricted to that copy with `sequences`). With a patch prompt, its
 * activations are cached by a forward recorded before; one submission, one readback.
 */
async function runBatched(model: Gpt2Model, plan: Plan): Promise<Run> {
  const names = plan.layerSel.map((l) => `blocks.${l}.${plan.suffix}`);
  const passes: ForwardResult[] = [];
  try {
    let other: ForwardResult | null = null;
    if (plan.patchToks) {
      other = await model.forward(plan.patchToks.map((t) => t.id), { cache: [...new Set(names)] });
      passes.push(other);
    }
    const interventions = names.map((name, k) => ({
      ...interventionFor(plan, name, other),
      sequences: [1 + k],
    }));
    const batch = Array.from({ length: 1 + names.length }, () => plan.ids);
    const res = await model.forward(batch, { logits: "last", interventions });
    passes.push(res);
    return { logits: await readLogits(model, [res]), submissions: 1 };
  } finally {
    for (const p of passes) p[Symbol.dispose]();
  }
}

/** One forward per layer with the model's own ops (scale, zero, add, set), one submission. */
async function runSequential(model: Gpt2Model, plan: Plan): Promise<Run> {
  const passes: ForwardResult[] = [];
  let other: ForwardResult | null = null;
  try {
    const names = plan.layerSel.map((l) => `blocks.${l}.${plan.suffix}`);
    if (plan.patchToks) {
      other = await model.forward(plan.patchToks.map((t) => t.id), { cache: [...new Set(names)] });
    }
    passes.push(await model.forward(plan.ids, { logits: "last" }));
    for (const name of names) {
      const iv = interventionFor(plan, name, other);
      passes.push(await model.forward(plan.ids, { logits: "last", interventions: [iv] }));
    }
    return { logits: await readLogits(model, passes), submissions: 1 };
  } finally {
    for (const p of passes) p[Symbol.dispose]();
    if (other) other[Symbol.dispose]();
  }
}
