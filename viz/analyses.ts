/**
 * The analyses the viz server runs: for each, its page, its parameters (validated before any GPU
 * work) and an adapter that calls the same library function the CLI uses.
 * @module
 */

import {
  DownloadError,
  FileNotFoundError,
  FormatError,
  InvalidArgumentError,
} from "../src/errors.ts";
import type { Gpt2Model } from "../src/model/gpt2.ts";
import type { ModelInfo, Progress } from "../src/analysis/common.ts";
import type { ParamSpec } from "./params.ts";
import { BLOCK_HOOKS } from "../src/model/hooks.ts";
import { INTERVENE_MAX_FACTOR } from "../src/analysis/intervene.ts";

/** What an adapter gets. */
export interface RunContext {
  /** The model named by the `model` parameter (already loaded). */
  model: Gpt2Model;
  /** Load another model (e.g. a second one to compare with); runs inside the GPU queue. */
  getModel(spec: string): Promise<Gpt2Model>;
  /** Validated parameters, defaults filled in (`model` included). */
  params: Record<string, unknown>;
  /** Progress of long work (forwarded to the SSE stream). */
  onProgress: Progress;
}

/** Runs an analysis and returns its JSON-serialisable result. */
export type Runner = (ctx: RunContext) => Promise<unknown>;

/** One analysis of the server. */
export interface AnalysisDef {
  /** URL name: /api/run/<name>, /<name>.html. */
  name: string;
  /** Page title. */
  title: string;
  /** Seed notebook(s) it reproduces ("" for none). */
  seed: string;
  /** One paragraph for the index page. */
  description: string;
  /** Parameters (the `model` parameter first). */
  params: ParamSpec[];
  /** The runner, or null when its library module is not available (the page says so). */
  load(): Promise<Runner | null>;
  /**
   * Checks across parameters, after each one is validated and before the job is queued (throw
   * an {@linkcode InvalidArgumentError} for a 400).
   */
  check?(params: Record<string, unknown>, model: ModelInfo): void;
  /** Cache results (default true); false for measurements such as profiles. */
  cache?: boolean;
}

/** Longest text accepted (characters); the model's context is the real limit. */
export const MAX_TEXT = 20_000;

const MODEL_PARAM: ParamSpec = {
  name: "model",
  type: "model",
  label: "Model",
  help: '"default" (the server\'s model) or a Hugging Face id in the local cache (e.g. gpt2)',
  default: "default",
  maxLength: 100,
};

/** A list of integers as the library wants it (undefined when not given). */
function ints(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.length > 0 ? v as number[] : undefined;
}

/** Comma-separated positive numbers. */
function parseNumbers(text: string, name: string): number[] {
  const parts = text.split(/[,\s]+/).filter((x) => x !== "");
  const out = parts.map(Number);
  if (parts.length === 0 || parts.length > 12 || out.some((v) => !(v > 0) || !Number.isFinite(v))) {
    throw new InvalidArgumentError(
      `Parameter "${name}" must be 1 to 12 comma-separated positive numbers, got "${text}"`,
      "Use e.g. 0.5,1,1.5",
    );
  }
  return out;
}

/** The seed 003 prompt (the intervene page's default). */
const INTERVENE_TEXT =
  "As Gregor Samsa awoke one morning from uneasy dreams, he found himself transformed in his " +
  "bed into a gigantic";

/** The intervene operations the page offers (all of the library's). */
const INTERVENE_OPS = ["scale", "zero", "patch", "add"] as const;
type InterveneOpName = typeof INTERVENE_OPS[number];

/** Hooks with a head dimension (where "heads" applies). */
const ATTENTION_HOOK = /^attn\.hook_([qkvz]|pattern)$/;

const BOOK_PARAM: ParamSpec = {
  name: "book",
  type: "string",
  label: "Book",
  help: 'State of the Union addresses ("sotu", "sotu:2014-2021", "sotu:lincoln") or a ' +
    "cached http(s) URL; local files only through the CLI",
  default: "sotu",
  maxLength: 500,
};

const books = new Map<string, Int32Array>();

/** A book's GPT-2 token ids (the last 3 books are kept). Local files are refused. */
async function bookIds(spec: string, onProgress: Progress): Promise<Int32Array> {
  const s = spec.trim();
  if (!/^sotu(:|$)/i.test(s) && !/^https?:\/\//i.test(s)) {
    throw new InvalidArgumentError(
      `Book "${spec}" is neither a SOTU selection nor an http(s) URL`,
      'The server reads "sotu[:filters]" or cached URLs; use the CLI for local files',
    );
  }
  const have = books.get(s);
  if (have) return have;
  const { loadBook, tokenizeBook } = await import("../src/io/books.ts");
  onProgress("loading book", 0, 1);
  let book;
  try {
    book = await loadBook(s, { offline: true });
  } catch (e) {
    // The server never downloads books: a URL missing from the cache is the request's problem.
    if (e instanceof DownloadError) {
      throw new FileNotFoundError(
        `Book "${s}" is not in the book cache`,
        "The server reads only cached URLs: run the CLI once with --book <url> (it downloads " +
          "and caches it), or use sotu",
        { cause: e },
      );
    }
    throw e;
  }
  const ids = tokenizeBook(book.text, { onProgress });
  books.set(s, ids);
  if (books.size > 3) books.delete(books.keys().next().value as string);
  return ids;
}

/** One layer's N x N MI and covariance matrices (symmetric, NaN -> null) and scatter pairs. */
function layerMatrices(m: PunctuationMatricesLike, layer: number) {
  const n = m.n;
  const full = (a: Float32Array) => {
    const out: (number | null)[][] = Array.from({ length: n }, () => new Array(n).fill(null));
    const off = layer * n * n;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const v = a[off + i * n + j];
        const x = Number.isFinite(v) ? v : null;
        out[i][j] = x;
        out[j][i] = x;
      }
    }
    return out;
  };
  return {
    layer,
    n,
    miInternal: full(m.miInternal),
    miTerminal: full(m.miTerminal),
    covInternal: full(m.covInternal),
    covTerminal: full(m.covTerminal),
  };
}

/** The fields of the punctuation analysis's matrices that the server reads. */
interface PunctuationMatricesLike {
  n: number;
  miInternal: Float32Array;
  miTerminal: Float32Array;
  covInternal: Float32Array;
  covTerminal: Float32Array;
}

const SEED_000_TEXT =
  "There are many statistical analyses that quantify bivariate (two variables) " +
  "relationships; in this post I will describe two — correlation and cosine similarity — " +
  "discuss how they relate to each other, and advise you on when to use which one. The upshot " +
  "is that the measures can be identical but are often different. Which one to use depends " +
  "entirely on whether the scale of the data is important.";

/** Most tokens (batch × tokens per sequence) of one profiled pass. */
export const MAX_PROFILE_TOKENS = 8192;

/** Every analysis, in the order of the index page. */
export const ANALYSES: AnalysisDef[] = [
  {
    name: "heatmap",
    title: "Token heatmap",
    seed: "000",
    description:
      "Each token of a text coloured by how well the model predicted it: log-probability, " +
      "probability, rank or entropy of the actual next token.",
    params: [
      MODEL_PARAM,
      {
        name: "text",
        type: "text",
        label: "Text",
        default: SEED_000_TEXT,
        maxLength: MAX_TEXT,
      },
      {
        name: "temperature",
        type: "number",
        label: "Temperature",
        default: 1,
        min: 0.01,
        max: 100,
      },
      {
        name: "metric",
        type: "enum",
        label: "Colour by",
        default: "logprob",
        choices: ["logprob", "prob", "rank", "entropy"],
      },
    ],
    async load() {
      const { heatmap } = await import("../src/analysis/heatmap.ts");
      return ({ model, params, onProgress }) =>
        heatmap(model, params.text as string, {
          temperature: params.temperature as number,
          metric: params.metric as "logprob",
          onProgress,
        });
    },
  },
  {
    name: "softmax",
    title: "Softmax and temperature",
    seed: "002",
    description:
      "The next-token distribution after a prompt: top-k probabilities at several temperatures, " +
      "and the logits of one model against another's.",
    params: [
      MODEL_PARAM,
      {
        name: "text",
        type: "text",
        label: "Prompt",
        default: "It was a dark and stormy",
        maxLength: MAX_TEXT,
      },
      {
        name: "temperatures",
        type: "string",
        label: "Temperatures",
        help: "comma-separated, each > 0",
        default: "0.5,1,1.5",
        maxLength: 200,
      },
      { name: "k", type: "int", label: "Top k", default: 10, min: 1, max: 100 },
      {
        name: "compare",
        type: "model",
        label: "Compare with model",
        help: "a second model for the model-vs-model scatter (empty: none)",
        default: "",
        maxLength: 100,
      },
    ],
    async load() {
      const { softmaxAnalysis } = await import("../src/analysis/softmax.ts");
      return async ({ model, getModel, params, onProgress }) => {
        const temperatures = parseNumbers(params.temperatures as string, "temperatures");
        const compare = params.compare as string;
        const compareModel = compare ? await getModel(compare) : undefined;
        return softmaxAnalysis(model, params.text as string, {
          k: params.k as number,
          temperatures,
          compareModel,
          onProgress,
        });
      };
    },
  },
  {
    name: "layers",
    title: "Hidden states layer by layer",
    seed: "003",
    description:
      "One token's activations in every hidden state, their variance, cosine similarity across " +
      "layers and across tokens, and the laminar profile of inter-token similarity.",
    params: [
      MODEL_PARAM,
      {
        name: "text",
        type: "text",
        label: "Text",
        default: "A wise man once said: Penguins are cute.",
        maxLength: MAX_TEXT,
      },
      {
        name: "token",
        type: "int",
        label: "Token (activations)",
        help: "index of the token whose activations are shown (negative counts from the end)",
        min: (m) => -m.nPositions,
        max: (m) => m.nPositions - 1,
      },
      {
        name: "tokens",
        type: "ints",
        label: "Tokens (layer × layer)",
        help: "token indices for the layer × layer cosine matrices (empty: 4 evenly spaced)",
        min: (m) => -m.nPositions,
        max: (m) => m.nPositions - 1,
        maxItems: 8,
      },
      {
        name: "layers",
        type: "ints",
        label: "Layers (token × token)",
        help: "hidden-state indices for the token × token matrices (empty: 4 evenly spaced)",
        min: (m) => -(m.nLayer + 1),
        max: (m) => m.nLayer,
        maxItems: 8,
      },
      { name: "bins", type: "int", label: "Histogram bins", default: 32, min: 2, max: 200 },
    ],
    async load() {
      const { layers } = await import("../src/analysis/layers.ts");
      return ({ model, params, onProgress }) =>
        layers(model, params.text as string, {
          token: params.token as number | undefined,
          tokens: ints(params.tokens),
          layers: ints(params.layers),
          bins: params.bins as number,
          onProgress,
        });
    },
  },
  {
    name: "intervene",
    title: "Intervention: changing a block's activation",
    seed: "003",
    description:
      "Change one activation inside a block (scale it by 0.8 as the seed, zero it, add a " +
      "direction, or patch it from another prompt) at every layer in turn and watch a target " +
      "token's log-softmax move away from the clean run.",
    params: [
      MODEL_PARAM,
      {
        name: "text",
        type: "text",
        label: "Prompt",
        default: INTERVENE_TEXT,
        maxLength: MAX_TEXT,
      },
      {
        name: "target",
        type: "string",
        label: "Target token",
        help: 'exactly one GPT-2 token, mind the leading space (" insect")',
        default: " insect",
        maxLength: 100,
      },
      {
        name: "op",
        type: "enum",
        label: "Operation",
        help: "scale: multiply by the factor; zero: set to 0; patch: replace by the patch " +
          "prompt's activation; add: add factor × the unit vector of one dimension",
        default: "scale",
        choices: INTERVENE_OPS,
      },
      {
        name: "factor",
        type: "number",
        label: "Factor",
        help: "scale: the multiplier (empty: 0.8, the seed); add: the length of the added " +
          "vector (empty: 1); not used by zero and patch",
        min: -INTERVENE_MAX_FACTOR,
        max: INTERVENE_MAX_FACTOR,
      },
      {
        name: "hook",
        type: "enum",
        label: "Hook (in each block)",
        help: "where the activation is changed, blocks.{L}.<hook> for every block L; " +
          "hook_resid_post is the block's output (the seed)",
        default: "hook_resid_post",
        choices: BLOCK_HOOKS,
      },
      {
        name: "positions",
        type: "ints",
        label: "Positions",
        help: "token positions changed, negative from the end (empty: all)",
        min: (m) => -m.nPositions,
        max: (m) => m.nPositions - 1,
        maxItems: 64,
      },
      {
        name: "heads",
        type: "ints",
        label: "Heads",
        help: "heads changed, attention hooks only (attn.hook_q/k/v/z/pattern; empty: all)",
        min: 0,
        max: (m) => m.nHead - 1,
        maxItems: 64,
      },
      {
        name: "patch",
        type: "text",
        label: "Patch prompt",
        help: "op patch: the prompt whose activation replaces the clean one, with the same " +
          "number of tokens as the prompt",
        default: "",
        maxLength: MAX_TEXT,
      },
      {
        name: "dimension",
        type: "int",
        label: "Dimension",
        help: "op add: the index k of the unit vector e_k added (times the factor) along the " +
          "hook's last dimension (d_model for the residual stream, d_mlp for mlp.*, " +
          "head × d_head + j for attn.hook_q/k/v/z, the key position for attn.hook_pattern)",
        min: 0,
      },
    ],
    check(params, m) {
      const op = params.op as string;
      // Parameters another op does not use are dropped (the form sends every field), so they
      // neither matter nor split the cache.
      if (op !== "scale" && op !== "add") delete params.factor;
      if (op !== "patch") delete params.patch;
      if (op !== "add") delete params.dimension;
      if (op === "patch" && ((params.patch as string | undefined) ?? "").trim() === "") {
        throw new InvalidArgumentError(
          'Operation "patch" needs a patch prompt',
          'Give "patch": another prompt with the same number of tokens as the prompt, e.g. ' +
            "the prompt with one word changed",
        );
      }
      if (op === "add" && params.dimension === undefined) {
        throw new InvalidArgumentError(
          'Operation "add" needs a dimension',
          `Give "dimension": the index of the unit vector to add (0..${m.nEmbd - 1} on the ` +
            "residual stream), scaled by the factor",
        );
      }
      const heads = ints(params.heads);
      if (heads && !ATTENTION_HOOK.test(params.hook as string)) {
        throw new InvalidArgumentError(
          `Heads were given for "${params.hook}", which has no head dimension`,
          "Use heads with attn.hook_q, attn.hook_k, attn.hook_v, attn.hook_z or " +
            "attn.hook_pattern, or leave heads empty",
        );
      }
    },
    async load() {
      const { intervene } = await import("../src/analysis/intervene.ts");
      const { inputTokens } = await import("../src/analysis/layers.ts");
      return ({ model, params, onProgress }) => {
        const op = params.op as InterveneOpName;
        const text = params.text as string;
        const hook = params.hook as string;
        let vector: Float32Array | undefined;
        if (op === "add") {
          // The one-hot direction e_k over the hook's last dimension (heads × d_head flattened
          // for q/k/v/z, the key position for the pattern).
          const { nEmbd, nHead, nInner } = model.config;
          const width = /attn\.hook_[qkvz]$/.test(hook)
            ? nEmbd
            : hook === "attn.hook_pattern"
            ? inputTokens(model, text, 1).length
            : /^mlp\.hook_(pre|post)$/.test(hook)
            ? nInner
            : nEmbd;
          const k = params.dimension as number;
          if (k >= width) {
            throw new InvalidArgumentError(
              `Dimension "${k}" is outside the last dimension of ${hook}, which has ${width} ` +
                "entries",
              `Use a dimension in 0..${width - 1}` +
                (/attn\.hook_[qkvz]$/.test(hook) ? ` (head × ${nEmbd / nHead} + j)` : ""),
            );
          }
          vector = new Float32Array(width);
          vector[k] = 1;
        }
        return intervene(model, text, {
          target: params.target as string,
          op,
          factor: params.factor as number | undefined,
          hook,
          positions: ints(params.positions),
          heads: ints(params.heads),
          patch: op === "patch" ? params.patch as string : undefined,
          vector,
          onProgress,
        });
      };
    },
  },
  {
    name: "categories",
    title: "Category selectivity",
    seed: "001 (parts 1–3)",
    description:
      "Single-token words from a few categories: cosine similarity within vs across categories " +
      "in every layer, their distributions, the difference Δ and the t-value.",
    params: [
      MODEL_PARAM,
      {
        name: "words",
        type: "text",
        label: "Words (category,word per line)",
        help: 'one "category,word" per line (empty: the seed\'s 34 words)',
        placeholder: "empty: the seed's 34 words (space, furniture, fruit), or one " +
          '"category,word" per line',
        default: "",
        maxLength: 20_000,
      },
      {
        name: "leadingSpace",
        type: "bool",
        label: "Leading space",
        help: 'tokenize each word as " word" (as the seed)',
        default: true,
      },
      { name: "bins", type: "int", label: "Histogram bins", default: 20, min: 2, max: 200 },
      {
        name: "layer",
        type: "int",
        label: "Matrix layer",
        help: "hidden state whose cosine matrix is drawn",
        default: (m: ModelInfo) => Math.min(4, m.nLayer),
        min: 0,
        max: (m) => m.nLayer,
      },
    ],
    async load() {
      const { categories, parseCategoryWords, SEED_CATEGORY_WORDS } = await import(
        "../src/analysis/categories.ts"
      );
      return ({ model, params, onProgress }) => {
        const text = (params.words as string).trim();
        let words = SEED_CATEGORY_WORDS;
        if (text !== "") {
          try {
            words = parseCategoryWords(text, "The word list");
          } catch (e) {
            if (e instanceof FormatError) throw new InvalidArgumentError(e.message, e.hint);
            throw e;
          }
        }
        return categories(model, words, {
          leadingSpace: params.leadingSpace as boolean,
          bins: params.bins as number,
          layer: params.layer as number,
          onProgress,
        });
      };
    },
  },
  {
    name: "contexts",
    title: "Words in context",
    seed: "001 (parts 4–6)",
    description:
      "The same words in different contexts of a book: within-word vs across-word similarity " +
      "distributions per layer, drawn as tornado heatmaps (layer × similarity bin).",
    params: [
      MODEL_PARAM,
      BOOK_PARAM,
      {
        name: "targets",
        type: "strings",
        label: "Target words",
        help:
          "comma-separated words, each one GPT-2 token with a leading space (the seed used years, garage, lawn in its book)",
        default: ["years", "jobs", "families"],
        maxItems: 12,
        minItems: 2,
        maxLength: 50,
      },
      {
        name: "window",
        type: "int",
        label: "Tokens before",
        help: "context window before each occurrence (the seed: 50)",
        default: 50,
        min: 1,
        max: 250,
      },
      {
        name: "maxPerWord",
        type: "int",
        label: "Occurrences per word",
        help: "at most this many occurrences of each word (small here so lavapipe stays quick)",
        default: 20,
        min: 2,
        max: 2000,
      },
      {
        name: "layer",
        type: "int",
        label: "View layer",
        help: "hidden state of the single-layer distributions and the cosine matrix",
        default: (m: ModelInfo) => Math.min(4, m.nLayer),
        min: 0,
        max: (m: ModelInfo) => m.nLayer,
      },
    ],
    async load() {
      const { contexts } = await import("../src/analysis/contexts.ts");
      return async ({ model, params, onProgress }) => {
        const ids = await bookIds(params.book as string, onProgress);
        let matrix: { layer: number; n: number; values: (number | null)[][] } | null = null;
        const result = await contexts(model, ids, {
          targets: (params.targets as string[]).map((w) => " " + w.trim()),
          window: params.window as number,
          maxPerWord: params.maxPerWord as number,
          layer: params.layer as number,
          onProgress,
          onMatrix: (m) => {
            if (m.n > 300) return;
            const values = Array.from(
              { length: m.n },
              (_, i) =>
                Array.from({ length: m.n }, (_, j) => {
                  const v = m.values[i * m.n + j];
                  return Number.isFinite(v) ? v : null;
                }),
            );
            matrix = { layer: m.layer, n: m.n, values };
          },
        });
        return { ...result, matrix };
      };
    },
  },
  {
    name: "punctuation",
    title: "Punctuation clusters",
    seed: "004",
    description: "Hidden states of commas vs periods in a book: pairwise mutual information and " +
      "covariance per layer, their distributions and means, and MI against covariance.",
    params: [
      MODEL_PARAM,
      BOOK_PARAM,
      {
        name: "count",
        type: "int",
        label: "Occurrences per group",
        help: "commas and periods used (the seed: 250; small here so lavapipe stays quick)",
        default: 40,
        min: 2,
        max: 500,
      },
      { name: "pre", type: "int", label: "Tokens before", default: 20, min: 0, max: 200 },
      { name: "post", type: "int", label: "Tokens after", default: 10, min: 0, max: 200 },
      { name: "bins", type: "int", label: "MI bins per axis", default: 15, min: 2, max: 64 },
      {
        name: "layer",
        type: "int",
        label: "Matrix layer",
        help: "hidden state of the MI / covariance matrices and the MI–covariance scatter",
        default: 1,
        min: 0,
        max: (m: ModelInfo) => m.nLayer,
      },
      { name: "start", type: "int", label: "First token", default: 400, min: 0, max: 10_000_000 },
    ],
    async load() {
      const { punctuation } = await import("../src/analysis/punctuation.ts");
      return async ({ model, params, onProgress }) => {
        const ids = await bookIds(params.book as string, onProgress);
        const layer = params.layer as number;
        let matrices: ReturnType<typeof layerMatrices> | null = null;
        const result = await punctuation(model, ids, {
          count: params.count as number,
          pre: params.pre as number,
          post: params.post as number,
          bins: params.bins as number,
          layer,
          start: params.start as number,
          onProgress,
          onMatrices: (m) => {
            matrices = m.n <= 200 ? layerMatrices(m, layer) : null;
          },
        });
        return { ...result, matrices };
      };
    },
  },
  {
    name: "profile",
    title: "Profile: GPU time per kernel",
    seed: "",
    description:
      "One forward pass with a timestamp query around every kernel launch: GPU time, share, " +
      "GFLOP/s and GB/s per kernel, and every launch in order, on the loaded model or random " +
      "weights of GPT-2 sizes.",
    cache: false,
    params: [
      MODEL_PARAM,
      {
        name: "config",
        type: "enum",
        label: "Weights",
        help: "loaded: the model above; gpt2, gpt2-medium, gpt2-large: random weights of that " +
          "size's real shapes, made for each run (slow on lavapipe: gpt2-large takes over a " +
          "minute at 64 tokens)",
        default: "loaded",
        choices: ["loaded", "gpt2", "gpt2-medium", "gpt2-large"],
      },
      {
        name: "tokens",
        type: "int",
        label: "Tokens per sequence",
        help: "synthetic token ids; at most the context (the loaded model's, or 1024)",
        default: (m: ModelInfo) => Math.min(64, m.nPositions),
        min: 1,
        max: 1024,
      },
      {
        name: "batch",
        type: "int",
        label: "Batch",
        help: `sequences in the batch (batch × tokens at most ${MAX_PROFILE_TOKENS})`,
        default: 1,
        min: 1,
        max: 256,
      },
      {
        name: "logits",
        type: "enum",
        label: "Logits",
        help: "none: hidden states only; last / all: also the unembedding",
        default: "none",
        choices: ["none", "last", "all"],
      },
      {
        name: "hiddenStates",
        type: "bool",
        label: "Hidden states",
        help: "collect every layer's hidden states (as the analyses do)",
        default: true,
      },
    ],
    check(params, m) {
      const T = params.tokens as number, B = params.batch as number;
      if (params.config === "loaded" && T > m.nPositions) {
        throw new InvalidArgumentError(
          `Parameter "tokens" is ${T}, more than the model's context of ${m.nPositions}`,
          `Use at most ${m.nPositions} tokens, or random weights of a GPT-2 size (context 1024)`,
        );
      }
      if (T * B > MAX_PROFILE_TOKENS) {
        throw new InvalidArgumentError(
          `batch × tokens is ${B} × ${T} = ${B * T}, more than the limit of ` +
            `${MAX_PROFILE_TOKENS}`,
          "Use a smaller batch or fewer tokens (the CLI's profile command has no such limit)",
        );
      }
    },
    async load() {
      const { checkTimestamps, profileForward, randomGpt2Config } = await import(
        "../src/analysis/profile.ts"
      );
      const { Gpt2Model: Model } = await import("../src/model/gpt2.ts");
      return async ({ model, params, onProgress }) => {
        checkTimestamps(model.gpu); // before making random weights
        const config = params.config as string;
        let random: Gpt2Model | null = null;
        if (config !== "loaded") {
          onProgress(`making random ${config} weights`, 0, 1);
          // Yield so the progress event goes out before the (synchronous) weight generation.
          await new Promise((r) => setTimeout(r, 0));
          // stored like the loaded model's weights (the server's --weights)
          random = Model.random(model.gpu, randomGpt2Config(config), 1, {
            weights: model.weights.dtype,
          });
        }
        try {
          const result = await profileForward(random ?? model, {
            tokens: params.tokens as number,
            batch: params.batch as number,
            logits: params.logits as "none",
            hiddenStates: params.hiddenStates as boolean,
            onProgress,
          });
          return { ...result, config };
        } finally {
          random?.dispose();
        }
      };
    },
  },
];
