/**
 * `intervene`: the effect of a GPU-side intervention at every block on a target token's
 * log-softmax at the last position (seed 003, demo 3).
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
  readInputFile,
  readText,
  useColor,
} from "./common.ts";
import { FormatError, InvalidArgumentError } from "../src/errors.ts";
import type { TokenInput } from "../src/analysis/layers.ts";
import {
  intervene,
  INTERVENE_DEFAULT_FACTOR,
  INTERVENE_DEFAULT_TARGET,
  INTERVENE_DEFAULT_TEXT,
  type InterveneOp,
  type InterveneOptions,
  type InterveneResult,
} from "../src/analysis/intervene.ts";
import { BLOCK_HOOKS } from "../src/model/hooks.ts";

const HELP =
  `usage: deno task cli intervene [--text "<prompt>" | --file <path> | --ids 1,2,3] [options]

Changes one activation inside block L, for every block L in turn, and reports the log-softmax
of a target token at the last position (seed 003, demo 3), next to the clean pass. The seed's
default: the output of block L (blocks.{L}.hook_resid_post, what a forward hook on HF's
transformer.h[L] changes) scaled by ${INTERVENE_DEFAULT_FACTOR}, target ${
    JSON.stringify(INTERVENE_DEFAULT_TARGET)
  }.
All blocks run as one batched forward pass on the GPU (sequence k carries block k's change);
clean pass, batched pass and readback are one submission.

Input (default: the seed's "${INTERVENE_DEFAULT_TEXT}"):
  --text <text>         the prompt
  --file <path>         read the prompt from a file ("-" = stdin)
  --ids <list>          comma-separated token ids instead of a text

Options:
  --target <word>       target token, exactly one GPT-2 token (default ${
    JSON.stringify(INTERVENE_DEFAULT_TARGET)
  }; mind the
                        leading space)
  --target-id <id>      target token by id instead
  --op <op>             scale (default) | zero | add | patch
  --factor <x>          scale: the factor (default ${INTERVENE_DEFAULT_FACTOR}); add: multiplier of the vector (default 1)
  --hook <name>         hook inside each block (default hook_resid_post), one of
                        ${BLOCK_HOOKS.join(", ")}
  --layers <list>       blocks to intervene at (default all; negative counts from the end)
  --positions <list>    token positions changed (default all; negative from the end)
  --heads <list>        heads changed, with attn.hook_q/k/v/z/pattern (default all)
  --patch-text <text>   op patch: the prompt whose activation is patched in (same number of
                        tokens as the prompt)
  --patch-ids <list>    op patch: the other prompt as token ids
  --vector-file <path>  op add: the vector to add, a JSON array or whitespace/comma-separated
                        numbers, as long as the hook's last dimension (n_embd for residual hooks)
  --top <k>             clean top-k next tokens to list (default 10)
  --sequential          one forward per block instead of the batched pass (same numbers)
  (a value starting with "-" needs "=": --layers=-1, --positions=-2,-1)

${COMMON_HELP}`;

/** Read the numbers of a vector file (JSON array, or numbers separated by spaces/commas). */
async function readVector(path: string): Promise<number[]> {
  const t = (await readInputFile(path, "The vector file")).trim();
  const values = t.startsWith("[")
    ? (() => {
      try {
        return JSON.parse(t);
      } catch {
        return null;
      }
    })()
    : t.split(/[\s,]+/).filter((s) => s !== "").map(Number);
  if (
    !Array.isArray(values) || values.length === 0 ||
    values.some((v) => typeof v !== "number" || !Number.isFinite(v))
  ) {
    throw new FormatError(
      `File "${path}" does not hold a list of finite numbers`,
      "Write a JSON array [0.1, -0.2, ...] or numbers separated by spaces",
    );
  }
  return values;
}

/** The intervene command. */
export const command: CliCommand = {
  name: "intervene",
  summary: "effect of a GPU-side intervention at every layer on a target token (seed 003)",
  help: HELP,
  async run(args) {
    const { values } = parse(args, {
      ...COMMON_OPTIONS,
      text: { type: "string" },
      file: { type: "string" },
      ids: { type: "string" },
      target: { type: "string" },
      "target-id": { type: "string" },
      op: { type: "string" },
      factor: { type: "string" },
      hook: { type: "string" },
      layers: { type: "string" },
      positions: { type: "string" },
      heads: { type: "string" },
      "patch-text": { type: "string" },
      "patch-ids": { type: "string" },
      "vector-file": { type: "string" },
      top: { type: "string" },
      sequential: { type: "boolean", default: false },
    });
    const given = [values.text, values.file, values.ids].filter((v) => v !== undefined).length;
    if (given > 1) {
      throw new InvalidArgumentError("Give only one of --text, --file and --ids", "See --help");
    }
    if (values.target !== undefined && values["target-id"] !== undefined) {
      throw new InvalidArgumentError("Give only one of --target and --target-id", "See --help");
    }
    if (values["patch-text"] !== undefined && values["patch-ids"] !== undefined) {
      throw new InvalidArgumentError(
        "Give only one of --patch-text and --patch-ids",
        "Drop one of the two options",
      );
    }
    const op = (values.op ?? "scale") as InterveneOp;
    if (!["scale", "zero", "add", "patch"].includes(op)) {
      throw new InvalidArgumentError(
        `Option --op must be scale, zero, add or patch, got "${values.op}"`,
        "For example --op zero",
      );
    }
    if (values.factor !== undefined && (op === "zero" || op === "patch")) {
      throw new InvalidArgumentError(
        `Option --factor does not apply to --op ${op}`,
        "Drop --factor, or use --op scale or --op add",
      );
    }
    let input: TokenInput = INTERVENE_DEFAULT_TEXT;
    if (values.ids !== undefined) input = { ids: intList(values.ids, "ids")! };
    else if (values.text !== undefined || values.file !== undefined) {
      input = await readText({ text: values.text, file: values.file });
    }
    const opts: InterveneOptions = {
      op,
      target: values["target-id"] !== undefined
        ? num(values["target-id"], "target-id", 0, { integer: true, min: 0 })
        : values.target,
      factor: values.factor === undefined ? undefined : num(values.factor, "factor", 0),
      hook: values.hook,
      layers: intList(values.layers, "layers"),
      positions: intList(values.positions, "positions"),
      heads: intList(values.heads, "heads"),
      top: num(values.top, "top", 10, { integer: true, min: 1 }),
      strategy: values.sequential ? "sequential" : "batched",
    };
    if (values["patch-ids"] !== undefined) {
      opts.patch = { ids: intList(values["patch-ids"], "patch-ids")! };
    } else if (values["patch-text"] !== undefined) {
      if (values["patch-text"].trim() === "") {
        throw new InvalidArgumentError("The patch text is empty", "Give the other prompt");
      }
      opts.patch = values["patch-text"];
    }
    if (values["vector-file"] !== undefined) opts.vector = await readVector(values["vector-file"]);
    const model = await loadModel(values.model, values);
    const result = await intervene(model, input, opts);
    if (!values.json) console.log(renderIntervene(result, useColor()));
    await emitJson(result, values);
    if (values.out) console.error(`wrote ${values.out}`);
    return 0;
  },
};

// ---------------------------------------------------------------------------------------------
// Terminal rendering

const EIGHTHS = " ▏▎▍▌▋▊▉█";

/** A bar of `t` in [0, 1] over `width` cells, eighth-block precision. */
function bar(t: number, width: number): string {
  const e = Math.round(Math.min(1, Math.max(0, t)) * width * 8);
  return "█".repeat(Math.floor(e / 8)) + (e % 8 ? EIGHTHS[e % 8] : "");
}

function paint(s: string, code: number, color: boolean): string {
  return color ? `\x1b[${code}m${s}\x1b[0m` : s;
}

function signed(x: number, digits = 3): string {
  return (x >= 0 ? "+" : "") + x.toFixed(digits);
}

function tokenLabel(text: string, n = 12): string {
  const t = JSON.stringify(text);
  return t.length > n ? t.slice(0, n - 2) + '…"' : t;
}

/** The terminal view of an {@linkcode InterveneResult}. */
export function renderIntervene(r: InterveneResult, color = false): string {
  const o = r.options;
  const out: string[] = [];
  const prompt = r.tokens.map((t) => t.text).join("");
  out.push(`${paint("intervene", 1, color)}  ${r.model.source}  (${r.model.nLayer} blocks)`);
  out.push(
    `prompt (${r.tokens.length} tokens): ${
      JSON.stringify(prompt.length > 90 ? "…" + prompt.slice(-89) : prompt)
    }`,
  );
  const what = o.op === "scale"
    ? `scale by ${o.factor}`
    : o.op === "add"
    ? `add ${o.factor} x vector[${o.vectorLength}]`
    : o.op === "zero"
    ? "zero-ablate"
    : `patch from ${JSON.stringify(o.patchTokens!.map((t) => t.text).join(""))}`;
  const where = [
    o.positions ? `positions ${o.positions.join(",")}` : "all positions",
    o.heads ? `heads ${o.heads.join(",")}` : "",
  ].filter(Boolean).join(", ");
  out.push(`change: ${what} at blocks.{L}.${o.hook}, ${where}`);
  out.push(`target: ${JSON.stringify(r.target.text)} (id ${r.target.id}) at the last position`);
  const c = r.clean;
  out.push(
    `clean:  log p = ${c.logProb.toFixed(3)}   p = ${c.prob.toExponential(2)}   rank ${c.rank}` +
      `   top ${JSON.stringify(c.top.text)} (${c.top.logProb.toFixed(3)})`,
  );
  out.push(
    `        top ${c.topK.length}: ${
      c.topK.map((t) => `${JSON.stringify(t.text)} ${t.logProb.toFixed(2)}`).join(", ")
    }`,
  );
  out.push("");
  const maxAbs = Math.max(1e-3, ...r.layers.map((l) => Math.abs(l.delta))); // nats
  const W = 16;
  out.push(
    `  ${"block".padEnd(6)}${"log p".padStart(9)}${"Δ clean".padStart(10)}${"p".padStart(10)}${
      "rank".padStart(7)
    }  ${"top".padEnd(12)}  ${"lower".padStart(W)}|higher   (Δ, full bar = ${maxAbs.toFixed(3)})`,
  );
  for (const l of r.layers) {
    const b = bar(Math.abs(l.delta) / maxAbs, W);
    const left = l.delta < 0 ? paint(b.padStart(W), 31, color) : " ".repeat(W);
    const right = l.delta > 0 ? paint(b, 32, color) : "";
    out.push(
      `  ${`L${l.layer}`.padEnd(6)}${l.logProb.toFixed(3).padStart(9)}${
        signed(l.delta).padStart(10)
      }${l.prob.toExponential(2).padStart(10)}${String(l.rank).padStart(7)}  ${
        tokenLabel(l.top.text).padEnd(12)
      }  ${left}|${right}`,
    );
  }
  out.push(
    `  (${r.layers.length} intervened passes ${
      o.strategy === "batched" ? "as one batched forward" : "as sequential forwards"
    }, ${r.submissions} GPU submission)`,
  );
  return out.join("\n");
}
