/**
 * The same word in different contexts of a book (seed 001, parts 4–6): every occurrence of a
 * few target words, each in the context window of the `window` tokens before it (the window
 * ends at the target token), one batched forward pass, the hidden state of the final token (the
 * target) in every layer, and the cosine similarity of every pair of occurrences: within one
 * word vs across words, per layer, on common bin edges (the seed's "tornado" plots).
 *
 * What the seed does, and what this module returns:
 * - Part 4: targets `[" years", " garage", " lawn"]` in *The Great Gatsby*, each one GPT-2 token;
 *   all their occurrences (the seed takes every one); windows of `contextwin = 50` tokens
 *   before the target plus the target (51 tokens). An occurrence fewer than 50 tokens from the
 *   start of the book has no full window and is skipped (the seed's slice would break).
 * - Part 5: one layer's (`layer`, default 4 as the seed's `layeri`) cosine matrix; the pairs
 *   i < j of the upper triangle (the seed's `np.triu(np.outer(labels, labels))`, taken
 *   without the diagonal: a vector's similarity with itself is always 1) split into within-word
 *   pairs, pairs of the first word with another (`<years, garage/lawn>`) and pairs of two other
 *   different words (`<garage, lawn>`); their 30-bin density histograms.
 * - Part 6: for every layer, the histograms of the three distributions on the common edges
 *   `linspace(0.4, 1, 35)` as probabilities per bin (the seed's density × dx), i.e. counts
 *   divided by the pairs inside the edges. A last edge of exactly 1 also takes cosines up to
 *   1 + 1e-6 (f32 rounding of identical vectors), which would otherwise fall outside.
 *
 * GPU work, all of it one submission with one readback (`readbacks: 1` in the result): the
 * forward pass, cosine matrices per word block (within `[L+1, Nk, Nk]`, across `[L+1, Nk, Nj]`,
 * from block copies of the hidden states), their per-layer histograms and means (the pairwise
 * module's `recordSummary`) and the single-layer view: per distribution, edges over its range in
 * that layer (`recordEdges`, from the same summaries' min and max) and the blocks' histograms on
 * them. Only the summaries come back (a few kilobytes); the view layer's `[N, N]` matrix is
 * computed and read back (in the same readback) only for `onMatrix`.
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import type { Gpt2Model } from "../model/gpt2.ts";
import {
  MAX_SUMMARY_BINS,
  pairwiseCosine,
  type PairwiseSummary,
  readRecorded,
  type Recorded,
  type RecordedEdges,
  recordEdges,
  type RecordedSummary,
  recordedTensor,
  recordSummary,
} from "../pairwise/pairwise.ts";
import { Tensor } from "../tensor/tensor.ts";
import { histogramDensity, linspace } from "../stats/histogram.ts";
import { tokenizeBook } from "../io/books.ts";
import { type AnalysisOptions, gpt2Tokenizer, type ModelInfo, modelInfo } from "./common.ts";

/** The seed's target words (one GPT-2 token each, with the leading space). */
export const SEED_CONTEXT_TARGETS: readonly string[] = Object.freeze([
  " years",
  " garage",
  " lawn",
]);

/** The three distributions, in the order of every per-distribution field. */
export const CONTEXT_DISTRIBUTIONS = ["within", "acrossFirst", "acrossOthers"] as const;

/** One of {@linkcode CONTEXT_DISTRIBUTIONS}. */
export type ContextDistribution = typeof CONTEXT_DISTRIBUTIONS[number];

/** Options of {@linkcode contexts}. */
export interface ContextsOptions extends AnalysisOptions {
  /** Target words, each exactly one GPT-2 token (default {@linkcode SEED_CONTEXT_TARGETS}). */
  targets?: readonly string[];
  /** Tokens before the target in each window (default 50, the seed's `contextwin`). */
  window?: number;
  /** Use at most this many occurrences of each word, the first ones (default: all, as the seed). */
  maxPerWord?: number;
  /** Fewest occurrences of each word (default 2: one within-word pair). */
  minPerWord?: number;
  /** Common histogram edges of the per-layer distributions (default `linspace(0.4, 1, 35)`). */
  edges?: ArrayLike<number>;
  /** Hidden-state layer of the single-layer view (default 4, the seed's `layeri`). */
  layer?: number;
  /** Bins of the single-layer view's histograms, 1..1024 (default 30, as the seed). */
  viewBins?: number;
  /**
   * Receives the `[N, N]` cosine matrix of the view layer (row-major, rows in the order of
   * the targets' occurrences) before it is dropped, e.g. to save it. It is computed and read
   * back (in the analysis's one readback) only when this is given.
   */
  onMatrix?: (m: { layer: number; n: number; values: Float32Array }) => void | Promise<void>;
}

/** A target word of the result. */
export interface ContextTarget {
  /** The word as given (with its leading space). */
  word: string;
  /** Its token id. */
  id: number;
  /** Occurrences in the book. */
  found: number;
  /** Occurrences with a full window (at least `window` tokens from the start). */
  eligible: number;
  /** Occurrences used (the first `maxPerWord` eligible ones). */
  used: number;
  /** Token index of every occurrence used; rows `offset .. offset + used` of the batch. */
  positions: number[];
  /** Row of the first occurrence in the batch. */
  offset: number;
  /** The last 5 tokens of the first few windows (the seed prints them all). */
  examples: string[];
}

/** A distribution in one layer. */
export interface ContextLayerStats {
  /** Pairs. */
  pairs: number;
  /** Mean cosine similarity (null without pairs). */
  mean: number | null;
  /** Pairs below the first or above the last edge (not in the histogram). */
  outside: number;
}

/** One hidden-state layer. */
export interface ContextLayer {
  /** Hidden-state index: 0 = embeddings, n_layer = last block after ln_f. */
  layer: number;
  /** Pairs of occurrences of the same word. */
  within: ContextLayerStats;
  /** Pairs of the first word with another word (`<years, garage/lawn>`). */
  acrossFirst: ContextLayerStats;
  /** Pairs of two different other words (`<garage, lawn>`). */
  acrossOthers: ContextLayerStats;
  /** mean(within) − mean of all across-word pairs (null when undefined). */
  delta: number | null;
}

/** A histogram with its own edges (single-layer view). */
export interface ContextViewHistogram {
  /**
   * Edges `[bins + 1]` over the min..max of the values (numpy's `histogram(values, bins)`), as
   * f32 edges computed on the GPU, exactly as the counts used them; `[]` without values.
   */
  edges: number[];
  /** Counts `[bins]`. */
  counts: number[];
  /** Density (`density=True`), `[bins]`; null entries where undefined. */
  density: (number | null)[];
  /** Mean of the values (null without values). */
  mean: number | null;
}

/** Result of {@linkcode contexts}. */
export interface ContextsResult {
  /** Result type. */
  schema: "laminar.contexts";
  /** Schema version. */
  version: 1;
  /** The model. */
  model: ModelInfo;
  /** The options used (defaults filled in). */
  options: {
    targets: string[];
    window: number;
    maxPerWord: number | null;
    minPerWord: number;
    layer: number;
    viewBins: number;
  };
  /** The book: tokens, distinct tokens; the CLI adds where it came from. */
  book: { tokens: number; uniqueTokens: number; source?: string; title?: string };
  /** The targets, in batch order. */
  targets: ContextTarget[];
  /** Occurrences in the batch, N. */
  n: number;
  /** Human-readable names of the distributions, e.g. `"< years, garage/lawn>"`. */
  labels: Record<ContextDistribution, string>;
  /** Common edges of the per-layer distributions `[bins + 1]`. */
  edges: number[];
  /** Per-layer statistics, L+1 entries. */
  layers: ContextLayer[];
  /**
   * The tornado data: per distribution, `[L+1][bins]` probabilities per bin (counts divided by
   * the pairs inside the edges, the seed's density × dx; null for a layer without such pairs).
   */
  distributions: Record<ContextDistribution, (number | null)[][]>;
  /** The same as counts, `[L+1][bins]` per distribution. */
  counts: Record<ContextDistribution, number[][]>;
  /** The seed's single-layer view (part 5): 30-bin density histograms on each one's own range. */
  layerView: { layer: number } & Record<ContextDistribution, ContextViewHistogram>;
  /** GPU readbacks (maps) the analysis made: 1 (everything is recorded, then read once). */
  readbacks: number;
  /**
   * Wall time per stage in milliseconds. The GPU work is one submission: `forwardMs` is the
   * time to record the forward pass, `similarityMs` records the rest and waits for the
   * submission and its readback (all GPU time).
   */
  timings: { tokenizeMs: number; forwardMs: number; similarityMs: number; totalMs: number };
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

const fin = (x: number) => (Number.isFinite(x) ? x : null);

/**
 * Seed 001 parts 4–6 on a book: within-word vs across-word cosine similarity of a few target
 * words' final-token hidden states in every layer.
 *
 * @throws {InvalidArgumentError} When a target is not one token, does not occur in the book,
 * or has fewer than `minPerWord` occurrences with a full window (the message lists the counts
 * of every target).
 *
 * @example
 * ```ts ignore
 * using gpu = await Gpu.create();
 * const model = await Gpt2Model.load(gpu, "gpt2");
 * const book = await loadBook("https://www.gutenberg.org/cache/epub/64317/pg64317.txt");
 * const r = await contexts(model, book.text); // " years", " garage", " lawn"
 * console.log(r.layers.map((l) => l.delta));
 * ```
 */
export async function contexts(
  model: Gpt2Model,
  book: string | ArrayLike<number>,
  options: ContextsOptions = {},
): Promise<ContextsResult> {
  const t0 = performance.now();
  const gpu = model.gpu;
  const L1 = model.config.nLayer + 1;
  const D = model.config.nEmbd;
  const words = [...(options.targets ?? SEED_CONTEXT_TARGETS)];
  const window = checkInt("The window", options.window ?? 50, 0, model.config.nPositions - 1);
  const maxPerWord = options.maxPerWord === undefined || options.maxPerWord === Infinity
    ? null
    : checkInt("The most occurrences per word", options.maxPerWord, 2);
  const minPerWord = checkInt("The fewest occurrences per word", options.minPerWord ?? 2, 1);
  const layer = checkInt("The layer", options.layer ?? Math.min(4, L1 - 1), 0, L1 - 1);
  const viewBins = checkInt("The view bins", options.viewBins ?? 30, 1, MAX_SUMMARY_BINS);
  const edges = Array.from(options.edges ?? linspace(0.4, 1, 35));
  if (words.length < 2 || words.length > 32) {
    throw new InvalidArgumentError(
      `Give 2 to 32 target words, got ${words.length}`,
      'For example " years, garage, lawn" as the seed',
    );
  }
  const tok = gpt2Tokenizer();
  const ids0 = words.map((w) => {
    const enc = tok.encode(w);
    if (enc.length !== 1) {
      throw new InvalidArgumentError(
        `Target "${w}" is ${enc.length} GPT-2 tokens (${
          enc.map((i) => JSON.stringify(tok.decode([i]))).join(" + ")
        }), not one`,
        'Use words that are one token; most common words are one with a leading space: " years"',
      );
    }
    if (enc[0] >= model.config.vocabSize) {
      throw new InvalidArgumentError(
        `Target "${w}" (token ${enc[0]}) is outside the model's vocabulary`,
        "Use a model with the GPT-2 vocabulary",
      );
    }
    return enc[0];
  });
  if (new Set(ids0).size !== ids0.length) {
    throw new InvalidArgumentError(
      `The targets repeat a word: "${words.join(",")}"`,
      "Give each target once",
    );
  }
  const progress = options.onProgress ?? (() => {});

  let ids: ArrayLike<number>;
  if (typeof book === "string") {
    if (book.trim() === "") {
      throw new InvalidArgumentError("The book is empty", "Give a text that uses the targets");
    }
    ids = tokenizeBook(book, { onProgress: progress });
  } else ids = book;
  const tTok = performance.now();

  // Occurrences per target.
  const found = words.map(() => [] as number[]);
  const index = new Map(ids0.map((id, k) => [id, k]));
  for (let t = 0; t < ids.length; t++) {
    const k = index.get(ids[t]);
    if (k !== undefined) found[k].push(t);
  }
  const eligible = found.map((f) => f.filter((t) => t >= window));
  const countsText = words.map((w, k) =>
    `"${w}" ${found[k].length}${
      eligible[k].length < found[k].length ? ` (${eligible[k].length} with a full window)` : ""
    }`
  ).join(", ");
  for (let k = 0; k < words.length; k++) {
    if (found[k].length === 0) {
      throw new InvalidArgumentError(
        `Target "${words[k]}" does not occur in the book (occurrences: ${countsText})`,
        "Choose words that the book uses, or another book (--book)",
      );
    }
    if (eligible[k].length < minPerWord) {
      throw new InvalidArgumentError(
        `Target "${words[k]}" has ${
          eligible[k].length
        } usable occurrence(s), fewer than ${minPerWord} (occurrences: ${countsText})`,
        "Choose words that the book uses more often, or a longer book",
      );
    }
  }
  const used = eligible.map((e) => (maxPerWord === null ? e : e.slice(0, maxPerWord)));
  const offsets: number[] = [];
  let N = 0;
  for (const u of used) {
    offsets.push(N);
    N += u.length;
  }
  const batch = used.flatMap((u) =>
    u.map((t) => Array.from({ length: window + 1 }, (_, k) => ids[t - window + k]))
  );

  // Everything from here to the one readback is recorded and runs as one submission: the
  // forward pass, the word blocks, the cosine matrices, their summaries and the view layer's
  // histogram edges.
  progress("forward", 0, 1);
  const f0 = performance.now();
  using res = await model.forward(batch, { hiddenStates: { positions: [window] } });
  const hs = res.hiddenStates!.reshape([L1, N, D]);
  const forwardMs = performance.now() - f0;
  progress("forward", 1, 1);

  // Word blocks [L+1, Nk, D] by copies, cosine per block pair, GPU summaries.
  const K = words.length;
  progress("cosine similarities", 0, 1);
  const s0 = performance.now();
  const temps: { dispose(): void }[] = [];
  const keep = <T extends { dispose(): void }>(r: T): T => (temps.push(r), r);
  try {
    const blocks = used.map((u, k) => {
      const nk = u.length;
      const b = keep(Tensor.empty(gpu, [L1, nk, D]));
      for (let l = 0; l < L1; l++) {
        gpu.copy(
          { buffer: hs.buffer, offset: hs.offset + (l * N + offsets[k]) * D * 4, size: nk * D * 4 },
          { buffer: b.buffer, offset: b.offset + l * nk * D * 4, size: nk * D * 4 },
        );
      }
      return b;
    });
    // A cosine can come out of f32 arithmetic a few ulps above 1 (the same word at the same
    // position has the same embedding: cos = 1.0000001); a last edge of exactly 1 is moved up
    // by 1e-6 so those land in the top bin instead of outside.
    const gpuEdges = edges.map((e, i) => (i === edges.length - 1 && e === 1 ? 1 + 1e-6 : e));
    // Blocks of each distribution: within (i < j of one word; a word used once has no pairs)
    // and across (every pair of two words).
    const parts: Record<ContextDistribution, { t: Tensor; upper: boolean }[]> = {
      within: [],
      acrossFirst: [],
      acrossOthers: [],
    };
    for (let k = 0; k < K; k++) {
      if (used[k].length >= 2) {
        parts.within.push({ t: keep(pairwiseCosine(blocks[k])), upper: true });
      }
    }
    for (let i = 0; i < K; i++) {
      for (let j = i + 1; j < K; j++) {
        const t = keep(pairwiseCosine(blocks[i], { other: blocks[j] })); // [L+1, Ni, Nj]
        (i === 0 ? parts.acrossFirst : parts.acrossOthers).push({ t, upper: false });
      }
    }
    // Per layer and block: count, mean, min, max and the histogram on the common edges; for
    // the view layer, edges over each distribution's own range and the histograms on them.
    const sums = {} as Record<ContextDistribution, RecordedSummary[]>;
    const viewEdges = {} as Record<ContextDistribution, RecordedEdges | null>;
    const viewSums = {} as Record<ContextDistribution, RecordedSummary[]>;
    for (const d of CONTEXT_DISTRIBUTIONS) {
      sums[d] = parts[d].map((p) => keep(recordSummary(p.t, { edges: gpuEdges, upper: p.upper })));
      viewEdges[d] = sums[d].length === 0 ? null : keep(
        recordEdges(
          sums[d].map((summary) => ({ summary, firstLayer: layer, layerCount: 1 })),
          viewBins,
        ),
      );
      viewSums[d] = parts[d].map((p) =>
        keep(
          recordSummary(p.t, {
            edges: viewEdges[d]!,
            upper: p.upper,
            firstLayer: layer,
            layerCount: 1,
          }),
        )
      );
    }
    const viewCos = options.onMatrix ? keep(pairwiseCosine(hs.slice(layer, 1))) : null; // [1, N, N]
    const none: Recorded<null> = { ranges: [], decode: () => null, dispose() {} };
    const flat = CONTEXT_DISTRIBUTIONS.flatMap((d) => [...sums[d], ...viewSums[d]]);
    const [viewValues, eWithin, eFirst, eOthers, ...decoded] = await readRecorded(
      gpu,
      [
        viewCos ? recordedTensor(viewCos) : none,
        viewEdges.within ?? none,
        viewEdges.acrossFirst ?? none,
        viewEdges.acrossOthers ?? none,
        ...flat,
      ] as const,
    );
    const readbacks = 1;
    const got = new Map(flat.map((r, i) => [r, decoded[i] as PairwiseSummary[]]));
    const similarityMs = performance.now() - s0;
    progress("cosine similarities", 1, 1);

    const bins = edges.length - 1;
    const layers: ContextLayer[] = [];
    const distributions = {} as Record<ContextDistribution, (number | null)[][]>;
    const counts = {} as Record<ContextDistribution, number[][]>;
    for (const d of CONTEXT_DISTRIBUTIONS) {
      distributions[d] = [];
      counts[d] = [];
    }
    for (let l = 0; l < L1; l++) {
      const entry = { layer: l } as ContextLayer;
      let acrossSum = 0, acrossN = 0;
      for (const d of CONTEXT_DISTRIBUTIONS) {
        let n = 0, sum = 0;
        const c = new Array(bins).fill(0);
        for (const s of sums[d]) {
          const x = got.get(s)![l];
          n += x.count;
          if (x.count > 0) sum += x.mean * x.count;
          for (let b = 0; b < bins; b++) c[b] += x.histogram[b];
        }
        const inside = c.reduce((a, b) => a + b, 0);
        entry[d] = { pairs: n, mean: n > 0 ? fin(sum / n) : null, outside: n - inside };
        counts[d].push(c);
        distributions[d].push(c.map((v) => (inside > 0 ? v / inside : null)));
        if (d !== "within") {
          acrossSum += sum;
          acrossN += n;
        }
      }
      entry.delta = entry.within.mean !== null && acrossN > 0
        ? entry.within.mean - acrossSum / acrossN
        : null;
      layers.push(entry);
    }

    // Single-layer view: each distribution's pairs in that layer, on its own range.
    const viewOf = (d: ContextDistribution, e: number[] | null): ContextViewHistogram => {
      const c = new Float64Array(viewBins);
      for (const s of viewSums[d]) {
        const h = got.get(s)![0].histogram;
        for (let b = 0; b < viewBins; b++) c[b] += h[b];
      }
      const pairs = layers[layer][d].pairs;
      if (e === null || pairs === 0) {
        return {
          edges: [],
          counts: new Array(viewBins).fill(0),
          density: new Array(viewBins).fill(null),
          mean: null,
        };
      }
      return {
        edges: e,
        counts: Array.from(c),
        density: Array.from(histogramDensity({ counts: c, edges: Float64Array.from(e) }), fin),
        mean: layers[layer][d].mean,
      };
    };
    if (options.onMatrix && viewValues) {
      await options.onMatrix({ layer, n: N, values: viewValues });
    }
    const w = words.map((s) => s.trim());
    const labels: Record<ContextDistribution, string> = {
      within: "within",
      acrossFirst: `<${w[0]}, ${w.slice(1).join("/")}>`,
      acrossOthers: K > 2 ? `<${w.slice(1).join(", ")}>` : "(none: two targets)",
    };
    const targets: ContextTarget[] = words.map((word, k) => ({
      word,
      id: ids0[k],
      found: found[k].length,
      eligible: eligible[k].length,
      used: used[k].length,
      positions: used[k],
      offset: offsets[k],
      examples: used[k].slice(0, 3).map((t) =>
        tok.decode(Array.from({ length: 5 }, (_, q) => ids[t - 4 + q]).filter((x) => x >= 0))
      ),
    }));
    return {
      schema: "laminar.contexts",
      version: 1,
      model: modelInfo(model),
      options: { targets: words, window, maxPerWord, minPerWord, layer, viewBins },
      book: { tokens: ids.length, uniqueTokens: new Set(Array.from(ids)).size },
      targets,
      n: N,
      labels,
      edges,
      layers,
      distributions,
      counts,
      layerView: {
        layer,
        within: viewOf("within", eWithin),
        acrossFirst: viewOf("acrossFirst", eFirst),
        acrossOthers: viewOf("acrossOthers", eOthers),
      },
      readbacks,
      timings: { tokenizeMs: tTok - t0, forwardMs, similarityMs, totalMs: performance.now() - t0 },
    };
  } finally {
    for (const t of temps) t.dispose();
  }
}
