/**
 * `softmax`: the next-token distribution at the end of a prompt (seed 002): top-k at several
 * temperatures, entropy, float32 overflow of the textbook softmax, a second model's logits.
 * @module
 */

import {
  type CliCommand,
  COMMON_HELP,
  COMMON_OPTIONS,
  decimalList,
  emitJson,
  loadModel,
  num,
  parse,
  progress,
  progressDone,
  readText,
  useColor,
} from "./common.ts";
import { bold, dim, fixed, fmt, quoteToken, table } from "./render_tokens.ts";
import { InvalidArgumentError } from "../src/errors.ts";
import { pearson } from "../src/stats/mod.ts";
import {
  OVERFLOW_MAX,
  SCATTER_SIZE,
  SCATTER_TOP,
  SEED_TEMPERATURES,
  SOFTMAX_DEFAULT_TEXT,
  softmaxAnalysis,
  type SoftmaxResult,
  UNDERFLOW_MAX,
} from "../src/analysis/softmax.ts";

const HELP = `usage: deno task cli softmax [--text "<prompt>" | --file <path>] [options]

The model's next-token distribution at the end of a prompt (seed 002):
  - the top-k tokens with their logits and probabilities at several temperatures
    (softmax of logits / T), and the entropy of the whole distribution at each T;
  - numerical stability: the textbook exp(x) / sum(exp(x)) in float32 (as PyTorch or numpy
    on float32 logits) on the raw logits, on the max-subtracted logits (the seed's fix), and
    on the logits shifted so their max is ${OVERFLOW_MAX} (exp overflows to inf: inf/inf = NaN)
    or ${UNDERFLOW_MAX} (every exp underflows to 0: 0/0 = NaN). Softmax is shift-invariant, so
    the stable softmax gives the same answer in every case;
  - with --compare-model, a second model's logits for the same prompt: Pearson correlation
    of the logits and of the probabilities, top-k overlap (the seed compares gpt2 with
    gpt2-large: --model gpt2 --compare-model gpt2-large), over the whole vocabulary, and both
    models' logits and probabilities at a sample of token ids for a scatter plot (in the JSON;
    the viz softmax page draws it).
The logits come from one forward pass on the GPU; the softmax arithmetic is float64 on the CPU.

Options:
  --text <text>          the prompt (default: "${SOFTMAX_DEFAULT_TEXT}", the seed's)
  --file <path>          read the prompt from a file ("-" for stdin)
  --k <n>                how many top tokens (default 10)
  --temperatures <list>  comma-separated temperatures > 0 (default ${SEED_TEMPERATURES.join(",")},
                         the seed's)
  --compare-model <m>    a second model with the GPT-2 vocabulary (same forms as --model)
  --scatter-size <n>     token ids in the comparison's scatter sample, JSON only (default
                         ${SCATTER_SIZE}: both models' top-${SCATTER_TOP} plus ids spread evenly; 0: none)

${COMMON_HELP}

JSON (schema "laminar.softmax", version 1): tokens, logits {min, max, mean, std, sum,
histogram}, probSum, top {ids, texts, logits} [k], temperatures [{temperature, probs [k],
topMass, entropy, entropyBits}], stability [{name, offset, min, max, expInf, expZero, expSum,
nan, probSum, maxAbsDiff}], toy {z, manual, library, sum}, compare (null or {model, logits,
top, probs, pearsonLogits, pearsonProbs, topOverlap, sameTop1, scatter (null or {top, union,
ids, a, b, pa, pb} [n])}).`;

function parseTemperatures(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const out = decimalList(value);
  if (!out || out.some((t) => !Number.isFinite(t) || t <= 0)) {
    throw new InvalidArgumentError(
      `Option --temperatures must be a comma-separated list of positive numbers, got "${value}"`,
      "Use --temperatures 0.5,1,1.5",
    );
  }
  return out;
}

/** Pearson r of the sample's values (null when undefined: fewer than 2 values or no spread). */
function pearsonOf(a: number[], b: number[]): number | null {
  if (a.length < 2) return null;
  const r = pearson(a, b);
  return Number.isFinite(r) ? r : null;
}

function shortName(source: string): string {
  return source.split("/").filter(Boolean).pop() ?? source;
}

/** The terminal view. */
export function renderSoftmax(r: SoftmaxResult, color = false): string {
  const lines: string[] = [];
  const T = r.tokens.length;
  lines.push(
    `${bold("softmax", color)} ${dim(`${shortName(r.model.source)} · ${T} tokens`, color)}`,
  );
  lines.push(`${r.text}___`);
  lines.push("");
  const g = r.logits;
  lines.push(
    `logits at the last position [${r.model.vocabSize}]: min ${fixed(g.min, 3)}, max ${
      fixed(g.max, 3)
    }, mean ${fixed(g.mean, 3)}, std ${fixed(g.std, 3)}; sum of the raw logits ${
      fixed(g.sum, 3)
    }, of the softmax ${fixed(r.probSum, 3)}`,
  );
  lines.push("");

  lines.push(bold(`top-${r.options.k} next tokens`, color));
  const tHead = r.temperatures.map((t) => `p(T=${t.temperature})`);
  const rows = r.top.ids.map((id, i) => [
    String(i + 1),
    String(id),
    quoteToken(r.top.texts[i]),
    fixed(r.top.logits[i], 3),
    ...r.temperatures.map((t) => `${(100 * t.probs[i]).toFixed(2)}%`),
  ]);
  rows.push([
    "",
    "",
    "top-k mass",
    "",
    ...r.temperatures.map((t) => `${(100 * t.topMass).toFixed(2)}%`),
  ]);
  rows.push(["", "", "entropy (nats)", "", ...r.temperatures.map((t) => fixed(t.entropy, 3))]);
  rows.push(["", "", "entropy (bits)", "", ...r.temperatures.map((t) => fixed(t.entropyBits, 3))]);
  lines.push(table(["#", "id", "token", "logit", ...tHead], rows, ["right", "right", "left"]));
  lines.push("");

  lines.push(bold("textbook exp(x)/sum(exp(x)) in float32 vs the max-subtracted softmax", color));
  lines.push(
    table(
      ["logits", "offset", "max", "exp=inf", "exp=0", "sum exp", "NaN p", "sum p", "max|Δp|"],
      r.stability.map((c) => [
        c.name,
        fixed(c.offset, 2),
        fixed(c.max, 2),
        String(c.expInf),
        String(c.expZero),
        c.expSum === null ? (c.expInf > 0 ? "inf" : "-") : fmt(c.expSum, 4),
        String(c.nan),
        c.probSum === null ? "NaN" : fixed(c.probSum, 6),
        c.maxAbsDiff === null ? "-" : fmt(c.maxAbsDiff, 2),
      ]),
      ["left"],
    ),
  );
  lines.push(
    dim(
      "float32 exp overflows above 88.72 and underflows to 0 below -103.97; the stable " +
        "softmax subtracts the max first.",
      color,
    ),
  );
  lines.push(
    dim(
      `toy z = [${r.toy.z.join(", ")}]: softmax = [${
        r.toy.manual.map((v) => v.toFixed(4)).join(", ")
      }], sum ${fmt(r.toy.sum, 6)}`,
      color,
    ),
  );

  const c = r.compare;
  if (c) {
    lines.push("");
    lines.push(
      bold(`compared with ${shortName(c.model.source)}`, color) +
        dim(` (${c.model.nLayer} layers, ${c.model.nEmbd} dims)`, color),
    );
    lines.push(
      `pearson r of the logits ${fmt(c.pearsonLogits, 4)}, of the probabilities ${
        fmt(c.pearsonProbs, 4)
      }; top-${r.options.k} overlap ${c.topOverlap}/${r.options.k}; same top-1: ${
        c.sameTop1 ? "yes" : "no"
      }`,
    );
    lines.push(
      `its logits: min ${fixed(c.logits.min, 3)}, max ${fixed(c.logits.max, 3)}, mean ${
        fixed(c.logits.mean, 3)
      }; its top-${r.options.k}: ${
        c.top.texts.map((t, i) => `${quoteToken(t)} ${(100 * c.probs[i]).toFixed(1)}%`).join(", ")
      }`,
    );
    const s = c.scatter;
    lines.push(
      dim(
        `r is over all ${r.model.vocabSize} token ids. ` +
          (s
            ? `Scatter sample in the JSON (compare.scatter): ${s.ids.length} ids = the union of ` +
              `both top-${s.top} (${s.union}) + ${s.ids.length - s.union} spread evenly; ` +
              `r over the sample: logits ${fmt(pearsonOf(s.a, s.b), 4)}, probabilities ${
                fmt(pearsonOf(s.pa, s.pb), 4)
              }.`
            : "No scatter sample (--scatter-size 0)."),
        color,
      ),
    );
  }
  return lines.join("\n");
}

/** The softmax command. */
export const command: CliCommand = {
  name: "softmax",
  summary: "next-token distribution: top-k, temperature, numerical stability (seed 002)",
  help: HELP,
  async run(args) {
    const { values } = parse(args, {
      ...COMMON_OPTIONS,
      text: { type: "string" },
      file: { type: "string" },
      k: { type: "string" },
      temperatures: { type: "string" },
      "compare-model": { type: "string" },
      "scatter-size": { type: "string" },
    });
    if (values.text !== undefined && values.file !== undefined) {
      throw new InvalidArgumentError("Give either --text or --file, not both", "See --help");
    }
    const k = num(values.k, "k", 10, { integer: true, min: 1 });
    const temperatures = parseTemperatures(values.temperatures);
    const scatterSize = num(values["scatter-size"], "scatter-size", SCATTER_SIZE, {
      integer: true,
      min: 0,
    });
    const text = values.text === undefined && values.file === undefined
      ? SOFTMAX_DEFAULT_TEXT
      : await readText(values);
    progress("loading the model…");
    const model = await loadModel(values.model, values);
    const compareModel = values["compare-model"] === undefined
      ? undefined
      : await loadModel(values["compare-model"], values);
    progress("running the model…");
    const result = await softmaxAnalysis(model, text, {
      k,
      temperatures,
      compareModel,
      scatterSize,
    });
    progressDone();
    if (values.json || values.out) await emitJson(result, values);
    if (values.json) return 0;
    console.log(renderSoftmax(result, useColor()));
    if (values.out) console.error(`wrote ${values.out}`);
    return 0;
  },
};
