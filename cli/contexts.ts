/**
 * `contexts`: the same words in different contexts of a book; within-word vs across-word
 * cosine similarity of their hidden states per layer (seed 001, parts 4–6).
 * @module
 */

import {
  type CliCommand,
  COMMON_HELP,
  COMMON_OPTIONS,
  emitJson,
  num,
  parse,
  useColor,
} from "./common.ts";
import { BOOK_HELP, BOOK_OPTIONS, fixed as f, rangeOption, startBookRun } from "./book_commands.ts";
import { InvalidArgumentError } from "../src/errors.ts";
import { writeSafetensors } from "../src/io/safetensors.ts";
import { linspace } from "../src/stats/histogram.ts";
import { CONTEXT_DISTRIBUTIONS, contexts, type ContextsResult } from "../src/analysis/contexts.ts";

/** The command's default targets: the seed's design (a common word and two related ones) on SOTU. */
export const CLI_DEFAULT_TARGETS = "years,troops,veterans";

const HELP = `usage: deno task cli contexts [options]

Seed 001, parts 4–6, "same words, different contexts": finds every occurrence of a few target
words in a book (each must be one GPT-2 token), cuts the --window tokens before each one plus the
word itself (the window ends at the target), runs them through the model in one batch, and takes
the hidden state of the final token in every layer. Per layer it compares the cosine similarity
of pairs of occurrences of the same word (within) with pairs of the first word and another
(<years, garage/lawn> in the seed) and pairs of two other words (<garage, lawn>): means, the
within − across difference, and a text "tornado" of each distribution on common bin edges
(0.4 to 1, 34 bins, as the seed). The JSON holds every histogram and the single-layer view.

The seed reads The Great Gatsby with " years", " garage", " lawn"; those are rare in the State
of the Union addresses, so the default here is years,troops,veterans on the default corpus.
The seed's setup:
  --book https://www.gutenberg.org/cache/epub/64317/pg64317.txt --targets years,garage,lawn

Options:
${BOOK_HELP}
  --targets <list>  comma-separated words (default ${CLI_DEFAULT_TARGETS}); a space is put in
                  front of each (GPT-2's word-initial tokens), see --no-leading-space
  --no-leading-space   take the targets exactly as given
  --window <n>    tokens before the target (default 50, the seed's contextwin)
  --max-per-word <n>   use at most the first n occurrences of each word (default: all, as the seed)
  --min-per-word <n>   fewest occurrences of each word (default 2)
  --layer <l>     layer of the single-layer view (default 4, as the seed)
  --range <lo,hi> range of the common bin edges (default 0.4,1)
  --hist-bins <n> bins of the common edges (default 34: linspace(0.4, 1, 35))
  --save-matrices <file.safetensors>
                  write the view layer's cosine matrix [N, N] (F32), the word label of each
                  row and its token position (I32)

${COMMON_HELP}

Examples:
  deno task cli contexts
  deno task cli contexts --targets years,jobs,workers --max-per-word 40 --json
  deno task cli contexts --book sotu:all --targets war,army,navy --max-per-word 100`;

const SHADES = " ▁▂▃▄▅▆▇█";

/** One row of the text tornado: each bin's probability as a shade, 0 to 0.25 (the seed's vmax). */
function shadeRow(p: (number | null)[]): string {
  return p.map((v) =>
    v === null || v <= 0 ? " " : SHADES[Math.max(1, Math.min(8, Math.round((8 * v) / 0.25)))]
  ).join("");
}

/** The terminal view of a contexts result. */
export function renderContexts(r: ContextsResult, color = false): string {
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s);
  const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[22m` : s);
  const m = r.model;
  const lines: string[] = [];
  const bookName = r.book.title ?? r.book.source ?? "the book";
  lines.push(bold("Same words, different contexts: cosine similarity per layer (seed 001)"));
  lines.push(
    `model ${m.source.split("/").pop()} (${m.nLayer} layers, ${m.nEmbd} dims) · ${bookName}: ` +
      `${r.book.tokens.toLocaleString("en-US")} tokens`,
  );
  lines.push(
    `windows: ${r.options.window} tokens + the target; ${r.n} occurrences: ` +
      r.targets.map((t) =>
        `${JSON.stringify(t.word)} ${t.used}${t.used < t.found ? ` of ${t.found}` : ""}`
      ).join(", "),
  );
  lines.push("");
  const names = CONTEXT_DISTRIBUTIONS.map((d) => r.labels[d]);
  const w = Math.max(10, ...names.map((n) => n.length + 1));
  lines.push(dim(`${"".padEnd(6)} ${"mean cosine similarity".padStart(w * 3)}`));
  lines.push(bold(`${"layer".padEnd(6)} ${names.map((n) => n.padStart(w)).join("")}     Δ`));
  for (const l of r.layers) {
    const label = l.layer === 0 ? "0 emb" : l.layer === m.nLayer ? `${l.layer} ln_f` : `${l.layer}`;
    lines.push(
      `${label.padEnd(6)} ${CONTEXT_DISTRIBUTIONS.map((d) => f(l[d].mean, 3, w)).join("")}${
        f(l.delta, 3, 8)
      }`,
    );
  }
  lines.push(dim("Δ = mean(within) − mean(all across-word pairs); pairs i < j"));
  lines.push("");
  const e = r.edges;
  lines.push(
    bold(`distributions on ${e.length - 1} bins from ${e[0]} to ${e[e.length - 1]}`) +
      dim(" (the tornado plots: a row per layer, shade = share of pairs, full at 0.25)"),
  );
  const bins = e.length - 1;
  for (const d of CONTEXT_DISTRIBUTIONS) {
    lines.push(`  ${r.labels[d]}`);
    for (let l = r.layers.length - 1; l >= 0; l--) {
      const out = r.layers[l][d];
      lines.push(
        `    ${String(l).padStart(2)} |${shadeRow(r.distributions[d][l])}|` +
          (out.outside > 0 ? dim(` ${out.outside} of ${out.pairs} outside`) : ""),
      );
    }
    lines.push(`        ${String(e[0]).padEnd(bins - 1)}${e[e.length - 1]}`);
  }
  lines.push("");
  lines.push(bold("last tokens of the first windows:"));
  for (const t of r.targets) {
    lines.push(
      `  ${JSON.stringify(t.word).padEnd(12)} ${
        t.examples.map((x) => JSON.stringify(x)).join("  ")
      }`,
    );
  }
  return lines.join("\n");
}

/** The contexts command. */
export const command: CliCommand = {
  name: "contexts",
  summary: "same word in different contexts of a book, per layer (seed 001)",
  help: HELP,
  async run(args) {
    const { values } = parse(args, {
      ...COMMON_OPTIONS,
      ...BOOK_OPTIONS,
      targets: { type: "string", default: CLI_DEFAULT_TARGETS },
      "no-leading-space": { type: "boolean", default: false },
      window: { type: "string" },
      "max-per-word": { type: "string" },
      "min-per-word": { type: "string" },
      layer: { type: "string" },
      range: { type: "string" },
      "hist-bins": { type: "string" },
      "save-matrices": { type: "string" },
    });
    const raw = values.targets.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (raw.length < 2) {
      throw new InvalidArgumentError(
        `Option --targets needs at least two words, got "${values.targets}"`,
        "For example --targets years,garage,lawn",
      );
    }
    const targets = values["no-leading-space"]
      ? values.targets.split(",").filter((s) => s !== "")
      : raw.map((s) => ` ${s}`);
    const window = num(values.window, "window", 50, { integer: true, min: 0 });
    const maxPerWord = values["max-per-word"] === undefined
      ? undefined
      : num(values["max-per-word"], "max-per-word", 0, { integer: true, min: 2 });
    const minPerWord = num(values["min-per-word"], "min-per-word", 2, { integer: true, min: 1 });
    const layer = values.layer === undefined
      ? undefined
      : num(values.layer, "layer", 4, { integer: true, min: 0 });
    const range = rangeOption(values.range, "range", "0.4,1") ?? [0.4, 1];
    const histBins = num(values["hist-bins"], "hist-bins", 34, {
      integer: true,
      min: 1,
      max: 1024,
    });
    const save = values["save-matrices"];
    const { model, book, onProgress } = await startBookRun({
      book: values.book,
      model: values.model,
      offline: values.offline,
      weights: values.weights,
      keepHeader: values["keep-gutenberg-header"],
      save,
      saveExample: "contexts.safetensors",
      layer,
    });
    let matrix: { layer: number; n: number; values: Float32Array } | null = null;
    const result = await contexts(model, book.text, {
      targets,
      window,
      maxPerWord,
      minPerWord,
      layer,
      edges: linspace(range[0], range[1], histBins + 1),
      onProgress,
      onMatrix: save ? (m) => void (matrix = m) : undefined,
    });
    result.book.source = book.source;
    result.book.title = book.title;
    if (save && matrix) {
      const mx: { layer: number; n: number; values: Float32Array } = matrix;
      const labels = new Int32Array(mx.n);
      const positions = new Int32Array(mx.n);
      result.targets.forEach((t, k) => {
        labels.fill(k, t.offset, t.offset + t.used);
        positions.set(t.positions, t.offset);
      });
      await writeSafetensors(save, {
        cosine: { dtype: "F32", shape: [mx.n, mx.n], data: mx.values },
        labels: { dtype: "I32", shape: [mx.n], data: labels },
        positions: { dtype: "I32", shape: [mx.n], data: positions },
      }, {
        format: "laminar-contexts-1",
        model: model.source,
        book: book.source,
        layer: String(mx.layer),
        targets: JSON.stringify(result.options.targets),
      });
    }
    if (values.json || values.out) await emitJson(result, values);
    if (save) console.error(`wrote ${save}`);
    if (values.json) return 0;
    console.log(renderContexts(result, useColor()));
    if (values.out) console.error(`wrote ${values.out}`);
    return 0;
  },
};
