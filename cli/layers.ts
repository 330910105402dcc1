/**
 * `layers`: hidden states layer by layer (seed 003, demos 1 and 2): one token's activation
 * distributions, cosine matrices across layers and across tokens, the laminar profile.
 * @module
 */

import {
  type CliCommand,
  COMMON_HELP,
  COMMON_OPTIONS,
  emitJson,
  intList,
  loadModel,
  num,
  parse,
  readText,
  useColor,
} from "./common.ts";
import { InvalidArgumentError } from "../src/errors.ts";
import {
  layers,
  LAYERS_DEFAULT_TEXT,
  type LayersResult,
  type TokenInput,
} from "../src/analysis/layers.ts";

const HELP = `usage: deno task cli layers [--text "<text>" | --file <path> | --ids 1,2,3] [options]

Hidden states layer by layer (seed 003, demos 1 and 2), from one forward pass:
  1. one token's activations in every hidden state: mean, std and variance (ddof 1, as the
     seed's torch .var()), min, max, quantiles, and a histogram on edges shared by all layers;
  2. cosine similarity between a token's hidden states across layers ([L+1, L+1] per token);
  3. cosine similarity between tokens within a hidden state ([T, T] per layer);
  4. the laminar profile: per hidden state, the cosine similarities of every pair of tokens
     (i < j), the first token excluded as in the seed: mean, spread, quartiles.
Hidden states are HF's: index 0 = embeddings ("Emb"), index l = output of block l-1 ("L{l-1}"),
the last one after the final layer norm. Cosine matrices are computed on the GPU.

Input (default: the seed's "${LAYERS_DEFAULT_TEXT}"):
  --text <text>       the text (GPT-2 BPE; at least 3 tokens)
  --file <path>       read the text from a file ("-" = stdin)
  --ids <list>        comma-separated token ids instead of a text

Options:
  --token <i>         token for the activation distributions (default 8 as the seed, " cute";
                      the last token for shorter texts; negative counts from the end)
  --tokens <list>     tokens for the layer x layer cosine matrices (default 4 evenly spaced
                      incl. first and last, the seed's np.linspace(0, T-1, 4, dtype=int))
  --layers <list>     hidden-state indices for the token x token matrices (default 4 evenly
                      spaced, np.linspace(0, n_layer, 4, dtype=int); negative from the end)
  --bins <n>          histogram bins (default 32)
  (a value starting with "-" needs "=": --token=-1, --layers=-1,-2)

Note: the seed notebook's demo-2 loops index tokens 0..3 and hidden states 0..3 instead of the
evenly spaced ones its titles name; the defaults follow the titles. --tokens 0,1,2,3 and
--layers 0,1,2,3 reproduce the matrices it drew.

${COMMON_HELP}`;

/** The layers command. */
export const command: CliCommand = {
  name: "layers",
  summary: "hidden states per layer, cosine matrices, laminar profile (seed 003)",
  help: HELP,
  async run(args) {
    const { values } = parse(args, {
      ...COMMON_OPTIONS,
      text: { type: "string" },
      file: { type: "string" },
      ids: { type: "string" },
      token: { type: "string" },
      tokens: { type: "string" },
      layers: { type: "string" },
      bins: { type: "string" },
    });
    const given = [values.text, values.file, values.ids].filter((v) => v !== undefined).length;
    if (given > 1) {
      throw new InvalidArgumentError("Give only one of --text, --file and --ids", "See --help");
    }
    let input: TokenInput = LAYERS_DEFAULT_TEXT;
    if (values.ids !== undefined) input = { ids: intList(values.ids, "ids")! };
    else if (values.text !== undefined || values.file !== undefined) {
      input = await readText({ text: values.text, file: values.file });
    }
    const opts = {
      token: values.token === undefined
        ? undefined
        : num(values.token, "token", 0, { integer: true }),
      tokens: intList(values.tokens, "tokens"),
      layers: intList(values.layers, "layers"),
      bins: num(values.bins, "bins", 32, { integer: true, min: 1, max: 1000 }),
    };
    const model = await loadModel(values.model, values);
    const result = await layers(model, input, opts);
    if (!values.json) console.log(renderLayers(result, useColor()));
    await emitJson(result, values);
    if (values.out) console.error(`wrote ${values.out}`);
    return 0;
  },
};

// ---------------------------------------------------------------------------------------------
// Terminal rendering

const SPARK = " ▁▂▃▄▅▆▇█";
const SHADE = [" ", "░", "▒", "▓", "█"];
// A plasma-like ramp of xterm-256 colours, dark purple to yellow.
const RAMP = [17, 54, 55, 91, 127, 163, 168, 204, 209, 214, 220, 226];
const EIGHTHS = " ▏▎▍▌▋▊▉█";

function f(x: number, digits = 3, width = 8): string {
  return (Number.isFinite(x) ? x.toFixed(digits) : String(x)).padStart(width);
}

function bold(s: string, color: boolean): string {
  return color ? `\x1b[1m${s}\x1b[0m` : s;
}

/** Token text for a label: visible whitespace, at most `n` characters. */
function label(text: string, n = 10): string {
  const t = JSON.stringify(text).slice(1, -1);
  return t.length > n ? t.slice(0, n - 1) + "…" : t;
}

/** One cell of a heat display: two characters, shaded or on a 256-colour background. */
function cell(v: number, lo: number, hi: number, color: boolean): string {
  const t = hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 1;
  if (color) return `\x1b[48;5;${RAMP[Math.round(t * (RAMP.length - 1))]}m  \x1b[0m`;
  const s = SHADE[Math.round(t * (SHADE.length - 1))];
  return s + s;
}

function legend(lo: number, hi: number, color: boolean): string {
  const steps = color ? RAMP.length : SHADE.length;
  const cells = Array.from({ length: steps }, (_, i) => {
    const v = lo + (hi - lo) * i / (steps - 1);
    return color ? cell(v, lo, hi, true).replace("  ", " ") : SHADE[i];
  });
  return `${lo.toFixed(2)} ${cells.join("")} ${hi.toFixed(2)}`;
}

/** Widest token x token matrix drawn cell by cell; larger ones are drawn as block means. */
export const MAX_TERMINAL_TOKENS = 64;

/**
 * `m` [T, T] pooled to at most `max` rows and columns: cell (i, j) is the mean of the tokens
 * i·s .. i·s + s - 1 by j·s .. (s = ceil(T / max); the last block may be smaller).
 */
export function poolMatrix(m: number[][], max: number): { matrix: number[][]; step: number } {
  const step = Math.ceil(m.length / max);
  if (step <= 1) return { matrix: m, step: 1 };
  const n = Math.ceil(m.length / step);
  const matrix = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => {
      let sum = 0, count = 0;
      for (let a = i * step; a < Math.min(m.length, (i + 1) * step); a++) {
        for (let b = j * step; b < Math.min(m.length, (j + 1) * step); b++) {
          sum += m[a][b];
          count++;
        }
      }
      return sum / count;
    }));
  return { matrix, step };
}

function heatmap(m: number[][], rowLabels: string[], color: boolean): string[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of m) {
    for (const v of row) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  const w = Math.max(...rowLabels.map((s) => s.length));
  const lines = m.map((row, i) =>
    `  ${rowLabels[i].padStart(w)} ${row.map((v) => cell(v, lo, hi, color)).join("")}`
  );
  lines.push(`  ${"".padStart(w)} ${legend(lo, hi, color)}`);
  return lines;
}

function spark(counts: number[]): string {
  const top = Math.max(...counts);
  return counts.map((c) =>
    c === 0 ? " " : SPARK[Math.max(1, Math.round((c / top) * (SPARK.length - 1)))]
  ).join("");
}

function bar(v: number, lo: number, hi: number, width: number): string {
  const t = hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0;
  const eighths = Math.round(t * width * 8);
  return "█".repeat(Math.floor(eighths / 8)) + (eighths % 8 ? EIGHTHS[eighths % 8] : "");
}

/** The terminal view of a {@linkcode LayersResult}. */
export function renderLayers(r: LayersResult, color = false): string {
  const out: string[] = [];
  const L = r.layerLabels;
  out.push(
    `${bold("layers", color)}  ${r.model.source}  (${r.model.nLayer} blocks, d=${r.model.nEmbd})`,
  );
  // The token list, wrapped at 100 columns.
  let line = "tokens:";
  for (const [i, t] of r.tokens.entries()) {
    const item = ` ${i}:${JSON.stringify(t.text)}`;
    if (line.length + item.length > 100 && line !== "tokens:") {
      out.push(line);
      line = "       ";
    }
    line += item;
  }
  out.push(line);
  out.push("");

  // 1. Activation distributions.
  const a = r.activations;
  const qh = a.quantiles.map((q) => `q${String(Math.round(q * 100)).padStart(2, "0")}`);
  out.push(
    bold(`Activations of token ${a.token} ${JSON.stringify(a.text)} per hidden state`, color),
  );
  out.push(
    `  ${"layer".padEnd(5)}${
      ["mean", "std", "var", "min", ...qh, "max", "norm"].map((h) => h.padStart(8)).join("")
    }  histogram [${a.histogramEdges[0].toFixed(2)}, ${a.histogramEdges.at(-1)!.toFixed(2)}]`,
  );
  for (const s of a.layers) {
    out.push(
      `  ${s.label.padEnd(5)}${f(s.mean)}${f(s.std)}${f(s.variance)}${f(s.min)}${
        s.quantiles.map((q) => f(q)).join("")
      }${f(s.max)}${f(s.norm, 2)}  ${spark(s.histogram)}`,
    );
  }
  out.push("  (variance and std with ddof 1, as torch's .var(); histograms on shared edges)");
  out.push("");

  // 2a. Layer x layer cosine per token.
  for (const m of r.layerCosine) {
    out.push(
      bold(`Cosine similarity across layers, token ${m.token} ${JSON.stringify(m.text)}`, color),
    );
    const rows = L.map((s, i) => `${s.padEnd(3)} ${String(i).padStart(2)}`);
    out.push(`  ${"".padStart(rows[0].length)} ${L.map((_, i) => String(i).padEnd(2)).join("")}`);
    out.push(...heatmap(m.matrix, rows, color));
    out.push("");
  }
  // 2b. Token x token cosine per layer (long texts: block means, so a row fits a terminal).
  const step = Math.ceil(r.tokens.length / MAX_TERMINAL_TOKENS);
  const blocks = Array.from({ length: Math.ceil(r.tokens.length / step) }, (_, i) => i * step);
  const tl = blocks.map((i) =>
    step === 1
      ? `${label(r.tokens[i].text)} ${String(i).padStart(2)}`
      : `${i}-${Math.min(r.tokens.length, i + step) - 1}`
  );
  const tw = Math.max(...tl.map((s) => s.length));
  for (const m of r.tokenCosine) {
    out.push(bold(`Cosine similarity across tokens, hidden state ${m.layer} (${m.label})`, color));
    if (step > 1) {
      out.push(
        `  (${r.tokens.length} tokens: each cell is the mean over ${step} x ${step} token pairs; ` +
          "--json or the viz page has every pair)",
      );
    }
    out.push(`  ${"".padStart(tw)} ${blocks.map((_, k) => String(k % 100).padEnd(2)).join("")}`);
    out.push(...heatmap(poolMatrix(m.matrix, MAX_TERMINAL_TOKENS).matrix, tl, color));
    out.push("");
  }
  // 2c. Laminar profile.
  const p = r.laminarProfile.layers;
  const lo = Math.min(0, ...p.map((x) => x.mean));
  out.push(
    bold(
      `Laminar profile: inter-token cosine similarity (tokens 1..${r.tokens.length - 1}, ` +
        `${p[0].pairs} pairs per layer)`,
      color,
    ),
  );
  out.push(
    `  ${"layer".padEnd(5)}${
      ["mean", "std", "min", "q25", "median", "q75", "max"].map((h) => h.padStart(8)).join("")
    }  mean on [${lo.toFixed(1)}, 1]`,
  );
  for (const x of p) {
    out.push(
      `  ${x.label.padEnd(5)}${f(x.mean)}${f(x.std)}${f(x.min)}${f(x.q25)}${f(x.median)}${
        f(x.q75)
      }${f(x.max)}  ${bar(x.mean, lo, 1, 30)}`,
    );
  }
  return out.join("\n");
}
