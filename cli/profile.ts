/**
 * `profile`: per-kernel GPU time of one forward pass (timestamp queries around every launch),
 * aggregated by kernel name, with the ordered launch list in the JSON.
 * @module
 */

import {
  type CliCommand,
  COMMON_HELP,
  COMMON_OPTIONS,
  emitJson,
  getGpu,
  loadModel,
  num,
  parse,
  weightsOption,
} from "./common.ts";
import { InvalidArgumentError } from "../src/errors.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import {
  checkTimestamps,
  GPT2_SHAPES,
  type KernelSummary,
  profileForward,
  randomGpt2Config,
} from "../src/analysis/profile.ts";

export { aggregate, type KernelSummary } from "../src/analysis/profile.ts";

const HELP =
  `usage: deno task cli profile [--model m | --random-config gpt2|gpt2-medium|gpt2-large|gpt2-xl]
                             [--text "<text>" | --tokens N] [--batch B] [--logits none|last|all]
                             [--json] [--out <file.json>]

Runs one forward pass (after an untimed warm-up pass) with a timestamp query around every
kernel launch and prints the GPU time per kernel, sorted by total time. The JSON (schema
"laminar.profile", version 1) also lists every launch in order. Needs an adapter with
timestamp-query.

Options:
  --text <text>           text to tokenize (GPT-2 BPE)
  --tokens <N>            N random token ids instead of a text (default 128 when no --text)
  --batch <B>             sequences in the batch (the input repeated; default 1)
  --random-config <name>  random weights with the shapes of gpt2, gpt2-medium, gpt2-large or
                          gpt2-xl (no download) instead of --model
  --logits <mode>         compute logits: none (default; hidden states only), last, all
  --no-hidden-states      do not collect hidden states

${COMMON_HELP}`;

function fixed(x: number | null, d: number): string {
  return x === null || !Number.isFinite(x) ? "–" : x.toFixed(d);
}

/** "kernel rules: …" with where they come from (defaults, or measured by `tune`). */
export function kernelRulesLine(r: { summary: string; source: "rules" | "measured" }): string {
  return `kernel rules: ${r.summary} (${
    r.source === "measured"
      ? "measured on this adapter by `tune`"
      : "defaults: `deno task cli tune` measures this GPU's"
  })`;
}

/** The terminal table. */
export function profileTable(kernels: KernelSummary[], totalMs: number): string {
  const rows = [
    ["kernel", "count", "total ms", "mean ms", "share", "GFLOP/s", "GB/s"],
    ...kernels.map((k) => [
      k.name,
      String(k.count),
      k.totalMs.toFixed(3),
      k.meanMs.toFixed(4),
      `${(k.share * 100).toFixed(1)}%`,
      fixed(k.gflops, 1),
      fixed(k.gbps, 1),
    ]),
    ["total", String(kernels.reduce((a, k) => a + k.count, 0)), totalMs.toFixed(3), "", "100%"],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r, i) => {
    const line = r.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))
      .join("  ");
    return i === 0 ? `${line}\n${"-".repeat(line.length)}` : line;
  }).join("\n");
}

/** The profile command. */
export const command: CliCommand = {
  name: "profile",
  summary: "per-kernel GPU time of a forward pass",
  help: HELP,
  async run(args) {
    const { values } = parse(args, {
      ...COMMON_OPTIONS,
      text: { type: "string" },
      tokens: { type: "string" },
      batch: { type: "string" },
      "random-config": { type: "string" },
      logits: { type: "string", default: "none" },
      "no-hidden-states": { type: "boolean", default: false },
    });
    if (values.text !== undefined && values.tokens !== undefined) {
      throw new InvalidArgumentError("Give at most one of --text and --tokens", "See --help");
    }
    const logits = values.logits as "none" | "last" | "all";
    if (!["none", "last", "all"].includes(logits)) {
      throw new InvalidArgumentError(
        `Option --logits must be none, last or all, got "${values.logits}"`,
        "For example --logits last",
      );
    }
    const B = num(values.batch, "batch", 1, { integer: true, min: 1, max: 4096 });
    const random = values["random-config"];
    if (random !== undefined && !Object.hasOwn(GPT2_SHAPES, random)) {
      throw new InvalidArgumentError(
        `Unknown --random-config "${random}"`,
        `Use one of ${Object.keys(GPT2_SHAPES).join(", ")}`,
      );
    }
    if (random !== undefined && values.model !== "default") {
      throw new InvalidArgumentError("Give --model or --random-config, not both", "See --help");
    }

    const gpu = await getGpu();
    checkTimestamps(gpu);
    const model = random !== undefined
      ? Gpt2Model.random(gpu, randomGpt2Config(random), 1, {
        weights: weightsOption(values.weights),
      })
      : await loadModel(values.model, values);
    try {
      const tokens = values.text !== undefined ? undefined : num(
        values.tokens,
        "tokens",
        Math.min(128, model.config.nPositions),
        { integer: true, min: 1, max: model.config.nPositions },
      );
      const result = await profileForward(model, {
        text: values.text,
        tokens,
        batch: B,
        logits,
        hiddenStates: !values["no-hidden-states"],
      });
      // `format` is the tag of the first profile files; `schema`/`version` the analysis envelope.
      await emitJson({
        format: "laminar-profile-1",
        ...result,
        deno: Deno.version.deno,
        date: new Date().toISOString(),
      }, values);
      if (!values.json) {
        const { batch, tokens: T } = result.input;
        console.log(
          `${model.source === "random" ? `${random} (random weights)` : model.source}, ` +
            `B${batch} x T${T}, ${result.launches.length} launches on ${result.adapter}`,
        );
        console.log(kernelRulesLine(result.kernelRules) + "\n");
        console.log(profileTable(result.kernels, result.totalMs));
        if (values.out) console.log(`\nwrote ${values.out}`);
      }
    } finally {
      model.dispose();
    }
    return 0;
  },
};
