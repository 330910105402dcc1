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
} from "./common.ts";
import { InvalidArgumentError, LaminarError } from "../src/errors.ts";
import type { KernelTiming } from "../src/gpu/context.ts";
import { parseGpt2Config } from "../src/io/config.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import { modelInfo } from "../src/analysis/common.ts";
import { Gpt2Tokenizer } from "../src/tokenizer/tokenizer.ts";

const RANDOM_SHAPES: Record<string, [number, number, number]> = {
  "gpt2": [12, 12, 768],
  "gpt2-medium": [24, 16, 1024],
  "gpt2-large": [36, 20, 1280],
  "gpt2-xl": [48, 25, 1600],
};

const HELP = `usage: deno task cli profile [--model m | --random-config gpt2|gpt2-medium|gpt2-large]
                             [--text "<text>" | --tokens N] [--batch B] [--logits none|last|all]
                             [--json] [--out <file.json>]

Runs one forward pass (after an untimed warm-up pass) with a timestamp query around every
kernel launch and prints the GPU time per kernel, sorted by total time. The JSON
("laminar-profile-1") also lists every launch in order. Needs an adapter with timestamp-query.

Options:
  --text <text>           text to tokenize (GPT-2 BPE)
  --tokens <N>            N random token ids instead of a text (default 128 when no --text)
  --batch <B>             sequences in the batch (the input repeated; default 1)
  --random-config <name>  random weights with the shapes of gpt2, gpt2-medium, gpt2-large or
                          gpt2-xl (no download) instead of --model
  --logits <mode>         compute logits: none (default; hidden states only), last, all
  --no-hidden-states      do not collect hidden states

${COMMON_HELP}`;

/** One kernel's aggregate. */
export interface KernelSummary {
  /** Kernel name. */
  name: string;
  /** Launches. */
  count: number;
  /** Total GPU time, ms. */
  totalMs: number;
  /** Mean per launch, ms. */
  meanMs: number;
  /** Share of the pass's total kernel time (sums to 1). */
  share: number;
  /** FLOP/s / 1e9 over the total time (null when the kernel reports no FLOPs). */
  gflops: number | null;
  /** GB/s over the total time (null when the kernel reports no bytes). */
  gbps: number | null;
}

/** Aggregate launch timings by kernel name, sorted by total time (largest first). */
export function aggregate(timings: KernelTiming[]): { totalMs: number; kernels: KernelSummary[] } {
  const by = new Map<string, { count: number; ms: number; flops: number; bytes: number }>();
  let total = 0;
  for (const t of timings) {
    const e = by.get(t.name) ?? { count: 0, ms: 0, flops: 0, bytes: 0 };
    e.count++;
    e.ms += t.ms;
    e.flops += t.flops ?? 0;
    e.bytes += t.bytes ?? 0;
    by.set(t.name, e);
    total += t.ms;
  }
  const kernels = [...by].map(([name, e]) => ({
    name,
    count: e.count,
    totalMs: e.ms,
    meanMs: e.ms / e.count,
    share: total > 0 ? e.ms / total : 0,
    gflops: e.flops > 0 && e.ms > 0 ? e.flops / (e.ms / 1000) / 1e9 : null,
    gbps: e.bytes > 0 && e.ms > 0 ? e.bytes / (e.ms / 1000) / 1e9 : null,
  })).sort((a, b) => b.totalMs - a.totalMs);
  return { totalMs: total, kernels };
}

function fixed(x: number | null, d: number): string {
  return x === null || !Number.isFinite(x) ? "–" : x.toFixed(d);
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
      );
    }
    const B = num(values.batch, "batch", 1, { integer: true, min: 1, max: 4096 });
    const random = values["random-config"];
    if (random !== undefined && !(random in RANDOM_SHAPES)) {
      throw new InvalidArgumentError(
        `Unknown --random-config "${random}"`,
        `Use one of ${Object.keys(RANDOM_SHAPES).join(", ")}`,
      );
    }
    if (random !== undefined && values.model !== "default") {
      throw new InvalidArgumentError("Give --model or --random-config, not both", "See --help");
    }

    const gpu = await getGpu();
    if (!gpu.caps.timestamps) {
      throw new LaminarError(
        `The GPU adapter "${gpu.caps.description}" does not offer timestamp queries, so ` +
          "kernels cannot be timed",
        "Profiling needs the timestamp-query feature: use another adapter or driver " +
          "(lavapipe and NVIDIA's Vulkan driver offer it)",
      );
    }
    let model: Gpt2Model;
    if (random !== undefined) {
      const [nl, nh, ne] = RANDOM_SHAPES[random];
      const cfg = parseGpt2Config({
        model_type: "gpt2",
        n_layer: nl,
        n_head: nh,
        n_embd: ne,
        n_positions: 1024,
        vocab_size: 50257,
      }, `${random} (random weights)`);
      model = Gpt2Model.random(gpu, cfg, 1);
    } else model = await loadModel(values.model, values.offline);

    let ids: number[];
    if (values.text !== undefined) {
      if (values.text.trim() === "") throw new InvalidArgumentError("The text is empty");
      ids = new Gpt2Tokenizer().encode(values.text);
    } else {
      const T = num(values.tokens, "tokens", Math.min(128, model.config.nPositions), {
        integer: true,
        min: 1,
        max: model.config.nPositions,
      });
      ids = Array.from({ length: T }, (_, i) => (i * 7919 + 13) % model.config.vocabSize);
    }
    const batch = Array.from({ length: B }, () => ids);
    const opts = { hiddenStates: !values["no-hidden-states"], logits };

    try {
      // Warm-up pass: compiles every pipeline so the profile times kernels, not compilation.
      const warm = await model.forward(batch, opts);
      await gpu.flush();
      warm[Symbol.dispose]();

      gpu.startProfile();
      const res = await model.forward(batch, opts);
      const timings = await gpu.stopProfile();
      res[Symbol.dispose]();

      const { totalMs, kernels } = aggregate(timings);
      const result = {
        format: "laminar-profile-1",
        model: modelInfo(model),
        adapter: gpu.caps.description,
        deno: Deno.version.deno,
        date: new Date().toISOString(),
        input: { batch: B, tokens: ids.length, logits, hiddenStates: opts.hiddenStates },
        totalMs,
        kernels,
        launches: timings.map((t, i) => ({
          i,
          name: t.name,
          ms: t.ms,
          flops: t.flops ?? null,
          bytes: t.bytes ?? null,
        })),
      };
      await emitJson(result, values);
      if (!values.json) {
        console.log(
          `${model.source === "random" ? `${random} (random weights)` : model.source}, ` +
            `B${B} x T${ids.length}, ${timings.length} launches on ${gpu.caps.description}\n`,
        );
        console.log(profileTable(kernels, totalMs));
        if (values.out) console.log(`\nwrote ${values.out}`);
      }
    } finally {
      model.dispose();
    }
    return 0;
  },
};
