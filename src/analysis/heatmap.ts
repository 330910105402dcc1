/**
 * Text heatmap (seed 000): how well the model predicted each token of a text. Position `p`'s
 * next-token distribution is scored on the actual token `p + 1`: log-softmax, probability,
 * rank and entropy, computed on the GPU in the same pass as the model and read back once as
 * `[T, 5]`. One metric is min-max scaled to [0, 1] for colouring, exactly as the seed does.
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import type { Gpt2Model } from "../model/gpt2.ts";
import { type AnalysisOptions, type ModelInfo, modelInfo, tokenizeForModel } from "./common.ts";

/** The seed 000 text (the paragraph the notebook runs GPT-2 on): the CLI default. */
export const HEATMAP_DEFAULT_TEXT: string =
  "There are many statistical analyses that quantify bivariate (two variables) " +
  "relationships; in this post I will describe two — correlation and cosine " +
  "similarity — discuss how they relate to each other, and advise you on when " +
  "to use which one. The upshot is that the measures can be identical but are " +
  "often different. Which one to use depends entirely on whether the scale of " +
  "the data is important.";

/** What colours a token: its log-probability (the seed's choice), probability, rank or entropy. */
export type HeatmapMetric = "logprob" | "prob" | "rank" | "entropy";

/** The metrics {@linkcode heatmap} can colour by. */
export const HEATMAP_METRICS: readonly HeatmapMetric[] = ["logprob", "prob", "rank", "entropy"];

/** Options of {@linkcode heatmap}. */
export interface HeatmapOptions extends AnalysisOptions {
  /**
   * Softmax temperature: the logits are divided by it before the log-softmax, entropy and rank
   * (default 1, the seed's plain `F.log_softmax`). Must be positive and finite.
   */
  temperature?: number;
  /** Metric that is min-max scaled for the colours (default "logprob", as in the seed). */
  metric?: HeatmapMetric;
}

/** One token of the text: id, display text and byte span in the text's UTF-8 encoding. */
export interface HeatmapToken {
  /** GPT-2 token id. */
  id: number;
  /** Display text (bytes that do not form a whole character show as `\xNN`). */
  text: string;
  /** Byte offset of the token's first byte. */
  start: number;
  /** Byte offset just past the token's last byte. */
  end: number;
}

/** How the colouring metric was scaled. */
export interface HeatmapScale {
  /** The metric that was scaled. */
  metric: HeatmapMetric;
  /** Applied before scaling: "log10" for rank (ranks span orders of magnitude), else "none". */
  transform: "none" | "log10";
  /** Smallest (transformed) value over tokens 1..T-1. */
  min: number;
  /** Largest (transformed) value over tokens 1..T-1. */
  max: number;
}

/** Averages over the predicted tokens 1..T-1. */
export interface HeatmapSummary {
  /** Number of predicted tokens (T - 1). */
  predicted: number;
  /** Mean log-probability of the actual next token (nats). */
  meanLogprob: number;
  /** `exp(-meanLogprob)`. */
  perplexity: number;
  /** Fraction of tokens the model ranked first. */
  top1: number;
  /** Mean entropy of the predicting distributions (nats). */
  meanEntropy: number;
}

/** Result of {@linkcode heatmap}. Per-token arrays are `[T]`; index 0 is null (nothing predicts it). */
export interface HeatmapResult {
  /** Result type. */
  schema: "laminar.heatmap";
  /** Schema version. */
  version: 1;
  /** The model that produced it. */
  model: ModelInfo;
  /** The options used. */
  options: { temperature: number; metric: HeatmapMetric };
  /** The input text. */
  text: string;
  /** Tokens of the text, `[T]`. */
  tokens: HeatmapToken[];
  /** `log p(token i | tokens < i)` in nats, `[T]` (null at 0). */
  logprob: (number | null)[];
  /** `p(token i | tokens < i)`, `[T]` (null at 0). */
  prob: (number | null)[];
  /** Rank of token i in the distribution predicting it (1 = most likely), `[T]` (null at 0). */
  rank: (number | null)[];
  /** Entropy (nats) of the distribution predicting token i (from position i - 1), `[T]`. */
  entropy: (number | null)[];
  /**
   * The metric min-max scaled to [0, 1] over tokens 1..T-1, `[T]`. As in the seed, token 0
   * (which nothing predicts) keeps 0. When every value is equal the scaled values are 0.5.
   */
  scaled: number[];
  /** How `scaled` was made. */
  scale: HeatmapScale;
  /** Averages over the predicted tokens. */
  summary: HeatmapSummary;
}

/**
 * Min-max scale `values[1..]` to [0, 1] as the seed does (`y = v[1:]; v[1:] = (y - y.min()) /
 * (y.max() - y.min())`), leaving `out[0] = 0`. A constant series scales to 0.5 (the seed would
 * divide by zero). `[T]` → `[T]`.
 *
 * @example
 * ```ts
 * import { minMaxScaleFromSecond } from "./heatmap.ts";
 * minMaxScaleFromSecond([0, -4, -2, 0]).scaled; // [0, 0, 0.5, 1]
 * ```
 */
export function minMaxScaleFromSecond(
  values: ArrayLike<number>,
): { scaled: number[]; min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 1; i < values.length; i++) {
    min = Math.min(min, values[i]);
    max = Math.max(max, values[i]);
  }
  const range = max - min;
  const scaled = Array.from(
    { length: values.length },
    (_, i) => i === 0 ? 0 : range > 0 ? (values[i] - min) / range : 0.5,
  );
  return { scaled, min, max };
}

function checkOptions(options: HeatmapOptions): { temperature: number; metric: HeatmapMetric } {
  const temperature = options.temperature ?? 1;
  if (typeof temperature !== "number" || !(temperature > 0) || !Number.isFinite(temperature)) {
    throw new InvalidArgumentError(
      `Temperature must be a positive number, got "${temperature}"`,
      "Use a temperature such as 0.5, 1 or 2",
    );
  }
  const metric = options.metric ?? "logprob";
  if (!HEATMAP_METRICS.includes(metric)) {
    throw new InvalidArgumentError(
      `Unknown metric "${metric}"`,
      `Use one of ${HEATMAP_METRICS.join(", ")}`,
    );
  }
  return { temperature, metric };
}

/**
 * Score every token of `text` by the model's prediction of it (seed 000's text heatmap).
 *
 * One forward pass computes, on the GPU, the statistics of the actual next token at every
 * position (`[T, 5]`: log p, rank, entropy, max logit, logsumexp) and reads them back once.
 * Token `i` (i ≥ 1) gets the values of position `i - 1`, which predicts it; token 0 gets null.
 * The chosen metric is min-max scaled over tokens 1..T-1 (rank after log10).
 *
 * @param model A loaded GPT-2 model.
 * @param text The text (at least 2 tokens, at most the model's context).
 * @param options Temperature and colouring metric.
 * @returns Per-token values, the scaled metric and a summary.
 * @throws {InvalidArgumentError} Empty or one-token text, bad temperature or metric.
 * @throws {ContextLengthError} Text longer than the model's context.
 *
 * @example
 * ```ts ignore
 * import { Gpu } from "../gpu/context.ts";
 * import { Gpt2Model } from "../model/gpt2.ts";
 * const model = await Gpt2Model.load(await Gpu.create(), "default");
 * const r = await heatmap(model, "It was a dark and stormy night.");
 * r.tokens.map((t, i) => `${t.text}: ${r.logprob[i]}`);
 * ```
 */
export async function heatmap(
  model: Gpt2Model,
  text: string,
  options: HeatmapOptions = {},
): Promise<HeatmapResult> {
  const { temperature, metric } = checkOptions(options);
  const pieces = tokenizeForModel(model, text, 2);
  const T = pieces.length;
  options.onProgress?.("forward", 0, 1);
  // stats [1, T, 5]: (log p(next), rank, entropy, max logit, logsumexp) at each position.
  const out = await model.run(pieces.map((p) => p.id), { nextTokenStats: { temperature } });
  options.onProgress?.("forward", 1, 1);
  const stats = out.nextTokenStats!;

  const logprob: (number | null)[] = [null];
  const prob: (number | null)[] = [null];
  const rank: (number | null)[] = [null];
  const entropy: (number | null)[] = [null];
  for (let i = 1; i < T; i++) {
    const s = (i - 1) * 5;
    logprob.push(stats[s]);
    prob.push(Math.exp(stats[s]));
    rank.push(stats[s + 1]);
    entropy.push(stats[s + 2]);
  }

  const source = { logprob, prob, rank, entropy }[metric];
  const transform = metric === "rank" ? "log10" : "none";
  const values = source.map((v) => v === null ? 0 : transform === "log10" ? Math.log10(v) : v);
  const { scaled, min, max } = minMaxScaleFromSecond(values);

  const n = T - 1;
  let sumLp = 0, sumH = 0, top1 = 0;
  for (let i = 1; i < T; i++) {
    sumLp += logprob[i]!;
    sumH += entropy[i]!;
    if (rank[i] === 1) top1++;
  }
  return {
    schema: "laminar.heatmap",
    version: 1,
    model: modelInfo(model),
    options: { temperature, metric },
    text,
    tokens: pieces.map((p) => ({ id: p.id, text: p.text, start: p.start, end: p.end })),
    logprob,
    prob,
    rank,
    entropy,
    scaled,
    scale: { metric, transform, min, max },
    summary: {
      predicted: n,
      meanLogprob: sumLp / n,
      perplexity: Math.exp(-sumLp / n),
      top1: top1 / n,
      meanEntropy: sumH / n,
    },
  };
}
