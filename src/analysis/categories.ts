/**
 * Category selectivity of word hidden states (seed 001, parts 1–3): a batch of single-token
 * words with category labels goes through the model once; per hidden-state layer the cosine
 * similarity of every pair of words is computed on the GPU, split into within-category and
 * across-category pairs (upper triangle, i < j: the seed's `np.triu` mask), and the two
 * distributions are compared by their mean difference Δ and a Student t-test
 * (`scipy.stats.ttest_ind` defaults).
 *
 * What the seed computes, and what this module returns:
 * - Part 1: the batch `[N, 1]` of words (each `" word"`, with its leading space, is one GPT-2
 *   token) and its hidden states; the plot of `hs.var(dim=0)` per layer, i.e. for every layer
 *   the variance across the N words of each of the D dimensions (torch's default, ddof 1):
 *   {@linkcode CategoriesResult.variance} `[L+1][D]`.
 * - Part 2: the category mask, one layer's cosine matrix (`layer`, default 4 as the seed's
 *   `layeri`) and the within / across distributions with their histograms (`density=True`).
 * - Part 3: the laminar profile over all layers — within mean, across mean, Δ and t (the
 *   seed's `dist_metrics[0..3]`) — and its panel D, "impact of normalization": Δ against t,
 *   i.e. the mean difference against the same difference normalised by its standard error.
 *   The seed normalises nothing else (its `hs /= norm` is the cosine's own normalisation), so
 *   there is one variant and panel D is drawn from `layers[i].delta` and `layers[i].t`. The
 *   seed's last cell, each word followed by the model's most likely next token, is
 *   {@linkcode CategoryWordInfo.next}.
 * @module
 */

import { FormatError, InvalidArgumentError } from "../errors.ts";
import type { Gpt2Model } from "../model/gpt2.ts";
import { pairwiseCosine } from "../pairwise/pairwise.ts";
import { readAll } from "../tensor/tensor.ts";
import { mean, std } from "../stats/describe.ts";
import { histogram, histogramDensity, histogramEdges, linspace } from "../stats/histogram.ts";
import { ttestInd } from "../stats/ttest.ts";
import { type AnalysisOptions, gpt2Tokenizer, type ModelInfo, modelInfo } from "./common.ts";

/** One labelled word. */
export interface CategoryWord {
  /** Category name ("space", "furniture", ...). */
  category: string;
  /** The word, without the leading space (it is added when tokenizing, see `leadingSpace`). */
  word: string;
  /**
   * Token id to use instead of tokenizing the word (for models with another vocabulary, e.g.
   * the test fixture whose ids are GPT-2 ids mod 2048).
   */
  id?: number;
}

/**
 * The seed's 34 words in three categories (space, furniture, fruit). Each `" word"` is one
 * GPT-2 token; without the space 15 of them (galaxy, asteroid, comet, cosmos, ceiling, sofa,
 * couch, carpet, lamp, pear, grape, banana, cherry, peach, jelly) are two or more tokens.
 */
export const SEED_CATEGORY_WORDS: readonly CategoryWord[] = Object.freeze(
  ([
    ["space", "galaxy asteroid comet cosmos space sun planet moon star orbit"],
    ["furniture", "ceiling sofa couch carpet door window lamp chair table rug bed floor wall"],
    ["fruit", "pear grape banana cherry peach apple seed jelly orange lime fruit"],
  ] as const).flatMap(([category, list]) =>
    list.split(" ").map((word) => Object.freeze({ category, word }))
  ),
);

/** Options of {@linkcode categories}. */
export interface CategoriesOptions extends AnalysisOptions {
  /** Tokenize each word as `" " + word` (default true, as the seed: one token each). */
  leadingSpace?: boolean;
  /** Histogram bins of the within / across distributions (default 20, as the seed). */
  bins?: number;
  /**
   * Fixed histogram range `[lo, hi]` for every layer; default: per layer, the smallest and
   * largest similarity of all pairs, so both distributions share one set of edges.
   */
  range?: [number, number];
  /** The hidden-state layer whose full cosine matrix is returned (default min(4, n_layer)). */
  layer?: number;
  /** Also return the cosine matrices of every layer, `[L+1][N][N]` (default false). */
  allMatrices?: boolean;
}

/** A word of the result. */
export interface CategoryWordInfo {
  /** The word as given. */
  word: string;
  /** Its category. */
  category: string;
  /** The token id the model saw. */
  id: number;
  /** The token's text (with its leading space). */
  token: string;
  /** The model's most likely next token after this one-token input (argmax of the logits). */
  next: { id: number; token: string };
}

/** Summary of a set of similarity values. */
export interface DistributionSummary {
  /** Number of values (pairs). */
  n: number;
  /** Mean. */
  mean: number;
  /** Standard deviation (ddof 1, torch's default). */
  std: number;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
}

/** The statistics of one hidden-state layer. */
export interface CategoryLayer {
  /** Hidden-state index: 0 = embeddings, l = output of block l (the last after ln_f). */
  layer: number;
  /** Short name for tables and axes: "emb", "1", ..., "6 ln_f". */
  label: string;
  /** Within-category pairs (same category, i < j). */
  within: DistributionSummary;
  /** Across-category pairs (different categories, i < j). */
  across: DistributionSummary;
  /** mean(within) − mean(across). */
  delta: number;
  /** Student t of within vs across (`ttest_ind`, equal variances); null when undefined. */
  t: number | null;
  /** Degrees of freedom, n_within + n_across − 2. */
  df: number;
  /** Two-sided p-value; null when undefined. */
  p: number | null;
  /** Density histograms (`density=True`) of both distributions on common edges. */
  histogram: { edges: number[]; within: (number | null)[]; across: (number | null)[] };
  /**
   * Mean similarity per pair of categories `[K][K]` (diagonal: within one category, i < j),
   * in the order of {@linkcode CategoriesResult.categories}.
   */
  blockMeans: number[][];
  /** Summary of this layer's per-dimension variance across words (part 1). */
  variance: { mean: number; median: number; max: number };
}

/** Result of {@linkcode categories}. */
export interface CategoriesResult {
  /** Result type. */
  schema: "laminar.categories";
  /** Schema version. */
  version: 1;
  /** The model. */
  model: ModelInfo;
  /** The options used (defaults filled in). */
  options: {
    leadingSpace: boolean;
    bins: number;
    range: [number, number] | null;
    layer: number;
    allMatrices: boolean;
  };
  /** Categories in order of first appearance, with their words. */
  categories: { name: string; words: string[] }[];
  /** The N words in input order (the order of the matrices' rows). */
  words: CategoryWordInfo[];
  /** Pair counts of the mask: within and across categories (i < j). */
  pairs: { within: number; across: number };
  /** One entry per hidden state, L+1 of them. */
  layers: CategoryLayer[];
  /** Part 1: variance across the N words of every dimension, ddof 1, `[L+1][D]`. */
  variance: number[][];
  /** Part 2: the full (symmetric) cosine matrix of one layer, `[N][N]`. */
  matrix: { layer: number; values: number[][] };
  /** The cosine matrices of every layer `[L+1][N][N]` (only with `allMatrices`). */
  matrices?: number[][][];
}

const MAX_WORDS = 1024;

/**
 * Parse a words file: one `category,word` per line; blank lines and lines starting with `#`
 * are skipped, spaces around both fields are trimmed.
 *
 * @throws {FormatError} For a line without a comma, with an empty field or with more than one
 * comma (all bad lines are listed).
 *
 * @example
 * ```ts
 * import { parseCategoryWords } from "./categories.ts";
 * parseCategoryWords("fruit,apple\nfruit,pear\n# furniture\nfurniture,sofa\nfurniture,rug\n");
 * // [{ category: "fruit", word: "apple" }, ..., { category: "furniture", word: "rug" }]
 * ```
 */
export function parseCategoryWords(text: string, source = "The words file"): CategoryWord[] {
  const out: CategoryWord[] = [];
  const bad: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const parts = line.split(",").map((s) => s.trim());
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
      bad.push(`line ${i + 1}: "${raw}"`);
      return;
    }
    out.push({ category: parts[0], word: parts[1] });
  });
  if (bad.length > 0) {
    throw new FormatError(
      `${source} has ${bad.length} malformed line${bad.length === 1 ? "" : "s"}: ${
        bad.slice(0, 10).join(", ")
      }${bad.length > 10 ? ", ..." : ""}`,
      'Write one "category,word" per line, e.g. "fruit,apple"',
    );
  }
  return out;
}

/** A word with its token. */
interface Resolved {
  word: string;
  category: string;
  label: number;
  id: number;
}

/**
 * Check a word list (at least two categories, each with at least two words, no duplicates,
 * every word one token) and tokenize it. Needs no model, so a CLI can check before loading.
 *
 * @throws {InvalidArgumentError} Listing every word that is not one token, or naming the
 * category with fewer than two words.
 */
export function checkCategoryWords(
  words: readonly CategoryWord[],
  leadingSpace = true,
): { category: string; word: string; id: number }[] {
  return resolve(words, leadingSpace).map(({ category, word, id }) => ({ category, word, id }));
}

function resolve(words: readonly CategoryWord[], leadingSpace: boolean): Resolved[] {
  if (words.length > MAX_WORDS) {
    throw new InvalidArgumentError(
      `The list has ${words.length} words, more than ${MAX_WORDS}`,
      "Use fewer words: the analysis compares every pair",
    );
  }
  const names: string[] = [];
  const count = new Map<string, number>();
  for (const w of words) {
    if (typeof w.word !== "string" || w.word.trim() === "" || typeof w.category !== "string") {
      throw new InvalidArgumentError(
        `Every word needs a non-empty word and a category, got "${JSON.stringify(w)}"`,
      );
    }
    if (!count.has(w.category)) names.push(w.category);
    count.set(w.category, (count.get(w.category) ?? 0) + 1);
  }
  if (names.length < 2) {
    throw new InvalidArgumentError(
      `The words have ${names.length} categor${names.length === 1 ? "y" : "ies"}${
        names.length ? ` ("${names[0]}")` : ""
      }; at least 2 are needed`,
      "Give words of two or more categories, so across-category pairs exist",
    );
  }
  const small = names.filter((n) => count.get(n)! < 2);
  if (small.length > 0) {
    throw new InvalidArgumentError(
      `Categor${small.length === 1 ? "y" : "ies"} ${small.map((s) => `"${s}"`).join(", ")} ${
        small.length === 1 ? "has" : "have"
      } only one word`,
      "Give every category at least two words, so within-category pairs exist",
    );
  }
  const seen = new Set<string>();
  const dups = new Set<string>();
  for (const w of words) (seen.has(w.word) ? dups : seen).add(w.word);
  if (dups.size > 0) {
    throw new InvalidArgumentError(
      `Words appear more than once: ${[...dups].map((d) => `"${d}"`).join(", ")}`,
      "List every word once",
    );
  }
  const tok = gpt2Tokenizer();
  const multi: string[] = [];
  const out = words.map((w) => {
    let id = w.id;
    if (id === undefined) {
      const text = leadingSpace ? " " + w.word : w.word;
      const ids = tok.encode(text, { allowSpecial: false });
      if (ids.length !== 1) {
        multi.push(
          `"${text}" (${ids.length} tokens: ${ids.map((i) => JSON.stringify(tok.tokenText(i)))})`,
        );
      }
      id = ids[0];
    }
    return { word: w.word, category: w.category, label: names.indexOf(w.category), id };
  });
  if (multi.length > 0) {
    throw new InvalidArgumentError(
      `${multi.length} word${multi.length === 1 ? " is" : "s are"} not one token: ${
        multi.join(", ")
      }`,
      leadingSpace
        ? 'Use words that GPT-2 encodes as one token with a leading space (" apple")'
        : "Use one-token words, or keep the leading space (most common words are one token " +
          "with it)",
    );
  }
  return out;
}

/** Within- and across-category values of a row-major `[N, N]` matrix (i < j, row by row). */
export function splitPairs(
  matrix: ArrayLike<number>,
  labels: readonly number[],
): { within: Float64Array; across: Float64Array } {
  const n = labels.length;
  const within: number[] = [];
  const across: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      (labels[i] === labels[j] ? within : across).push(matrix[i * n + j]);
    }
  }
  return { within: Float64Array.from(within), across: Float64Array.from(across) };
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function summary(v: Float64Array): DistributionSummary {
  let lo = Infinity, hi = -Infinity;
  for (const x of v) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
  return {
    n: v.length,
    mean: mean(v),
    std: v.length > 1 ? std(v, { ddof: 1 }) : NaN,
    min: lo,
    max: hi,
  };
}

function layerLabel(l: number, nLayer: number): string {
  return l === 0 ? "emb" : l === nLayer ? `${l} ln_f` : String(l);
}

function matrixRows(m: Float32Array, off: number, n: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from(m.subarray(off + i * n, off + i * n + n)));
}

/**
 * Category selectivity per layer (seed 001, parts 1–3): one batched forward of the N words
 * `[N, 1]` with hidden states `[L+1, N, D]` and last-position logits, the cosine matrices
 * `[L+1, N, N]` on the GPU, one readback; then per layer the within / across split (upper
 * triangle), Δ, Student t, histograms and the per-dimension variance across words (float64
 * on the CPU: the data are a few thousand values).
 *
 * @throws {InvalidArgumentError} For fewer than two categories, a category with one word, a
 * duplicate word, words that are not one token (all listed), ids outside the vocabulary, or
 * bad options.
 *
 * @example
 * ```ts ignore
 * import { Gpu } from "../gpu/context.ts";
 * import { Gpt2Model } from "../model/gpt2.ts";
 * using gpu = await Gpu.create();
 * const model = await Gpt2Model.load(gpu); // the shipped sotu-gpt2-mini
 * const r = await categories(model); // the seed's 34 words
 * for (const l of r.layers) console.log(l.label, l.delta.toFixed(3), l.t?.toFixed(2));
 * ```
 */
export async function categories(
  model: Gpt2Model,
  words: readonly CategoryWord[] = SEED_CATEGORY_WORDS,
  options: CategoriesOptions = {},
): Promise<CategoriesResult> {
  const { nLayer, nEmbd: D, vocabSize: V } = model.config;
  const leadingSpace = options.leadingSpace ?? true;
  const bins = options.bins ?? 20;
  if (!Number.isInteger(bins) || bins < 1 || bins > 1000) {
    throw new InvalidArgumentError(`bins must be an integer from 1 to 1000, got "${bins}"`);
  }
  const range = options.range ?? null;
  if (range && !(Number.isFinite(range[0]) && Number.isFinite(range[1]) && range[0] < range[1])) {
    throw new InvalidArgumentError(
      `range must be two finite numbers lo < hi, got "${range}"`,
      "Cosine similarities lie in [-1, 1]; e.g. 0.4,1 as the seed's part 6",
    );
  }
  const matLayer = options.layer ?? Math.min(4, nLayer);
  if (!Number.isInteger(matLayer) || matLayer < 0 || matLayer > nLayer) {
    throw new InvalidArgumentError(
      `layer must be a hidden-state index from 0 to ${nLayer}, got "${matLayer}"`,
      "0 is the embeddings, n_layer the last block after ln_f",
    );
  }
  const allMatrices = options.allMatrices ?? false;
  const ws = resolve(words, leadingSpace);
  const outside = ws.filter((w) => !(Number.isInteger(w.id) && w.id >= 0 && w.id < V));
  if (outside.length > 0) {
    throw new InvalidArgumentError(
      `Token ids outside the model's vocabulary of ${V}: ${
        outside.map((w) => `"${w.word}" (${w.id})`).join(", ")
      }`,
      "Use a model with the GPT-2 vocabulary, or give ids from the model's vocabulary",
    );
  }
  const N = ws.length;
  const L1 = nLayer + 1;
  const progress = options.onProgress ?? (() => {});

  // GPU: forward [N, 1] → hidden states [L+1, N, 1, D] + logits [N, 1, V]; cosine [L+1, N, N].
  progress("forward", 0, 1);
  let hsArr: Float32Array, cosArr: Float32Array, logits: Float32Array;
  {
    using res = await model.forward(ws.map((w) => [w.id]), { hiddenStates: true, logits: "last" });
    const hs = res.hiddenStates!.reshape([L1, N, D]);
    using cos = pairwiseCosine(hs); // [L+1, N, N]
    [hsArr, cosArr, logits] = await readAll([hs, cos, res.logits!] as const); // logits [N, 1, V]
  }
  progress("forward", 1, 1);
  for (let i = 0; i < hsArr.length; i++) {
    if (!Number.isFinite(hsArr[i])) {
      throw new InvalidArgumentError(
        "The model's hidden states hold NaN or infinite values",
        "Check the model's weights",
      );
    }
  }

  // Categories and words.
  const names: string[] = [];
  for (const w of ws) if (!names.includes(w.category)) names.push(w.category);
  const K = names.length;
  const labels = ws.map((w) => w.label);
  const tok = gpt2Tokenizer();
  const text = (id: number) => (id < 50257 ? tok.tokenText(id) : `<${id}>`);
  const wordInfo: CategoryWordInfo[] = ws.map((w, i) => {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[i * V + v] > logits[i * V + best]) best = v;
    return {
      word: w.word,
      category: w.category,
      id: w.id,
      token: text(w.id),
      next: { id: best, token: text(best) },
    };
  });

  // Per layer: variance across words per dimension (part 1), within / across stats (2, 3).
  const variance: number[][] = [];
  const layers: CategoryLayer[] = [];
  let nWithin = 0, nAcross = 0;
  for (let l = 0; l < L1; l++) {
    const base = l * N * D;
    const vr = new Float64Array(D);
    for (let d = 0; d < D; d++) {
      let s = 0;
      for (let i = 0; i < N; i++) s += hsArr[base + i * D + d];
      const m = s / N;
      let ss = 0;
      for (let i = 0; i < N; i++) ss += (hsArr[base + i * D + d] - m) ** 2;
      vr[d] = ss / (N - 1);
    }
    variance.push(Array.from(vr));
    const sorted = Float64Array.from(vr).sort();
    const median = D % 2 ? sorted[(D - 1) / 2] : (sorted[D / 2 - 1] + sorted[D / 2]) / 2;

    const mat = cosArr.subarray(l * N * N, (l + 1) * N * N);
    const { within, across } = splitPairs(mat, labels);
    [nWithin, nAcross] = [within.length, across.length];
    const tt = ttestInd(within, across);
    const all = new Float64Array(within.length + across.length);
    all.set(within);
    all.set(across, within.length);
    const edges = range ? linspace(range[0], range[1], bins + 1) : histogramEdges(all, { bins });
    const dens = (v: Float64Array) =>
      Array.from(histogramDensity(histogram(v, { bins: edges })), finite);

    const sums = Array.from({ length: K }, () => new Float64Array(K));
    const counts = Array.from({ length: K }, () => new Float64Array(K));
    for (let i = 0; i < N; i++) {
      for (let j = i + 1; j < N; j++) {
        const [a, b] = [labels[i], labels[j]];
        sums[a][b] += mat[i * N + j];
        counts[a][b]++;
        if (a !== b) {
          sums[b][a] += mat[i * N + j];
          counts[b][a]++;
        }
      }
    }
    const w = summary(within), a = summary(across);
    layers.push({
      layer: l,
      label: layerLabel(l, nLayer),
      within: w,
      across: a,
      delta: w.mean - a.mean,
      t: finite(tt.t),
      df: tt.df,
      p: finite(tt.p),
      histogram: { edges: Array.from(edges), within: dens(within), across: dens(across) },
      blockMeans: sums.map((row, x) => Array.from(row, (s, y) => s / counts[x][y])),
      variance: { mean: mean(vr), median, max: sorted[D - 1] },
    });
  }

  const result: CategoriesResult = {
    schema: "laminar.categories",
    version: 1,
    model: modelInfo(model),
    options: { leadingSpace, bins, range, layer: matLayer, allMatrices },
    categories: names.map((name) => ({
      name,
      words: ws.filter((w) => w.category === name).map((w) => w.word),
    })),
    words: wordInfo,
    pairs: { within: nWithin, across: nAcross },
    layers,
    variance,
    matrix: { layer: matLayer, values: matrixRows(cosArr, matLayer * N * N, N) },
  };
  if (allMatrices) {
    result.matrices = Array.from({ length: L1 }, (_, l) => matrixRows(cosArr, l * N * N, N));
  }
  return result;
}
