/**
 * `heatmap`: a text drawn as coloured tokens, each coloured by how well the model predicted it
 * (seed 000). Falls back to a table when the output is not a colour terminal.
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
  readText,
  useColor,
} from "./common.ts";
import {
  bold,
  colourBar,
  dim,
  fixed,
  fmt,
  quoteToken,
  reds,
  renderColouredText,
  table,
  terminalWidth,
} from "./render_tokens.ts";
import { InvalidArgumentError } from "../src/errors.ts";
import {
  heatmap,
  HEATMAP_DEFAULT_TEXT,
  HEATMAP_METRICS,
  type HeatmapMetric,
  type HeatmapResult,
} from "../src/analysis/heatmap.ts";

const HELP = `usage: deno task cli heatmap [--text "<text>" | --file <path>] [options]

Draws the text with each token's background coloured by how well the model predicted it
(seed 000): position p's next-token distribution scores the actual token p+1. Token 0 has
no prediction. The colouring metric is min-max scaled over tokens 1..T-1 exactly as the seed
does, then drawn with matplotlib's "Reds" colour map (light = low, dark red = high; token 0
gets 0, as in the seed). With --metric logprob (the default) dark red means well predicted.
Colour needs a terminal with 24-bit colour; when the output is not a terminal or NO_COLOR is
set, a table is printed instead (position, token, logprob, prob, rank, entropy, scaled).

Options:
  --text <text>         the text (default: the seed's paragraph about correlation and
                        cosine similarity)
  --file <path>         read the text from a file ("-" for stdin)
  --temperature <t>     divide the logits by t before the softmax (default 1)
  --metric <m>          what colours the tokens: logprob (default; log p of the token, nats),
                        prob (its probability), rank (1 = the model's top guess; scaled
                        after log10), entropy (nats, of the distribution that predicted it)
  --table               print the table even on a colour terminal

${COMMON_HELP}

JSON (schema "laminar.heatmap", version 1): tokens [{id, text, start, end}], per-token
logprob / prob / rank / entropy [T] (null at 0), scaled [T], scale {metric, transform,
min, max}, summary {predicted, meanLogprob, perplexity, top1, meanEntropy}.`;

const METRIC_LABEL: Record<HeatmapMetric, string> = {
  logprob: "log p(token) [nats]",
  prob: "p(token)",
  rank: "rank (log scale)",
  entropy: "entropy of the prediction [nats]",
};

const METRIC_HINT: Record<HeatmapMetric, string> = {
  logprob: "dark = well predicted, light = surprising",
  prob: "dark = well predicted, light = surprising",
  rank: "dark = far from the top guess, light = top guess",
  entropy: "dark = the model was unsure, light = it was confident",
};

function scaleLabel(r: HeatmapResult, v: number): string {
  return r.scale.transform === "log10" ? fmt(10 ** v, 3) : fmt(v, 3);
}

/** The coloured view: header, coloured text, colour bar and a summary line. */
export function renderHeatmap(r: HeatmapResult, width = terminalWidth()): string {
  const s = r.summary;
  const name = r.model.source.split("/").filter(Boolean).pop() ?? r.model.source;
  const head = `${bold("heatmap", true)} ${
    dim(`${name} · ${r.tokens.length} tokens · T=${r.options.temperature}`, true)
  }`;
  const text = renderColouredText(r.tokens.map((t) => t.text), (i) => reds(r.scaled[i]), width);
  const label = METRIC_LABEL[r.scale.metric];
  const lo = scaleLabel(r, r.scale.min);
  const hi = scaleLabel(r, r.scale.max);
  const cells = Math.min(32, Math.max(8, width - label.length - lo.length - hi.length - 6));
  const legend = `${label}  ${colourBar(reds, lo, hi, cells)}\n${
    dim(METRIC_HINT[r.scale.metric], true)
  }`;
  const summary = dim(
    `mean log p ${fixed(s.meanLogprob, 3)} nats · perplexity ${fmt(s.perplexity, 4)} · ` +
      `top-1 ${(100 * s.top1).toFixed(1)}% · mean entropy ${fixed(s.meanEntropy, 3)} nats`,
    true,
  );
  return [head, "", text, "", legend, summary].join("\n");
}

/** The plain view: one row per token. */
export function renderHeatmapTable(r: HeatmapResult): string {
  const rows = r.tokens.map((t, i) => [
    String(i),
    quoteToken(t.text),
    String(t.id),
    fixed(r.logprob[i], 4),
    fmt(r.prob[i], 4),
    r.rank[i] === null ? "-" : String(r.rank[i]),
    fixed(r.entropy[i], 3),
    fixed(r.scaled[i], 3),
  ]);
  const s = r.summary;
  const name = r.model.source.split("/").filter(Boolean).pop() ?? r.model.source;
  return [
    `heatmap: ${name}, ${r.tokens.length} tokens, temperature ${r.options.temperature}, ` +
    `scaled metric ${r.scale.metric}${r.scale.transform === "log10" ? " (log10)" : ""} ` +
    `[${fmt(r.scale.min, 4)}, ${fmt(r.scale.max, 4)}]`,
    "",
    table(
      ["pos", "token", "id", "logprob", "prob", "rank", "entropy", "scaled"],
      rows,
      ["right", "left"],
    ),
    "",
    `mean log p ${fixed(s.meanLogprob, 4)} nats, perplexity ${fmt(s.perplexity, 5)}, ` +
    `top-1 ${(100 * s.top1).toFixed(1)}%, mean entropy ${fixed(s.meanEntropy, 4)} nats`,
  ].join("\n");
}

/** The heatmap command. */
export const command: CliCommand = {
  name: "heatmap",
  summary: "per-token next-token log-probability heatmap of a text (seed 000)",
  help: HELP,
  async run(args) {
    const { values } = parse(args, {
      ...COMMON_OPTIONS,
      text: { type: "string" },
      file: { type: "string" },
      temperature: { type: "string" },
      metric: { type: "string", default: "logprob" },
      table: { type: "boolean", default: false },
    });
    if (values.text !== undefined && values.file !== undefined) {
      throw new InvalidArgumentError("Give either --text or --file, not both", "See --help");
    }
    const temperature = num(values.temperature, "temperature", 1);
    if (!(temperature > 0)) {
      throw new InvalidArgumentError(
        `Option --temperature must be a positive number, got "${values.temperature}"`,
        "Use a temperature such as 0.5, 1 or 2",
      );
    }
    const metric = values.metric as HeatmapMetric;
    if (!HEATMAP_METRICS.includes(metric)) {
      throw new InvalidArgumentError(
        `Unknown metric "${values.metric}"`,
        `Use one of ${HEATMAP_METRICS.join(", ")}`,
      );
    }
    const text = values.text === undefined && values.file === undefined
      ? HEATMAP_DEFAULT_TEXT
      : await readText(values);
    progress("loading the model…");
    const model = await loadModel(values.model, values);
    progress("running the model…");
    const result = await heatmap(model, text, { temperature, metric });
    progressDone();
    if (values.json || values.out) await emitJson(result, values);
    if (values.json) return 0;
    const colour = useColor() && !values.table;
    console.log(colour ? renderHeatmap(result) : renderHeatmapTable(result));
    if (values.out) console.error(`wrote ${values.out}`);
    return 0;
  },
};
