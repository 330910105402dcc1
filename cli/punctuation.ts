/**
 * `punctuation`: mutual information and covariance of comma vs period hidden states in a book,
 * every layer (seed 004).
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
import { writeSafetensors } from "../src/io/safetensors.ts";
import {
  punctuation,
  type PunctuationMatrices,
  type PunctuationResult,
} from "../src/analysis/punctuation.ts";
import { BOOK_HELP, BOOK_OPTIONS, fixed as f, rangeOption, startBookRun } from "./book_commands.ts";

const HELP = `usage: deno task cli punctuation [options]

Seed 004, "clusters in internal vs terminal punctuation": finds the commas (internal) and
periods (terminal) of a book from token 400 on (a token whose text, stripped of spaces, is
exactly "," or "."; periods with a digit right before or after are left out as decimal points),
takes the first --count of each with --pre tokens before and --post after, runs each group
through the model in one batch, and takes the hidden states at the punctuation token in every
layer [L+1, N, D]. For every layer and every pair of occurrences it computes the seed's mutual
information (--bins per axis, outliers |z| > --outlier-z dropped) and covariance on the GPU,
and shows per layer the mean MI and covariance of each group and the MI–covariance correlation
(r over the N(N-1)/2 pairs); the JSON holds the per-layer distributions on common bin edges, the
single-layer view of --layer (60-bin histograms) and the mean activation of hidden layer 3.
Stage times go to stderr.

Options:
${BOOK_HELP}
  --count <n>     occurrences of each group (default 250, as the seed)
  --pre <n>       tokens before the punctuation token (default 20)
  --post <n>      tokens after it (default 10; the model is causal, so they only decide
                  which occurrences fit the book)
  --start <n>     first token examined (default 400, as the seed)
  --bins <n>      MI histogram bins per axis, 2..64 (default 15)
  --outlier-z <z> drop elements with |z| above this in either vector, 0 = none (default 5)
  --layer <l>     hidden-state layer of the single-layer view (default 1, as the seed)
  --hist-bins <n> bins of the per-layer distributions (default 100)
  --mi-range <lo,hi>   fixed MI range of the distributions (the seed: 0,1.5 for gpt2-medium;
                  default: the smallest to largest value over all layers and groups)
  --cov-range <lo,hi>  fixed covariance range (the seed: -1,105)
  --save-matrices <file.safetensors>
                  write the MI and covariance matrices [L+1, N, N] of both groups (upper
                  triangle i < j, the seed's layout; F32) and the token positions (I32)

${COMMON_HELP}

Examples:
  deno task cli punctuation
  deno task cli punctuation --book https://www.gutenberg.org/cache/epub/219/pg219.txt \\
      --model gpt2-medium --mi-range 0,1.5 --cov-range -1,105
  deno task cli punctuation --count 100 --layer 4 --json`;

/** The terminal view of a punctuation result. */
export function renderPunctuation(r: PunctuationResult, color = false): string {
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s);
  const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[22m` : s);
  const o = r.options;
  const m = r.model;
  const lines: string[] = [];
  const bookName = r.book.title ?? r.book.source ?? "the book";
  lines.push(bold("Commas vs periods: pairwise MI and covariance per layer (seed 004)"));
  lines.push(
    `model ${m.source.split("/").pop()} (${m.nLayer} layers, ${m.nEmbd} dims) · ${bookName}: ` +
      `${r.book.tokens.toLocaleString("en-US")} tokens, ${
        r.book.uniqueTokens.toLocaleString("en-US")
      } distinct`,
  );
  lines.push(
    `from token ${o.start}: ${r.found.internal.toLocaleString("en-US")} internal (${
      o.internalTokens.join(" ")
    }), ${r.found.terminal.toLocaleString("en-US")} terminal (${
      o.terminalTokens.join(" ")
    }); ${r.found.excludedDigit} periods next to a digit left out`,
  );
  lines.push(
    `first ${o.count} of each, ${o.pre} tokens before + ${o.post} after; MI ${o.bins} bins, ` +
      `outliers |z| > ${o.outlierZ}; ${r.pairs.toLocaleString("en-US")} pairs per layer and group`,
  );
  lines.push("");
  lines.push(
    dim(
      "         ---------- MI (bits) ----------   ---------- covariance ---------   r(MI, cov)",
    ),
  );
  lines.push(
    bold(
      "layer    internal  terminal   int-term    internal  terminal   int-term   internal terminal",
    ),
  );
  for (const l of r.layers) {
    const label = l.layer === 0 ? "0 emb" : l.layer === m.nLayer ? `${l.layer} ln_f` : `${l.layer}`;
    const d = (a: number | null, b: number | null) => (a === null || b === null ? null : a - b);
    lines.push(
      `${label.padEnd(6)} ${f(l.internal.mi.mean, 3, 10)}${f(l.terminal.mi.mean, 3, 10)}${
        f(d(l.internal.mi.mean, l.terminal.mi.mean), 3, 11)
      }  ${f(l.internal.cov.mean, 3, 10)}${f(l.terminal.cov.mean, 3, 10)}${
        f(d(l.internal.cov.mean, l.terminal.cov.mean), 3, 11)
      }   ${f(l.internal.r, 3, 8)} ${f(l.terminal.r, 3, 8)}`,
    );
  }
  const nonFinite = r.layers.reduce(
    (n, l) => n + l.internal.mi.nonFinite + l.terminal.mi.nonFinite,
    0,
  );
  if (nonFinite > 0) lines.push(`(${nonFinite} pairs with fewer than 2 kept elements: left out)`);
  lines.push(dim("r is undefined (–) where every vector is the same, e.g. the embeddings layer"));
  lines.push("");
  const v = r.layerView;
  lines.push(
    `layer ${v.layer} view: r(MI, cov) internal ${f(v.internal.r, 3, 0)}, terminal ${
      f(v.terminal.r, 3, 0)
    }`,
  );
  lines.push("");
  lines.push(bold("terminal examples (9 tokens either side):"));
  for (const e of r.examples) {
    lines.push(`  ${String(e.position).padStart(7)}  ${JSON.stringify(e.text)}`);
  }
  return lines.join("\n");
}

/** The punctuation command. */
export const command: CliCommand = {
  name: "punctuation",
  summary: "MI and covariance of comma vs period hidden states in a book (seed 004)",
  help: HELP,
  async run(args) {
    const { values } = parse(args, {
      ...COMMON_OPTIONS,
      ...BOOK_OPTIONS,
      count: { type: "string" },
      pre: { type: "string" },
      post: { type: "string" },
      start: { type: "string" },
      bins: { type: "string" },
      "outlier-z": { type: "string" },
      layer: { type: "string" },
      "hist-bins": { type: "string" },
      "mi-range": { type: "string" },
      "cov-range": { type: "string" },
      "save-matrices": { type: "string" },
    });
    const count = num(values.count, "count", 250, { integer: true, min: 2 });
    const pre = num(values.pre, "pre", 20, { integer: true, min: 0 });
    const post = num(values.post, "post", 10, { integer: true, min: 0 });
    const start = num(values.start, "start", 400, { integer: true, min: 0 });
    const bins = num(values.bins, "bins", 15, { integer: true, min: 2, max: 64 });
    const outlierZ = num(values["outlier-z"], "outlier-z", 5, { min: 0 });
    const layer = values.layer === undefined
      ? undefined
      : num(values.layer, "layer", 1, { integer: true, min: 0 });
    const histBins = num(values["hist-bins"], "hist-bins", 100, {
      integer: true,
      min: 1,
      max: 1024,
    });
    const miRange = rangeOption(values["mi-range"], "mi-range");
    const covRange = rangeOption(values["cov-range"], "cov-range", "-1,105");
    const save = values["save-matrices"];
    const { model, book, onProgress } = await startBookRun({
      book: values.book,
      model: values.model,
      offline: values.offline,
      weights: values.weights,
      keepHeader: values["keep-gutenberg-header"],
      save,
      saveExample: "punct.safetensors",
      layer,
    });
    let matrices: PunctuationMatrices | null = null;
    const result = await punctuation(model, book.text, {
      count,
      pre,
      post,
      start,
      bins,
      outlierZ,
      layer,
      histBins,
      miRange,
      covRange,
      onProgress,
      onMatrices: save ? (m) => void (matrices = m) : undefined,
    });
    result.book.source = book.source;
    result.book.title = book.title;
    if (save && matrices) {
      const m: PunctuationMatrices = matrices;
      const shape = [m.layers, m.n, m.n];
      await writeSafetensors(save, {
        mi_internal: { dtype: "F32", shape, data: m.miInternal },
        mi_terminal: { dtype: "F32", shape, data: m.miTerminal },
        cov_internal: { dtype: "F32", shape, data: m.covInternal },
        cov_terminal: { dtype: "F32", shape, data: m.covTerminal },
        positions_internal: {
          dtype: "I32",
          shape: [m.n],
          data: Int32Array.from(result.positions.internal),
        },
        positions_terminal: {
          dtype: "I32",
          shape: [m.n],
          data: Int32Array.from(result.positions.terminal),
        },
      }, {
        format: "laminar-punctuation-1",
        model: model.source,
        book: book.source,
        layout: "[layer, i, j], upper triangle i < j, zeros elsewhere",
      });
    }
    if (values.json || values.out) await emitJson(result, values);
    if (save) console.error(`wrote ${save}`);
    if (values.json) return 0;
    console.log(renderPunctuation(result, useColor()));
    if (values.out) console.error(`wrote ${values.out}`);
    return 0;
  },
};
