/**
 * Softmax of a model's next-token logits (seed 002): top-k tokens at several temperatures with
 * their entropies, the numerical (in)stability of a textbook `exp(x) / sum(exp(x))` in float32
 * against the max-subtracted softmax, and a comparison with a second model's logits.
 *
 * The logits of the last position (`[V]`) come from one forward pass on the GPU and are read
 * back once; everything after that is CPU float64 arithmetic over that one row (it is tiny),
 * using the references in `src/stats`.
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import type { Gpt2Model } from "../model/gpt2.ts";
import {
  entropyFromLogits,
  histogram,
  naiveSoftmax,
  pearson,
  softmax,
  topK,
} from "../stats/mod.ts";
import {
  type AnalysisOptions,
  gpt2Tokenizer,
  type ModelInfo,
  modelInfo,
  tokenizeForModel,
} from "./common.ts";

/** The seed 002 prompt (Parts 3 and 4): the CLI default. */
export const SOFTMAX_DEFAULT_TEXT: string = "It was a dark and stormy";

/** The seed's temperatures for the top-k plot (Part 4). */
export const SEED_TEMPERATURES: readonly number[] = [0.5, 1, 1.5];

/** The seed's toy vector (Part 1). */
export const TOY_LOGITS: readonly number[] = [1, 1.1, 2, 3, 5, 6, 6.1];

/** float32 `exp` overflows to Infinity above this (`ln(FLT_MAX)`). */
export const F32_EXP_OVERFLOW: number = 88.72283935546875;

/** Max logit after the "overflow" shift of the stability demonstration (> 88.72). */
export const OVERFLOW_MAX: number = 100;

/** Max logit after the "underflow" shift (every float32 `exp` is 0 below ≈ -103.97). */
export const UNDERFLOW_MAX: number = -120;

/** Default number of token ids in the model-vs-model scatter sample (`scatterSize`). */
export const SCATTER_SIZE: number = 2000;

/** How many of each model's most likely ids the scatter sample always holds (at most). */
export const SCATTER_TOP: number = 200;

/** Options of {@linkcode softmaxAnalysis}. */
export interface SoftmaxAnalysisOptions extends AnalysisOptions {
  /** How many of the most likely next tokens to list (default 10, as in the seed). */
  k?: number;
  /** Temperatures for the top-k probabilities and entropies (default 0.5, 1, 1.5: the seed's). */
  temperatures?: number[];
  /** A second model (same vocabulary) whose last-position logits are compared with the first. */
  compareModel?: Gpt2Model;
  /** Number of bins of the logit histogram (default 50). */
  bins?: number;
  /**
   * Token ids in the model-vs-model scatter sample (default {@linkcode SCATTER_SIZE}; 0: no
   * sample; more than the vocabulary: every id). See {@linkcode scatterSample}.
   */
  scatterSize?: number;
}

/** One token of the prompt. */
export interface SoftmaxToken {
  /** GPT-2 token id. */
  id: number;
  /** Display text. */
  text: string;
  /** Byte offset of the token's first byte. */
  start: number;
  /** Byte offset just past the token's last byte. */
  end: number;
}

/** Summary of a logit row `[V]`. */
export interface LogitSummary {
  /** Smallest logit. */
  min: number;
  /** Largest logit. */
  max: number;
  /** Mean logit. */
  mean: number;
  /** Standard deviation (ddof 0). */
  std: number;
  /** Sum of the raw logits (the seed prints it next to the softmax's sum, which is 1). */
  sum: number;
  /** Histogram of the logits (numpy semantics): `counts [bins]`, `edges [bins + 1]`. */
  histogram: { counts: number[]; edges: number[] };
}

/** The top-k next tokens, most likely first (the same at every positive temperature). */
export interface TopTokens {
  /** Token ids, `[k]`. */
  ids: number[];
  /** Display texts, `[k]`. */
  texts: string[];
  /** Raw logits, `[k]`. */
  logits: number[];
}

/** The distribution at one temperature. */
export interface TemperatureRow {
  /** The temperature T (logits divided by T). */
  temperature: number;
  /** Probabilities of the top-k tokens, `[k]`. */
  probs: number[];
  /** Sum of the top-k probabilities. */
  topMass: number;
  /** Entropy of the whole distribution `[V]`, nats. */
  entropy: number;
  /** The same in bits. */
  entropyBits: number;
}

/** One case of the numerical-stability demonstration (float32 arithmetic, as PyTorch/numpy). */
export interface StabilityCase {
  /**
   * "raw" (the logits as they are), "max-subtracted" (the seed's fix: `x - max(x)`),
   * "shifted-overflow" (`x + c` with max 100: exp overflows) or "shifted-underflow"
   * (`x + c` with max -120: every exp underflows). Softmax is shift-invariant, so the exact
   * answer is the same for all four.
   */
  name: "raw" | "max-subtracted" | "shifted-overflow" | "shifted-underflow";
  /** The constant added to every logit. */
  offset: number;
  /** Smallest shifted logit. */
  min: number;
  /** Largest shifted logit. */
  max: number;
  /** How many float32 `exp(x)` are +Infinity (overflow). */
  expInf: number;
  /** How many float32 `exp(x)` are exactly 0 (underflow). */
  expZero: number;
  /** float32 `sum(exp(x))` (null when not finite). */
  expSum: number | null;
  /** How many textbook probabilities `exp(x) / sum(exp(x))` are NaN. */
  nan: number;
  /** Sum of the textbook probabilities (null when NaN). */
  probSum: number | null;
  /** max |textbook - stable| over the `[V]` probabilities (null when any textbook one is NaN). */
  maxAbsDiff: number | null;
}

/** The seed's Part 1: a toy vector's softmax by hand and by the library. */
export interface ToySoftmax {
  /** The input `[7]`. */
  z: number[];
  /** `exp(z) / sum(exp(z))` in float64, `[7]`. */
  manual: number[];
  /** Max-subtracted softmax, `[7]`. */
  library: number[];
  /** Sum of `manual`. */
  sum: number;
}

/**
 * Both models' logits and probabilities at a deterministic subset of token ids (the data of the
 * seed's "GPT-2 SMALL vs GPT-2 LARGE" scatter without shipping `[V]` rows). The first `union`
 * ids are the union of both models' top-`top` ids (the first model's in rank order, then the
 * second's that are not among them); the rest are spread evenly over the other ids, ascending.
 * Values are rounded to 9 significant digits: exact for the float32 logits, relative error
 * at most 5e-9 for the float64 probabilities.
 */
export interface ScatterSample {
  /** How many of each model's most likely ids were taken (`min(200, floor(size / 2))`). */
  top: number;
  /** Size of the union of the two top lists: `ids[0 .. union)`. */
  union: number;
  /** Token ids, `[n]` (n = `min(scatterSize, V)`). */
  ids: number[];
  /** The first model's logits at `ids`, `[n]`. */
  a: number[];
  /** The second model's logits at `ids`, `[n]`. */
  b: number[];
  /** The first model's softmax probabilities (T = 1) at `ids`, `[n]`. */
  pa: number[];
  /** The second model's, `[n]`. */
  pb: number[];
}

/** Comparison of the first model's logits with a second model's, same prompt. */
export interface ModelComparison {
  /** The second model. */
  model: ModelInfo;
  /** Its logit summary. */
  logits: LogitSummary;
  /** Its top-k tokens. */
  top: TopTokens;
  /** Its top-k probabilities at temperature 1, `[k]`. */
  probs: number[];
  /**
   * Pearson correlation of the two full logit rows, all `[V]` ids (max-subtracting changes
   * nothing); not of the scatter sample.
   */
  pearsonLogits: number | null;
  /** Pearson correlation of the two full softmax rows `[V]` (temperature 1). */
  pearsonProbs: number | null;
  /** How many of the first model's top-k ids are in the second model's top-k. */
  topOverlap: number;
  /** Whether both models' most likely token is the same. */
  sameTop1: boolean;
  /** The scatter sample (null when `scatterSize` is 0). Added in version 1 without a bump. */
  scatter: ScatterSample | null;
}

/** Result of {@linkcode softmaxAnalysis}. */
export interface SoftmaxResult {
  /** Result type. */
  schema: "laminar.softmax";
  /** Schema version. */
  version: 1;
  /** The model. */
  model: ModelInfo;
  /** The options used (`compareModel`: the second model's source, or null). */
  options: {
    k: number;
    temperatures: number[];
    compareModel: string | null;
    bins: number;
    scatterSize: number;
  };
  /** The prompt. */
  text: string;
  /** Its tokens, `[T]`. */
  tokens: SoftmaxToken[];
  /** Summary of the last position's logits `[V]`. */
  logits: LogitSummary;
  /** Sum of the softmax probabilities at temperature 1 (1 up to rounding). */
  probSum: number;
  /** The top-k next tokens. */
  top: TopTokens;
  /** Top-k probabilities and entropy at each temperature, `[temperatures]`. */
  temperatures: TemperatureRow[];
  /** Textbook vs stable softmax in float32, `[4]` cases. */
  stability: StabilityCase[];
  /** The seed's toy softmax. */
  toy: ToySoftmax;
  /** The comparison with `compareModel`, or null. */
  compare: ModelComparison | null;
}

const finite = (v: number): number | null => Number.isFinite(v) ? v : null;

function checkOptions(options: SoftmaxAnalysisOptions, V: number) {
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k < 1 || k > V) {
    throw new InvalidArgumentError(
      `K must be an integer from 1 to the vocabulary size ${V}, got "${k}"`,
      "Use --k 10, for example",
    );
  }
  const temperatures = options.temperatures ?? [...SEED_TEMPERATURES];
  if (temperatures.length === 0) {
    throw new InvalidArgumentError(
      "No temperatures were given",
      "Use temperatures such as 0.5,1,2",
    );
  }
  for (const t of temperatures) {
    if (typeof t !== "number" || !(t > 0) || !Number.isFinite(t)) {
      throw new InvalidArgumentError(
        `Temperature must be a positive number, got "${t}"`,
        "Use temperatures such as 0.5,1,2",
      );
    }
  }
  const bins = options.bins ?? 50;
  if (!Number.isInteger(bins) || bins < 1) {
    throw new InvalidArgumentError(`Bins must be a positive integer, got "${bins}"`);
  }
  const scatterSize = options.scatterSize ?? SCATTER_SIZE;
  if (!Number.isInteger(scatterSize) || scatterSize < 0) {
    throw new InvalidArgumentError(
      `Scatter size must be a non-negative integer, got "${scatterSize}"`,
      "Use 2000, for example, or 0 for no scatter sample",
    );
  }
  return { k, temperatures, bins, scatterSize };
}

/** Summary and histogram of a logit row `[V]`. */
export function summarizeLogits(logits: ArrayLike<number>, bins = 50): LogitSummary {
  let min = Infinity, max = -Infinity, sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const mean = sum / logits.length;
  let ss = 0;
  for (let i = 0; i < logits.length; i++) ss += (logits[i] - mean) ** 2;
  const h = histogram(logits, { bins });
  return {
    min,
    max,
    mean,
    std: Math.sqrt(ss / logits.length),
    sum,
    histogram: { counts: Array.from(h.counts), edges: Array.from(h.edges) },
  };
}

/**
 * The textbook softmax `exp(x + offset) / sum(exp(x + offset))` in float32 against the stable
 * softmax of `x` (float64): overflow and underflow counts, sums and the largest difference.
 * Every exp and division is rounded to float32; the sum is exact then rounded once to float32,
 * like PyTorch's and numpy's cascade/pairwise summation (a running float32 sum over 50257 terms
 * would add ~1e-4 of rounding error of its own and hide the point).
 */
export function stabilityCase(
  logits: ArrayLike<number>,
  name: StabilityCase["name"],
  offset: number,
  stable: ArrayLike<number> = softmax(logits),
): StabilityCase {
  const f = Math.fround;
  const V = logits.length;
  const e = new Float64Array(V); // float32 exp(x + offset), [V]
  let min = Infinity, max = -Infinity, expInf = 0, expZero = 0, sum = 0;
  for (let i = 0; i < V; i++) {
    const x = f(logits[i] + offset);
    if (x < min) min = x;
    if (x > max) max = x;
    e[i] = f(Math.exp(x));
    if (e[i] === Infinity) expInf++;
    if (e[i] === 0) expZero++;
    sum += e[i];
  }
  const expSum = f(sum);
  let nan = 0, probSum = 0, diff = -Infinity;
  for (let i = 0; i < V; i++) {
    const p = f(e[i] / expSum);
    if (Number.isNaN(p)) {
      nan++;
      continue;
    }
    probSum += p;
    diff = Math.max(diff, Math.abs(p - stable[i]));
  }
  return {
    name,
    offset,
    min,
    max,
    expInf,
    expZero,
    expSum: finite(expSum),
    nan,
    probSum: nan > 0 ? null : probSum,
    maxAbsDiff: nan > 0 ? null : finite(diff),
  };
}

/** 9 significant digits: a float32 survives the round trip exactly. */
const r9 = (v: number): number => Number(v.toPrecision(9));

/**
 * The model-vs-model scatter sample: `min(size, V)` token ids with both logit rows and both
 * probability rows at them. It holds the union of both rows' top `min(200, floor(size / 2))` ids
 * (where the two distributions matter, and where a plain sample of 2000 of 50257 ids would put
 * almost nothing), then fills the rest with ids spread evenly over the remaining ones (ascending
 * order, the `j`-th at index `floor((j + 1/2) · R / m)` of the R remaining): deterministic, no
 * seed to carry, and GPT-2's ids follow the BPE merge order, so an even stride covers frequent
 * and rare tokens alike.
 *
 * @param a The first logit row `[V]`.
 * @param b The second logit row `[V]`.
 * @param size How many ids (0: null; above V: all of them).
 * @param pa `softmax(a)`, when already computed.
 * @param pb `softmax(b)`, when already computed.
 * @returns The sample, or null for size 0.
 * @throws {InvalidArgumentError} Rows of different lengths, a size that is not an integer ≥ 0.
 *
 * @example
 * ```ts
 * import { scatterSample } from "./softmax.ts";
 * const s = scatterSample([0, 3, 1, 2], [1, 0, 3, 2], 2)!;
 * s.ids; // [1, 2]: the top-1 of each row
 * ```
 */
export function scatterSample(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  size: number = SCATTER_SIZE,
  pa: ArrayLike<number> = softmax(a),
  pb: ArrayLike<number> = softmax(b),
): ScatterSample | null {
  const V = a.length;
  if (b.length !== V || pa.length !== V || pb.length !== V) {
    throw new InvalidArgumentError(`Rows of different lengths (${V} and ${b.length})`);
  }
  if (!Number.isInteger(size) || size < 0) {
    throw new InvalidArgumentError(`Scatter size must be a non-negative integer, got "${size}"`);
  }
  if (size === 0 || V === 0) return null;
  const n = Math.min(V, size);
  const top = Math.min(SCATTER_TOP, Math.floor(n / 2));
  const ids: number[] = [];
  const seen = new Uint8Array(V);
  for (const row of [a, b]) {
    for (const id of topK(row, top).indices) {
      if (!seen[id]) {
        seen[id] = 1;
        ids.push(id);
      }
    }
  }
  const union = ids.length;
  const rest: number[] = [];
  for (let i = 0; i < V; i++) if (!seen[i]) rest.push(i);
  const m = n - union;
  for (let j = 0; j < m; j++) ids.push(rest[Math.floor((j + 0.5) * rest.length / m)]);
  return {
    top,
    union,
    ids,
    a: ids.map((i) => r9(a[i])),
    b: ids.map((i) => r9(b[i])),
    pa: ids.map((i) => r9(pa[i])),
    pb: ids.map((i) => r9(pb[i])),
  };
}

function topTokens(logits: ArrayLike<number>, k: number): TopTokens {
  const tok = gpt2Tokenizer();
  const top = topK(logits, k);
  const ids = Array.from(top.indices);
  return {
    ids,
    texts: ids.map((id) => tok.tokenText(id)),
    logits: Array.from(top.values),
  };
}

async function lastLogits(model: Gpt2Model, ids: number[]): Promise<Float32Array> {
  // logits [1, 1, V]: only the last position's row is computed into the output and read back.
  const out = await model.run(ids, { logits: "last" });
  return out.logits!;
}

/**
 * The next-token distribution at the end of `text` (seed 002): top-k tokens with their
 * probabilities at several temperatures, the entropy at each, the textbook-vs-stable softmax
 * demonstration in float32, the seed's toy softmax, and (with `compareModel`) how a second
 * model's logits relate to the first's (the seed compares gpt2 with gpt2-large): Pearson r over
 * the whole vocabulary and a scatter sample of both rows ({@linkcode scatterSample}).
 *
 * @param model A loaded GPT-2 model.
 * @param text The prompt (at least one token, at most the model's context).
 * @param options k, temperatures, a model to compare with, the scatter sample's size.
 * @returns The result; JSON-serialisable.
 * @throws {InvalidArgumentError} Empty text, bad k, temperature or scatter size, models with
 *   different vocabularies.
 * @throws {ContextLengthError} Text longer than a model's context.
 *
 * @example
 * ```ts ignore
 * import { Gpu } from "../gpu/context.ts";
 * import { Gpt2Model } from "../model/gpt2.ts";
 * const model = await Gpt2Model.load(await Gpu.create(), "default");
 * const r = await softmaxAnalysis(model, "It was a dark and stormy", { k: 5 });
 * r.top.texts; // the 5 most likely next tokens
 * r.temperatures.map((t) => t.entropy); // entropy (nats) at T = 0.5, 1, 1.5
 * ```
 */
export async function softmaxAnalysis(
  model: Gpt2Model,
  text: string,
  options: SoftmaxAnalysisOptions = {},
): Promise<SoftmaxResult> {
  const V = model.config.vocabSize;
  const { k, temperatures, bins, scatterSize } = checkOptions(options, V);
  const pieces = tokenizeForModel(model, text, 1);
  const other = options.compareModel;
  if (other) {
    if (other.config.vocabSize !== V) {
      throw new InvalidArgumentError(
        `The models have different vocabularies (${V} and ${other.config.vocabSize} tokens)`,
        "Compare models that share the GPT-2 vocabulary",
      );
    }
    tokenizeForModel(other, text, 1);
  }
  const ids = pieces.map((p) => p.id);
  options.onProgress?.("forward", 0, other ? 2 : 1);
  const logits = await lastLogits(model, ids); // [V]
  options.onProgress?.("forward", 1, other ? 2 : 1);

  const p1 = softmax(logits); // [V], T = 1
  let probSum = 0;
  for (let i = 0; i < V; i++) probSum += p1[i];
  const top = topTokens(logits, k);
  const rows: TemperatureRow[] = temperatures.map((temperature) => {
    const p = softmax(logits, { temperature });
    const probs = top.ids.map((id) => p[id]);
    const entropy = entropyFromLogits(logits, { temperature });
    return {
      temperature,
      probs,
      topMass: probs.reduce((a, b) => a + b, 0),
      entropy,
      entropyBits: entropy / Math.LN2,
    };
  });

  const summary = summarizeLogits(logits, bins);
  const stability: StabilityCase[] = [
    stabilityCase(logits, "raw", 0, p1),
    stabilityCase(logits, "max-subtracted", -summary.max, p1),
    stabilityCase(logits, "shifted-overflow", OVERFLOW_MAX - summary.max, p1),
    stabilityCase(logits, "shifted-underflow", UNDERFLOW_MAX - summary.max, p1),
  ];

  const manual = naiveSoftmax(TOY_LOGITS);
  const toy: ToySoftmax = {
    z: [...TOY_LOGITS],
    manual: Array.from(manual),
    library: Array.from(softmax(TOY_LOGITS)),
    sum: manual.reduce((a, b) => a + b, 0),
  };

  let compare: ModelComparison | null = null;
  if (other) {
    const logits2 = await lastLogits(other, ids);
    options.onProgress?.("forward", 2, 2);
    const p2 = softmax(logits2);
    const top2 = topTokens(logits2, k);
    const set2 = new Set(top2.ids);
    compare = {
      model: modelInfo(other),
      logits: summarizeLogits(logits2, bins),
      top: top2,
      probs: top2.ids.map((id) => p2[id]),
      pearsonLogits: finite(pearson(logits, logits2)),
      pearsonProbs: finite(pearson(p1, p2)),
      topOverlap: top.ids.filter((id) => set2.has(id)).length,
      sameTop1: top.ids[0] === top2.ids[0],
      scatter: scatterSample(logits, logits2, scatterSize, p1, p2),
    };
  }

  return {
    schema: "laminar.softmax",
    version: 1,
    model: modelInfo(model),
    options: {
      k,
      temperatures: [...temperatures],
      compareModel: other?.source ?? null,
      bins,
      scatterSize,
    },
    text,
    tokens: pieces.map((p) => ({ id: p.id, text: p.text, start: p.start, end: p.end })),
    logits: summary,
    probSum,
    top,
    temperatures: rows,
    stability,
    toy,
    compare,
  };
}
