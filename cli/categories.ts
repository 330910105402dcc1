/**
 * `categories`: category selectivity of single-token word hidden states per layer (seed 001,
 * parts 1–3): within- vs across-category cosine similarity, Δ, Student t, p.
 * @module
 */

import {
  type CliCommand,
  COMMON_HELP,
  COMMON_OPTIONS,
  emitJson,
  loadModel,
  num,
  parse,
  progress,
  progressDone,
  readInputFile,
  useColor,
} from "./common.ts";
import { InvalidArgumentError } from "../src/errors.ts";
import {
  categories,
  type CategoriesResult,
  type CategoryWord,
  checkCategoryWords,
  parseCategoryWords,
  SEED_CATEGORY_WORDS,
} from "../src/analysis/categories.ts";

const HELP = `usage: deno task cli categories [--words-file <file>] [options]

Category selectivity (seed 001, parts 1-3). A batch of single-token words with category
labels (default: the seed's 34 words: space, furniture, fruit) goes through the model once
as [N, 1]; for every hidden state (0 = embeddings, the last after ln_f) the cosine
similarity of every pair of words is computed on the GPU and split into within-category
and across-category pairs (upper triangle, i < j). Printed per layer: the two means,
delta = mean(within) - mean(across), Student's t (scipy ttest_ind default, equal
variances) and its two-sided p; the mean variance across words per dimension (part 1);
sparklines of delta and t over layers; the categories with each word's most likely next
token. --json adds the histograms, per-category block means, the per-dimension variances
and the cosine matrix of --layer.

Each word is tokenized with a leading space (" galaxy"), which makes every seed word one
GPT-2 token; without it 15 of the 34 are two or more tokens. Words that are not one token
are an error that lists them all.

Options:
  --words-file <f>  "category,word" per line (# comments and blank lines skipped);
                    at least 2 categories with at least 2 words each
  --no-space        tokenize the words without the leading space
  --bins <n>        histogram bins (default 20, as the seed)
  --range <lo,hi>   fixed histogram range for every layer (default: per layer, the
                    min..max of all pairs; the seed's part 6 uses 0.4,1)
  --layer <l>       hidden state whose full cosine matrix goes into the JSON
                    (default 4, as the seed's layeri, or n_layer if smaller)
  --all-matrices    put the cosine matrices of every layer into the JSON

${COMMON_HELP}

Examples:
  deno task cli categories
  deno task cli categories --model gpt2 --json > categories.json
  deno task cli categories --words-file animals_tools.csv --out result.json`;

/** The categories command. */
export const command: CliCommand = {
  name: "categories",
  summary: "category selectivity of word hidden states, t-tests per layer (seed 001)",
  help: HELP,
  async run(args) {
    const { values } = parse(args, {
      ...COMMON_OPTIONS,
      "words-file": { type: "string" },
      "no-space": { type: "boolean", default: false },
      bins: { type: "string" },
      range: { type: "string" },
      layer: { type: "string" },
      "all-matrices": { type: "boolean", default: false },
    });
    const bins = num(values.bins, "bins", 20, { integer: true, min: 1, max: 1000 });
    const range = parseRange(values.range);
    const layer = values.layer === undefined
      ? undefined
      : num(values.layer, "layer", 4, { integer: true, min: 0 });
    const leadingSpace = !values["no-space"];
    const words = values["words-file"] === undefined
      ? SEED_CATEGORY_WORDS
      : await readWords(values["words-file"]);
    checkCategoryWords(words, leadingSpace); // fail fast, before loading the model

    const model = await loadModel(values.model, values);
    const result = await categories(model, words, {
      leadingSpace,
      bins,
      range,
      layer,
      allMatrices: values["all-matrices"],
      onProgress: (stage) => progress(`${stage}...`),
    });
    progressDone();
    if (values.json || values.out) await emitJson(result, values);
    if (!values.json) console.log(render(result, useColor()));
    if (values.out) console.error(`wrote ${values.out}`);
    return 0;
  },
};

function parseRange(value: string | undefined): [number, number] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(",").map((s) => s.trim());
  const [lo, hi] = parts.map(Number);
  if (
    parts.length !== 2 || parts.some((p) => p === "") || !Number.isFinite(lo) ||
    !Number.isFinite(hi) || !(lo < hi)
  ) {
    throw new InvalidArgumentError(
      `Option --range must be "lo,hi" with lo < hi, got "${value}"`,
      "E.g. --range 0.4,1",
    );
  }
  return [lo, hi];
}

async function readWords(path: string): Promise<CategoryWord[]> {
  const text = await readInputFile(path, "The words file");
  return parseCategoryWords(text, `The words file "${path}"`);
}

const SPARK = "▁▂▃▄▅▆▇█";

/** One block character per value, scaled from the smallest to the largest. */
export function sparkline(values: readonly (number | null)[]): string {
  const fin = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const lo = Math.min(...fin), hi = Math.max(...fin);
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return " ";
    const k = hi > lo ? Math.round(((v - lo) / (hi - lo)) * (SPARK.length - 1)) : 3;
    return SPARK[k];
  }).join("");
}

function fmtP(p: number | null): string {
  if (p === null) return "-";
  if (p === 0) return "<1e-300";
  return p >= 0.001 ? p.toFixed(4) : p.toExponential(1);
}

function fmt(v: number | null, digits: number): string {
  return v === null ? "-" : v.toFixed(digits);
}

/** The terminal view of a result. */
export function render(r: CategoriesResult, color: boolean): string {
  const c = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const bold = (s: string) => c("1", s);
  const dim = (s: string) => c("2", s);
  const m = r.model;
  const name = m.source.split("/").filter(Boolean).pop() ?? m.source;
  const lines: string[] = [];
  lines.push(
    bold("Category selectivity") + ` — ${name} (${m.nLayer} layers, ${m.nEmbd} dims)`,
  );
  lines.push(
    `${r.words.length} words in ${r.categories.length} categories; ${r.pairs.within} ` +
      `within- and ${r.pairs.across} across-category pairs (i < j)`,
  );
  lines.push("");
  const head = ["layer", "within", "across", "Δ", "t", "p", "var"];
  const rows = r.layers.map((l) => [
    l.label,
    l.within.mean.toFixed(4),
    l.across.mean.toFixed(4),
    (l.delta >= 0 ? "+" : "") + l.delta.toFixed(4),
    fmt(l.t, 2),
    fmtP(l.p),
    l.variance.mean.toPrecision(3),
  ]);
  const width = head.map((h, k) => Math.max(h.length, ...rows.map((row) => row[k].length)));
  const line = (cells: string[]) =>
    cells.map((s, k) => (k === 0 ? s.padEnd(width[k]) : s.padStart(width[k]))).join("  ");
  lines.push(bold(line(head)));
  rows.forEach((row, i) => {
    const l = r.layers[i];
    const text = line(row);
    lines.push(l.p !== null && l.p < 0.05 ? text : color ? dim(text) : text);
  });
  lines.push(
    dim(
      `within/across: mean cosine similarity; t, p: Student t-test, df ${r.layers[0].df}\n` +
        "var: mean over dimensions of the variance across words (ddof 1)",
    ),
  );
  lines.push("");
  lines.push(`Δ by layer  ${sparkline(r.layers.map((l) => l.delta))}`);
  lines.push(`t by layer  ${sparkline(r.layers.map((l) => l.t))}`);
  lines.push("");
  lines.push(bold("Categories") + dim("  (word → most likely next token)"));
  const cw = Math.max(...r.categories.map((k) => k.name.length));
  for (const k of r.categories) {
    const ws = r.words.filter((w) => w.category === k.name).map((w) =>
      `${w.word}${dim("→" + JSON.stringify(w.next.token))}`
    );
    lines.push(`  ${k.name.padEnd(cw)} (${k.words.length})  ${ws.join(" ")}`);
  }
  return lines.join("\n");
}
