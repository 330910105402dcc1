/**
 * Seed 003, demos 1 and 2: what the hidden states of a text look like layer by layer. For one
 * token, the distribution of its activations in every hidden state (mean, variance, quantiles,
 * a histogram on common edges); for chosen tokens, the cosine similarity of the token's vectors
 * across layers; for chosen layers, the cosine similarity across tokens; and for every layer the
 * "laminar profile": the spread of inter-token cosine similarities, excluding the first token.
 *
 * One forward pass ({@linkcode Gpt2Model.forward} with all hidden states), the cosine matrices
 * on the GPU ({@linkcode pairwiseCosine} over the `[L+1, T, D]` stack, {@linkcode layerCosine}
 * per chosen token), one submission and one readback; the small per-layer summaries on the CPU
 * in float64.
 * @module
 */

import { ContextLengthError, InvalidArgumentError } from "../errors.ts";
import type { Gpt2Model } from "../model/gpt2.ts";
import type { BufferRange } from "../gpu/context.ts";
import { layerCosine, pairwiseCosine } from "../pairwise/mod.ts";
import {
  histogram,
  histogramEdges,
  linspace,
  max,
  mean,
  min,
  quantile,
  std,
  variance,
} from "../stats/mod.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  type AnalysisOptions,
  gpt2Tokenizer,
  type ModelInfo,
  modelInfo,
  tokenizeForModel,
} from "./common.ts";

/** What an analysis reads: a text (GPT-2 BPE) or token ids (e.g. for a small-vocabulary model). */
export type TokenInput = string | { ids: readonly number[] };

/** One token of the input. */
export interface TokenInfo {
  /** Token id. */
  id: number;
  /** Display text of the token (GPT-2 bytes, see `TokenPiece.text`). */
  text: string;
}

/** The seed's text for demos 1 and 2. */
export const LAYERS_DEFAULT_TEXT = "A wise man once said: Penguins are cute.";

/** The seed's token for the activation distributions (`whichToken = 8`, " cute"). */
export const LAYERS_DEFAULT_TOKEN = 8;

/** Quantiles reported per layer by default. */
export const LAYERS_DEFAULT_QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95] as const;

/** Options of {@linkcode layers}. */
export interface LayersOptions extends AnalysisOptions {
  /**
   * The token whose activation distributions are summarised (negative counts from the end).
   * Default 8, the seed's `whichToken`; for texts of 8 tokens or fewer, the last token.
   */
  token?: number;
  /**
   * Tokens for the layer x layer cosine matrices (negative counts from the end). Default: 4
   * evenly spaced tokens including the first and the last, `np.linspace(0, T-1, 4, dtype=int)`,
   * as the seed's titles say (its loop indexes tokens 0..3 by mistake; pass `[0, 1, 2, 3]` for
   * the matrices it actually drew).
   */
  tokens?: readonly number[];
  /**
   * Hidden-state indices (0 = embeddings, n_layer = after ln_f; negative counts from the end)
   * for the token x token cosine matrices. Default: 4 evenly spaced,
   * `np.linspace(0, n_layer, 4, dtype=int)`, as the seed's titles say (its loop indexes hidden
   * states 0..3 by mistake; pass `[0, 1, 2, 3]` for the matrices it actually drew).
   */
  layers?: readonly number[];
  /** Histogram bins of the activation distributions, on edges common to all layers (default 32). */
  bins?: number;
  /** Quantiles of the activation distributions (numpy "linear"), default 0.05 0.25 0.5 0.75 0.95. */
  quantiles?: readonly number[];
}

/** Summary of one token's activations `[D]` in one hidden state. */
export interface ActivationSummary {
  /** Hidden-state index (0 = embeddings). */
  layer: number;
  /** "Emb", "L0", "L1", ... as the seed's axis labels. */
  label: string;
  /** Mean of the D activations. */
  mean: number;
  /** Standard deviation, ddof 1 (as `torch.var`/`std` defaults). */
  std: number;
  /** Variance, ddof 1: the seed's `acts.var()` on a torch tensor is unbiased. */
  variance: number;
  /** Smallest activation. */
  min: number;
  /** Largest activation. */
  max: number;
  /** Euclidean norm of the activation vector. */
  norm: number;
  /** Quantiles at `activations.quantiles`, numpy's "linear" method. */
  quantiles: number[];
  /** Counts on `activations.histogramEdges`, `[bins]` (numpy.histogram semantics). */
  histogram: number[];
}

/** Summary of the inter-token cosine similarities of one hidden state. */
export interface ProfileLayer {
  /** Hidden-state index. */
  layer: number;
  /** Axis label. */
  label: string;
  /** Number of token pairs: (T-1)(T-2)/2, tokens 1..T-1, i < j. */
  pairs: number;
  /** Mean cosine similarity over the pairs. */
  mean: number;
  /** Standard deviation over the pairs (ddof 0). */
  std: number;
  /** Smallest pair similarity. */
  min: number;
  /** First quartile. */
  q25: number;
  /** Median. */
  median: number;
  /** Third quartile. */
  q75: number;
  /** Largest pair similarity. */
  max: number;
}

/** Result of {@linkcode layers}. */
export interface LayersResult {
  /** Result type. */
  schema: "laminar.layers";
  /** Schema version. */
  version: 1;
  /** The model. */
  model: ModelInfo;
  /** The options used (defaults filled in, indices made non-negative). */
  options: {
    token: number;
    tokens: number[];
    layers: number[];
    bins: number;
    quantiles: number[];
  };
  /** The input's tokens, `[T]`. */
  tokens: TokenInfo[];
  /** Labels of the hidden states, `[n_layer + 1]`: "Emb", "L0", ... (HF hidden_states). */
  layerLabels: string[];
  /** Demo 1: one token's activations in every hidden state. */
  activations: {
    /** Token index. */
    token: number;
    /** Token text. */
    text: string;
    /** Degrees of freedom removed in `variance` and `std` (1). */
    ddof: 1;
    /** The quantile levels of `layers[].quantiles`. */
    quantiles: number[];
    /** Histogram edges shared by every layer, `[bins + 1]`: linspace(min, max) over all layers. */
    histogramEdges: number[];
    /** Per hidden state, `[n_layer + 1]`. */
    layers: ActivationSummary[];
  };
  /** Demo 2a: per chosen token, cosine similarity between its hidden states, `[L+1][L+1]`. */
  layerCosine: { token: number; text: string; matrix: number[][] }[];
  /** Demo 2b: per chosen hidden state, cosine similarity between tokens, `[T][T]`. */
  tokenCosine: { layer: number; label: string; matrix: number[][] }[];
  /**
   * Demo 2c: per hidden state, the cosine similarities of every pair of tokens 1..T-1 (the first
   * token excluded, as the seed), strict upper triangle i < j.
   */
  laminarProfile: { firstToken: 1; layers: ProfileLayer[] };
  /** Where the cosine matrices were computed. */
  backend: { cosine: "gpu" };
}

/** Labels of hidden states as the seed draws them: "Emb", then "L0".."L{n-1}". */
export function layerLabels(nLayer: number): string[] {
  return ["Emb", ...Array.from({ length: nLayer }, (_, i) => `L${i}`)];
}

/**
 * Token ids and texts of an input, checked against the model: empty input, texts longer than
 * the context, ids outside the vocabulary and too few tokens are clear errors.
 */
export function inputTokens(model: Gpt2Model, input: TokenInput, minTokens = 1): TokenInfo[] {
  if (typeof input === "string") {
    return tokenizeForModel(model, input, minTokens).map((p) => ({ id: p.id, text: p.text }));
  }
  const { vocabSize, nPositions } = model.config;
  const ids = input.ids;
  if (ids.length === 0) {
    throw new InvalidArgumentError("No token ids were given", "Give at least one token id");
  }
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new InvalidArgumentError(
        `Token id "${id}" is outside the model's vocabulary [0, ${vocabSize})`,
        "Use ids the model knows",
      );
    }
  }
  if (ids.length < minTokens) {
    throw new InvalidArgumentError(
      `The input has ${ids.length} token(s); this analysis needs at least ${minTokens}`,
      "Give a longer input",
    );
  }
  if (ids.length > nPositions) {
    throw new ContextLengthError(
      `The input has ${ids.length} tokens, more than the model's context of ${nPositions}`,
      `Shorten it to at most ${nPositions} tokens`,
    );
  }
  const tok = gpt2Tokenizer();
  return ids.map((id) => ({ id, text: id < tok.vocabSize ? tok.tokenText(id) : `<${id}>` }));
}

/** Resolve an index that may count from the end (`-1` = last) against `n` items. */
export function resolveIndex(i: number, n: number, what: string): number {
  const j = i < 0 ? n + i : i;
  if (!Number.isInteger(i) || j < 0 || j >= n) {
    throw new InvalidArgumentError(
      `${what} "${i}" is out of range; there are ${n}`,
      `Use 0..${n - 1}, or -1..-${n} to count from the end`,
    );
  }
  return j;
}

/** `np.linspace(0, n - 1, k, dtype=int)`: k evenly spaced indices including both ends. */
export function evenlySpaced(n: number, k: number): number[] {
  if (n <= 0) return [];
  return Array.from(linspace(0, n - 1, k), (v) => Math.floor(v));
}

/**
 * Hidden-state summaries of seed 003 (demos 1 and 2) for a text or token ids.
 *
 * Shapes: hidden states `[L+1, T, D]` (HF semantics, the last after ln_f) from one forward pass;
 * token x token cosine `[L+1, T, T]` and layer x layer cosine `[L+1, L+1]` per chosen token on
 * the GPU; everything read back in one map. Needs at least 3 tokens (the laminar profile drops
 * the first token and needs a pair).
 *
 * @example
 * ```ts ignore
 * using gpu = await Gpu.create();
 * const model = await Gpt2Model.load(gpu);
 * const r = await layers(model, "A wise man once said: Penguins are cute.");
 * r.activations.layers.map((l) => l.variance); // variance of " cute" per hidden state
 * r.laminarProfile.layers.map((l) => l.mean); // mean inter-token similarity per layer
 * ```
 */
export async function layers(
  model: Gpt2Model,
  input: TokenInput = LAYERS_DEFAULT_TEXT,
  options: LayersOptions = {},
): Promise<LayersResult> {
  const toks = inputTokens(model, input, 3);
  const T = toks.length;
  const { nLayer } = model.config;
  const NL = nLayer + 1; // hidden states
  const token = options.token === undefined
    ? Math.min(LAYERS_DEFAULT_TOKEN, T - 1)
    : resolveIndex(options.token, T, "Token");
  const tokenSel = (options.tokens ?? evenlySpaced(T, 4)).map((t) => resolveIndex(t, T, "Token"));
  const layerSel = (options.layers ?? evenlySpaced(NL, 4)).map((l) =>
    resolveIndex(l, NL, "Hidden-state index")
  );
  if (tokenSel.length === 0 || layerSel.length === 0) {
    throw new InvalidArgumentError("The token and layer lists must not be empty");
  }
  const bins = options.bins ?? 32;
  if (!Number.isInteger(bins) || bins < 1 || bins > 1000) {
    throw new InvalidArgumentError(`Bins must be an integer in 1..1000, got "${bins}"`);
  }
  const qs = [...(options.quantiles ?? LAYERS_DEFAULT_QUANTILES)];
  for (const q of qs) {
    if (!(q >= 0 && q <= 1)) {
      throw new InvalidArgumentError(`Quantile "${q}" is not in [0, 1]`, "Use e.g. 0.25,0.5,0.75");
    }
  }
  const progress = options.onProgress ?? (() => {});

  // GPU: one forward pass, the cosine matrices, one readback.
  progress("forward", 0, 1);
  const { cosT, layerMats, vecs } = await runGpu(model, toks, token, tokenSel);
  progress("forward", 1, 1);

  const labels = layerLabels(nLayer);
  // Demo 1: one token's activations [D] per hidden state, histograms on common edges.
  const lo = Math.min(...vecs.map((v) => min(v)));
  const hi = Math.max(...vecs.map((v) => max(v)));
  const edges = histogramEdges([lo, hi], { bins });
  const acts: ActivationSummary[] = vecs.map((v, l) => {
    let ss = 0;
    for (const x of v) ss += x * x;
    return {
      layer: l,
      label: labels[l],
      mean: mean(v),
      std: std(v, { ddof: 1 }),
      variance: variance(v, { ddof: 1 }),
      min: min(v),
      max: max(v),
      norm: Math.sqrt(ss),
      quantiles: qs.map((q) => quantile(v, q)),
      histogram: Array.from(histogram(v, { bins: edges }).counts),
    };
  });
  // Demo 2c: tokens 1..T-1 (the first excluded, as the seed), pairs i < j.
  const profile: ProfileLayer[] = [];
  for (let l = 0; l < NL; l++) {
    const vals: number[] = [];
    for (let i = 1; i < T; i++) {
      for (let j = i + 1; j < T; j++) vals.push(cosT[(l * T + i) * T + j]);
    }
    profile.push({
      layer: l,
      label: labels[l],
      pairs: vals.length,
      mean: mean(vals),
      std: std(vals),
      min: min(vals),
      q25: quantile(vals, 0.25),
      median: quantile(vals, 0.5),
      q75: quantile(vals, 0.75),
      max: max(vals),
    });
  }
  const square = (a: Float32Array, off: number, n: number) =>
    Array.from({ length: n }, (_, i) => Array.from(a.subarray(off + i * n, off + (i + 1) * n)));
  return {
    schema: "laminar.layers",
    version: 1,
    model: modelInfo(model),
    options: { token, tokens: tokenSel, layers: layerSel, bins, quantiles: qs },
    tokens: toks,
    layerLabels: labels,
    activations: {
      token,
      text: toks[token].text,
      ddof: 1,
      quantiles: qs,
      histogramEdges: Array.from(edges),
      layers: acts,
    },
    layerCosine: tokenSel.map((t, i) => ({
      token: t,
      text: toks[t].text,
      matrix: square(layerMats[i], 0, NL),
    })),
    tokenCosine: layerSel.map((l) => ({
      layer: l,
      label: labels[l],
      matrix: square(cosT, l * T * T, T),
    })),
    laminarProfile: { firstToken: 1, layers: profile },
    backend: { cosine: "gpu" },
  };
}

/**
 * The GPU part: hidden states [L+1, T, D], token x token cosine [L+1, T, T], layer x layer
 * cosine [L+1, L+1] per chosen token, and the chosen token's vectors [L+1][D]; one submission,
 * one readback.
 */
async function runGpu(
  model: Gpt2Model,
  toks: TokenInfo[],
  token: number,
  tokenSel: number[],
): Promise<{ cosT: Float32Array; layerMats: Float32Array[]; vecs: Float32Array[] }> {
  const T = toks.length;
  const { nLayer, nEmbd: D } = model.config;
  const NL = nLayer + 1;
  using fwd = await model.forward(toks.map((t) => t.id), { hiddenStates: true });
  const hs = fwd.hiddenStates!.reshape([NL, T, D]);
  const mats: Tensor[] = [];
  try {
    mats.push(pairwiseCosine(hs));
    for (const t of tokenSel) mats.push(layerCosine(hs, { token: t }));
    const vecRanges: BufferRange[] = [];
    for (let l = 0; l < NL; l++) {
      vecRanges.push({
        buffer: hs.buffer,
        offset: hs.offset + (l * T + token) * D * 4,
        size: D * 4,
      });
    }
    const bufs = await model.gpu.read([...mats.map((m) => m.range), ...vecRanges]);
    const f32 = (i: number, n: number) => new Float32Array(bufs[i], 0, n);
    return {
      cosT: f32(0, NL * T * T),
      layerMats: tokenSel.map((_, i) => f32(1 + i, NL * NL)),
      vecs: vecRanges.map((_, l) => f32(1 + tokenSel.length + l, D)),
    };
  } finally {
    for (const m of mats) m.dispose();
  }
}
