/**
 * Clusters in internal vs terminal punctuation (seed 004): the hidden states of commas and
 * periods in a book, and the mutual information and covariance of every pair of them, in every
 * layer.
 *
 * What the seed does, and what this module returns:
 * - Exercise 1: tokens from index 400 on (`start`) whose decoded text, stripped of white space,
 *   is exactly "," (internal) or "." (terminal); a period whose previous token ends with a digit
 *   or whose next token starts with one (a decimal point, "1.5") is left out
 *   ({@linkcode findPunctuation}). Five terminal examples with 9 tokens either side.
 * - Exercise 2: the first `count` (250) occurrences of each, context windows of `pre` (20)
 *   tokens before and `post` (10) after, one batched forward per group; the hidden states at the
 *   punctuation token, `[L+1, N, D]`; the mean activation per dimension in hidden layer 3.
 * - Exercises 3–4: the seed's `mutInfo_and_cov` (15 bins, outliers |z| > 5) for every pair
 *   i < j in every layer, on the GPU; per layer the mean, the MI–covariance correlation and,
 *   for one layer (`layer`, the seed's `whichLayer = 1`), the 60-bin histograms of each group.
 * - Exercise 5: the distributions per layer on common bin edges (per metric, shared by all
 *   layers and both groups; the seed fixes `linspace(0, 1.5, 101)` for MI and
 *   `linspace(-1, 105, 101)` for covariance, a range that fits gpt2-medium; here the default is
 *   the smallest to largest value over all layers and groups, or `miRange` / `covRange`) and
 *   the means per layer.
 *
 * The model is causal, so the tokens after the punctuation token cannot change its hidden
 * states: the forward passes run on the `pre + 1` tokens up to it (the seed's `post` tokens still
 * decide which occurrences fit in the book, and the numbers are the same).
 *
 * GPU work, all of it one submission with one readback (`readbacks: 1` in the result): the two
 * forward passes, the MI + covariance sweep of both groups (all layers in one launch each), the
 * per-layer histograms and means (the pairwise module's `recordSummary`; data-range edges from
 * the GPU summaries' min and max with `recordEdges`), the MI–covariance Pearson r per layer
 * (`recordJointMoments`: double-f32 moments over the upper triangle on the GPU, r in float64 on
 * the CPU, within ~2.4e-7 of the float64 r of the same values) and the activation slices. What
 * comes back is a few kilobytes; the `[L+1, N, N]` matrices come back (in the same readback) only
 * for `onMatrices`.
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import type { Gpt2Model } from "../model/gpt2.ts";
import {
  MAX_SUMMARY_BINS,
  pairwiseMiCov,
  type PairwiseSummary,
  readRecorded,
  type Recorded,
  type RecordedEdges,
  recordEdges,
  recordedTensor,
  recordJointMoments,
  recordSummary,
} from "../pairwise/pairwise.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { linspace } from "../stats/histogram.ts";
import { tokenizeBook } from "../io/books.ts";
import { type AnalysisOptions, gpt2Tokenizer, type ModelInfo, modelInfo } from "./common.ts";

/** The two groups, in the order of every per-group field. */
export const PUNCTUATION_GROUPS = ["internal", "terminal"] as const;

/** One of {@linkcode PUNCTUATION_GROUPS}. */
export type PunctuationGroup = typeof PUNCTUATION_GROUPS[number];

/** A book: its text (tokenized here, with progress) or its GPT-2 token ids. */
export type BookInput = string | ArrayLike<number>;

/** Options of {@linkcode findPunctuation}. */
export interface FindPunctuationOptions {
  /** First token index examined (default 400, as the seed: skips the front matter). */
  start?: number;
  /** Token texts (stripped) that count as internal punctuation (default `[","]`). */
  internal?: readonly string[];
  /** Token texts (stripped) that count as terminal punctuation (default `["."]`). */
  terminal?: readonly string[];
}

/** Where the punctuation tokens of a book are. */
export interface PunctuationIndices {
  /** Token indices of internal punctuation, increasing. */
  internal: number[];
  /** Token indices of terminal punctuation (digit neighbours excluded), increasing. */
  terminal: number[];
  /** Terminal tokens left out because a digit is right before or after them. */
  excludedDigit: number;
}

/** Options of {@linkcode punctuation}. */
export interface PunctuationOptions extends AnalysisOptions, FindPunctuationOptions {
  /** Occurrences of each group to use, the first ones after `start` (default 250). */
  count?: number;
  /** Context tokens before the punctuation token (default 20). */
  pre?: number;
  /** Context tokens after it (default 10). */
  post?: number;
  /** MI histogram bins per axis (default 15). */
  bins?: number;
  /** Outlier threshold on the z-scores for MI and covariance, 0 = none (default 5). */
  outlierZ?: number;
  /** Hidden-state layer of the single-layer view (default 1, the seed's `whichLayer`). */
  layer?: number;
  /** Hidden-state layer of the mean-activation view (default 3, as the seed). */
  activationLayer?: number;
  /** Bins of the per-layer distributions on common edges (default 100, as the seed). */
  histBins?: number;
  /** Fixed MI range of the distributions, e.g. `[0, 1.5]` as the seed (default: the data's). */
  miRange?: [number, number];
  /** Fixed covariance range, e.g. `[-1, 105]` as the seed (default: the data's). */
  covRange?: [number, number];
  /** Bins of the single-layer view's histograms, 1..1024 (default 60, as the seed). */
  viewBins?: number;
  /**
   * Receives the full MI and covariance matrices `[L+1, N, N]` (upper triangle i < j filled,
   * zeros elsewhere) of both groups before they are dropped, e.g. to save them. They are read
   * back in the analysis's one readback, only when this is given.
   */
  onMatrices?: (m: PunctuationMatrices) => void | Promise<void>;
}

/** The pair matrices of both groups, `[L+1, N, N]` row-major, upper triangle filled. */
export interface PunctuationMatrices {
  /** Layers L+1. */
  layers: number;
  /** Occurrences per group N. */
  n: number;
  /** MI of internal punctuation. */
  miInternal: Float32Array;
  /** MI of terminal punctuation. */
  miTerminal: Float32Array;
  /** Covariance of internal punctuation. */
  covInternal: Float32Array;
  /** Covariance of terminal punctuation. */
  covTerminal: Float32Array;
}

/** Summary of one group's pair values in one layer (upper triangle, i < j). */
export interface PairStats {
  /** Finite pair values. */
  count: number;
  /** Non-finite pair values (pairs with fewer than two kept elements). */
  nonFinite: number;
  /** Mean (null when there is no finite value). */
  mean: number | null;
  /** Smallest value. */
  min: number | null;
  /** Largest value. */
  max: number | null;
}

/** One group in one layer. */
export interface PunctuationGroupLayer {
  /** Mutual information (bits). */
  mi: PairStats;
  /** Covariance (ddof 1, kept elements). */
  cov: PairStats;
  /** Pearson correlation of MI and covariance over the pairs (null when undefined). */
  r: number | null;
}

/** One hidden-state layer. */
export interface PunctuationLayer {
  /** Hidden-state index: 0 = embeddings, n_layer = last block after ln_f. */
  layer: number;
  /** Commas. */
  internal: PunctuationGroupLayer;
  /** Periods. */
  terminal: PunctuationGroupLayer;
}

/** Histograms of one metric on common edges: counts `[L+1][bins]` per group. */
export interface LayerHistograms {
  /**
   * Bin edges `[bins + 1]` (numpy semantics: the last bin is closed): `linspace` of the fixed
   * range, or, for the data's range, the f32 edges computed on the GPU (within ~1e-7 relative of
   * numpy's float64 `linspace(min, max)`), exactly as the counts used them.
   */
  edges: number[];
  /** Counts of internal punctuation, `[L+1][bins]`. */
  internal: number[][];
  /** Counts of terminal punctuation, `[L+1][bins]`. */
  terminal: number[][];
}

/** A histogram with its own edges. */
export interface ViewHistogram {
  /**
   * Edges `[bins + 1]`: numpy's `histogram(values, bins)` range (min to max of the finite
   * values), as f32 edges computed on the GPU, exactly as the counts used them.
   */
  edges: number[];
  /** Counts `[bins]`. */
  counts: number[];
}

/** Result of {@linkcode punctuation}. */
export interface PunctuationResult {
  /** Result type. */
  schema: "laminar.punctuation";
  /** Schema version. */
  version: 1;
  /** The model. */
  model: ModelInfo;
  /** The options used (defaults filled in). */
  options: {
    count: number;
    pre: number;
    post: number;
    start: number;
    internalTokens: string[];
    terminalTokens: string[];
    bins: number;
    outlierZ: number;
    layer: number;
    activationLayer: number;
    histBins: number;
    miRange: [number, number] | null;
    covRange: [number, number] | null;
    viewBins: number;
  };
  /** The book: tokens, distinct tokens; the CLI adds where it came from. */
  book: { tokens: number; uniqueTokens: number; source?: string; title?: string };
  /** Occurrences found from `start` on (windows that fit the book). */
  found: { internal: number; terminal: number; excludedDigit: number };
  /** Token index of every occurrence used, `[N]` per group. */
  positions: { internal: number[]; terminal: number[] };
  /** The seed's five terminal examples: 9 tokens before to 8 after (`t-9 .. t+9`, exclusive). */
  examples: { position: number; text: string }[];
  /** Pairs per layer and group, N (N − 1) / 2. */
  pairs: number;
  /** Per-layer statistics, L+1 entries. */
  layers: PunctuationLayer[];
  /** Distributions on common edges per metric (GPU histograms). */
  histograms: { mi: LayerHistograms; cov: LayerHistograms };
  /** The seed's single-layer view (exercise 3). */
  layerView: {
    layer: number;
    internal: { r: number | null; mi: ViewHistogram; cov: ViewHistogram };
    terminal: { r: number | null; mi: ViewHistogram; cov: ViewHistogram };
  };
  /** Mean activation per dimension at the punctuation token in one layer, `[D]` per group. */
  meanActivation: { layer: number; internal: number[]; terminal: number[] };
  /** GPU readbacks (maps) the analysis made: 1 (everything is recorded, then read once). */
  readbacks: number;
  /**
   * Wall time per stage in milliseconds. The GPU work is one submission: `forward*Ms` is the
   * time to record each forward pass, `sweepMs` records the sweep and reductions and waits for
   * the submission and its readback (all GPU time), `summariesMs` decodes on the CPU.
   */
  timings: {
    tokenizeMs: number;
    forwardInternalMs: number;
    forwardTerminalMs: number;
    sweepMs: number;
    summariesMs: number;
    totalMs: number;
  };
}

/**
 * The seed's selection of punctuation tokens (exercise 1): from `start` on, tokens whose
 * decoded text stripped of white space is one of `internal` or `terminal`; a terminal token is
 * left out when the previous token's text ends with a digit or the next token's text starts
 * with one (the last token of the book has no next token).
 *
 * @example
 * ```ts
 * import { findPunctuation } from "./punctuation.ts";
 * import { Gpt2Tokenizer } from "../tokenizer/tokenizer.ts";
 * const ids = new Gpt2Tokenizer().encode("Yes, it costs 1.5 dollars. No.");
 * findPunctuation(ids, { start: 0 }); // { internal: [1], terminal: [8, 10], excludedDigit: 1 }
 * ```
 */
export function findPunctuation(
  ids: ArrayLike<number>,
  options: FindPunctuationOptions = {},
): PunctuationIndices {
  const start = options.start ?? 400;
  if (!Number.isInteger(start) || start < 0) {
    throw new InvalidArgumentError(`The start index must be an integer >= 0, got "${start}"`);
  }
  const internal = new Set(options.internal ?? [","]);
  const terminal = new Set(options.terminal ?? ["."]);
  const tok = gpt2Tokenizer();
  const text = new Map<number, string>();
  const dec = (id: number) => {
    let s = text.get(id);
    if (s === undefined) text.set(id, s = tok.decode([id]));
    return s;
  };
  const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  const out: PunctuationIndices = { internal: [], terminal: [], excludedDigit: 0 };
  for (let t = start; t < ids.length; t++) {
    const s = dec(ids[t]).trim();
    if (internal.has(s)) out.internal.push(t);
    else if (terminal.has(s)) {
      const before = t > 0 ? dec(ids[t - 1]).at(-1) : undefined;
      const after = t + 1 < ids.length ? dec(ids[t + 1])[0] : undefined;
      if (isDigit(before) || isDigit(after)) out.excludedDigit++;
      else out.terminal.push(t);
    }
  }
  return out;
}

function checkInt(name: string, v: number, min: number, max = Infinity): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(
      `${name} must be an integer in [${min}, ${max === Infinity ? "∞" : max}], got "${v}"`,
      `Pass a whole number from ${min}${max === Infinity ? " up" : ` to ${max}`}`,
    );
  }
  return v;
}

function checkRange(name: string, r: [number, number] | undefined): [number, number] | null {
  if (r === undefined) return null;
  if (r.length !== 2 || !Number.isFinite(r[0]) || !Number.isFinite(r[1]) || !(r[0] < r[1])) {
    throw new InvalidArgumentError(
      `${name} must be two finite numbers lo < hi, got "${r.join(",")}"`,
      "For example 0,1.5",
    );
  }
  return [r[0], r[1]];
}

const fin = (x: number) => (Number.isFinite(x) ? x : null);

/** The two pair metrics. */
type Metric = "mi" | "cov";

/**
 * Seed 004 on a book: hidden states of the first `count` commas and periods (from token 400
 * on, in context windows of 20 + 1 + 10 tokens), mutual information and covariance of every
 * pair of them in every layer on the GPU, per-layer means, MI–covariance correlations and
 * distributions on common bin edges.
 *
 * Any model works, including random weights for benchmarks
 * (`Gpt2Model.random(gpu, config)` with a GPT-2 vocabulary).
 *
 * @throws {InvalidArgumentError} When the book has fewer than `count` occurrences of a group
 * (the hint names the most it has), or an option is out of range.
 *
 * @example
 * ```ts ignore
 * using gpu = await Gpu.create();
 * const model = await Gpt2Model.load(gpu);
 * const book = await loadBook("sotu");
 * const r = await punctuation(model, book.text, { count: 250 });
 * console.log(r.layers.map((l) => [l.internal.mi.mean, l.terminal.mi.mean]));
 * ```
 */
export async function punctuation(
  model: Gpt2Model,
  book: BookInput,
  options: PunctuationOptions = {},
): Promise<PunctuationResult> {
  const t0 = performance.now();
  const L1 = model.config.nLayer + 1;
  const D = model.config.nEmbd;
  const count = checkInt("The count", options.count ?? 250, 2);
  const pre = checkInt("The context before", options.pre ?? 20, 0);
  const post = checkInt("The context after", options.post ?? 10, 0);
  const start = checkInt("The start index", options.start ?? 400, 0);
  const bins = options.bins ?? 15;
  const outlierZ = options.outlierZ ?? 5;
  const layer = checkInt("The layer", options.layer ?? Math.min(1, L1 - 1), 0, L1 - 1);
  const activationLayer = checkInt(
    "The activation layer",
    options.activationLayer ?? Math.min(3, L1 - 1),
    0,
    L1 - 1,
  );
  const histBins = checkInt("The histogram bins", options.histBins ?? 100, 1, 1024);
  const viewBins = checkInt("The view bins", options.viewBins ?? 60, 1, MAX_SUMMARY_BINS);
  const miRange = checkRange("The MI range", options.miRange);
  const covRange = checkRange("The covariance range", options.covRange);
  const T = pre + post + 1;
  if (T > model.config.nPositions) {
    throw new InvalidArgumentError(
      `A context window of ${T} tokens is longer than the model's context of ${model.config.nPositions}`,
      "Lower --pre or --post",
    );
  }
  const progress = options.onProgress ?? (() => {});
  const gpu = model.gpu;

  // Tokenize (with progress) and select.
  let ids: ArrayLike<number>;
  if (typeof book === "string") {
    if (book.trim() === "") {
      throw new InvalidArgumentError("The book is empty", "Give a text with some sentences");
    }
    ids = tokenizeBook(book, { onProgress: progress });
  } else ids = book;
  const tTok = performance.now();
  if (start >= ids.length) {
    throw new InvalidArgumentError(
      `The start index ${start} is past the end of the book (${ids.length} tokens)`,
      `Start before token ${Math.max(0, ids.length - 1)}, e.g. 400 (the seed's)`,
    );
  }
  const internalTokens = [...(options.internal ?? [","])];
  const terminalTokens = [...(options.terminal ?? ["."])];
  const found = findPunctuation(ids, {
    start,
    internal: internalTokens,
    terminal: terminalTokens,
  });
  const fits = (t: number) => t - pre >= 0 && t + post < ids.length;
  const all = { internal: found.internal.filter(fits), terminal: found.terminal.filter(fits) };
  for (const g of PUNCTUATION_GROUPS) {
    const have = all[g].length;
    if (have < count) {
      const most = Math.min(all.internal.length, all.terminal.length);
      const what = g === "internal" ? internalTokens : terminalTokens;
      throw new InvalidArgumentError(
        `The book has ${have} ${g} punctuation token(s) (${
          what.map((s) => JSON.stringify(s)).join(", ")
        }) from token ${start} on; ${count} were asked for`,
        most >= 2
          ? `Lower --count to at most ${most}, or use a longer book`
          : "Use a longer book with more sentences",
      );
    }
  }
  const positions = {
    internal: all.internal.slice(0, count),
    terminal: all.terminal.slice(0, count),
  };
  const vocab = model.config.vocabSize;
  // The model is causal: the `post` tokens after the punctuation token cannot change its
  // hidden states, so the forward pass stops at it (pre + 1 tokens instead of pre + post + 1;
  // same numbers, a third less work at the defaults). `post` still decides which occurrences
  // fit in the book, exactly as the seed's windows.
  const windows = (g: PunctuationGroup) =>
    positions[g].map((t) => {
      const w: number[] = new Array(pre + 1);
      for (let k = 0; k <= pre; k++) {
        const id = ids[t - pre + k];
        if (id >= vocab) {
          throw new InvalidArgumentError(
            `Token ${id} of the book is outside the model's vocabulary of ${vocab}`,
            "Use a model with the GPT-2 vocabulary",
          );
        }
        w[k] = id;
      }
      return w;
    });

  // Everything from here to the one readback is recorded and runs as one submission: the two
  // forward passes, the MI + covariance sweep, the per-layer summaries, the histogram edges of
  // the data's range, the MI–covariance joint moments and the activation slices.
  const hs: Record<PunctuationGroup, Tensor> = {} as Record<PunctuationGroup, Tensor>;
  const fwdMs: Record<PunctuationGroup, number> = { internal: 0, terminal: 0 };
  const disposers: { dispose(): void }[] = [];
  const keep = <T extends { dispose(): void }>(r: T): T => (disposers.push(r), r);
  try {
    // Forward passes, one per group, hidden states at the punctuation token only.
    for (const g of PUNCTUATION_GROUPS) {
      const stage = `forward ${g}`;
      progress(stage, 0, 1);
      const f0 = performance.now();
      const res = await model.forward(windows(g), { hiddenStates: { positions: [pre] } });
      disposers.push({ dispose: () => res[Symbol.dispose]() });
      hs[g] = res.hiddenStates!.reshape([L1, count, D]); // [L+1, N, D]
      fwdMs[g] = performance.now() - f0;
      progress(stage, 1, 1);
    }

    // The MI + covariance sweep (every layer, every pair, both groups) and its reductions.
    progress("MI + covariance sweep", 0, 1);
    const s0 = performance.now();
    const mat = {} as Record<Metric, Record<PunctuationGroup, Tensor>>;
    mat.mi = {} as Record<PunctuationGroup, Tensor>;
    mat.cov = {} as Record<PunctuationGroup, Tensor>;
    for (const g of PUNCTUATION_GROUPS) {
      const { mi, cov } = pairwiseMiCov(hs[g], { bins, outlierZ });
      [mat.mi[g], mat.cov[g]] = [keep(mi), keep(cov)];
    }
    // Per-layer min and max of every matrix (no histogram): where the data-range edges come from.
    const extent = (m: Metric, g: PunctuationGroup) =>
      keep(recordSummary(mat[m][g], { upper: true }));
    const ext = {
      mi: { internal: extent("mi", "internal"), terminal: extent("mi", "terminal") },
      cov: { internal: extent("cov", "internal"), terminal: extent("cov", "terminal") },
    };
    // Common edges per metric: the fixed range on the CPU, or the data's range on the GPU.
    const common = (m: Metric, range: [number, number] | null): Recorded<number[]> & {
      edges: number[] | RecordedEdges;
    } => {
      if (range) {
        const edges = Array.from(linspace(range[0], range[1], histBins + 1));
        return { edges, ranges: [], decode: () => edges, dispose() {} };
      }
      const e = keep(recordEdges([ext[m].internal, ext[m].terminal], histBins));
      return { edges: e, ranges: e.ranges, decode: (b) => e.decode(b), dispose() {} };
    };
    const edges = { mi: common("mi", miRange), cov: common("cov", covRange) };
    const layerSummary = (m: Metric, g: PunctuationGroup) =>
      keep(recordSummary(mat[m][g], { edges: edges[m].edges, upper: true }));
    // The single-layer view: `viewBins` bins on each histogram's own range.
    const viewEdges = (m: Metric, g: PunctuationGroup) =>
      keep(recordEdges([{ summary: ext[m][g], firstLayer: layer, layerCount: 1 }], viewBins));
    const vEdges = {
      mi: { internal: viewEdges("mi", "internal"), terminal: viewEdges("mi", "terminal") },
      cov: { internal: viewEdges("cov", "internal"), terminal: viewEdges("cov", "terminal") },
    };
    const viewSummary = (m: Metric, g: PunctuationGroup) =>
      keep(
        recordSummary(mat[m][g], {
          edges: vEdges[m][g],
          upper: true,
          firstLayer: layer,
          layerCount: 1,
        }),
      );
    const moments = (g: PunctuationGroup) =>
      keep(recordJointMoments(mat.mi[g], mat.cov[g], { upper: true }));
    const matrices = options.onMatrices
      ? [mat.mi.internal, mat.mi.terminal, mat.cov.internal, mat.cov.terminal].map(recordedTensor)
      : [];
    const [
      miEdges,
      covEdges,
      sMiI,
      sMiT,
      sCovI,
      sCovT,
      jmI,
      jmT,
      vMiEdgesI,
      vMiEdgesT,
      vCovEdgesI,
      vCovEdgesT,
      vMiI,
      vMiT,
      vCovI,
      vCovT,
      actI,
      actT,
      ...mats
    ] = await readRecorded(
      gpu,
      [
        edges.mi,
        edges.cov,
        layerSummary("mi", "internal"),
        layerSummary("mi", "terminal"),
        layerSummary("cov", "internal"),
        layerSummary("cov", "terminal"),
        moments("internal"),
        moments("terminal"),
        vEdges.mi.internal,
        vEdges.mi.terminal,
        vEdges.cov.internal,
        vEdges.cov.terminal,
        viewSummary("mi", "internal"),
        viewSummary("mi", "terminal"),
        viewSummary("cov", "internal"),
        viewSummary("cov", "terminal"),
        recordedTensor(hs.internal.slice(activationLayer, 1)),
        recordedTensor(hs.terminal.slice(activationLayer, 1)),
        ...matrices,
      ] as const,
    );
    const readbacks = 1;
    const sweepMs = performance.now() - s0;
    progress("MI + covariance sweep", 1, 1);
    if (options.onMatrices) {
      const [miI, miT, covI, covT] = mats;
      await options.onMatrices({
        layers: L1,
        n: count,
        miInternal: miI,
        miTerminal: miT,
        covInternal: covI,
        covTerminal: covT,
      });
    }

    progress("summaries", 0, 1);
    const u0 = performance.now();
    const stats = (s: PairwiseSummary): PairStats => ({
      count: s.count,
      nonFinite: s.nonFinite,
      mean: fin(s.mean),
      min: fin(s.min),
      max: fin(s.max),
    });
    const layers: PunctuationLayer[] = [];
    for (let l = 0; l < L1; l++) {
      layers.push({
        layer: l,
        internal: { mi: stats(sMiI[l]), cov: stats(sCovI[l]), r: fin(jmI[l].r) },
        terminal: { mi: stats(sMiT[l]), cov: stats(sCovT[l]), r: fin(jmT[l].r) },
      });
    }
    const hist = (s: PairwiseSummary[]) => s.map((x) => Array.from(x.histogram));
    const meanAct = (a: Float32Array) => {
      const m = new Float64Array(D);
      for (let i = 0; i < count; i++) for (let d = 0; d < D; d++) m[d] += a[i * D + d];
      return Array.from(m, (v) => v / count);
    };
    const tok = gpt2Tokenizer();
    const examples = positions.terminal.slice(0, 5).map((t) => ({
      position: t,
      text: tok.decode(
        Array.from({ length: 18 }, (_, k) => ids[t - 9 + k]).filter((x) => x !== undefined),
      ),
    }));
    const viewHist = (edges: number[], s: PairwiseSummary[]): ViewHistogram => ({
      edges,
      counts: Array.from(s[0].histogram),
    });
    const summariesMs = performance.now() - u0;
    progress("summaries", 1, 1);
    return {
      schema: "laminar.punctuation",
      version: 1,
      model: modelInfo(model),
      options: {
        count,
        pre,
        post,
        start,
        internalTokens,
        terminalTokens,
        bins,
        outlierZ,
        layer,
        activationLayer,
        histBins,
        miRange,
        covRange,
        viewBins,
      },
      book: { tokens: ids.length, uniqueTokens: new Set(Array.from(ids)).size },
      found: {
        internal: all.internal.length,
        terminal: all.terminal.length,
        excludedDigit: found.excludedDigit,
      },
      positions,
      examples,
      pairs: (count * (count - 1)) / 2,
      layers,
      histograms: {
        mi: { edges: miEdges, internal: hist(sMiI), terminal: hist(sMiT) },
        cov: { edges: covEdges, internal: hist(sCovI), terminal: hist(sCovT) },
      },
      layerView: {
        layer,
        internal: {
          r: fin(jmI[layer].r),
          mi: viewHist(vMiEdgesI, vMiI),
          cov: viewHist(vCovEdgesI, vCovI),
        },
        terminal: {
          r: fin(jmT[layer].r),
          mi: viewHist(vMiEdgesT, vMiT),
          cov: viewHist(vCovEdgesT, vCovT),
        },
      },
      meanActivation: {
        layer: activationLayer,
        internal: meanAct(actI),
        terminal: meanAct(actT),
      },
      readbacks,
      timings: {
        tokenizeMs: tTok - t0,
        forwardInternalMs: fwdMs.internal,
        forwardTerminalMs: fwdMs.terminal,
        sweepMs,
        summariesMs,
        totalMs: performance.now() - t0,
      },
    };
  } finally {
    for (const d of disposers) d.dispose();
  }
}
