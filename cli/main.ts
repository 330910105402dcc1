/**
 * laminar's command line: `deno task cli <command> [options]`.
 * @module
 */

import type { CliCommand } from "./common.ts";
import { enterCallerFolder, getGpu, reportError } from "./common.ts";
import { InvalidArgumentError } from "../src/errors.ts";

/** Commands by name, loaded on demand. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  forward: {
    summary: "run the model; write hidden states, logits, attentions to safetensors",
    load: async () => (await import("./forward.ts")).command,
  },
  heatmap: {
    summary: "per-token next-token log-probability heatmap of a text (seed 000)",
    load: async () => (await import("./heatmap.ts")).command,
  },
  softmax: {
    summary: "next-token distribution: top-k, temperature, numerical stability (seed 002)",
    load: async () => (await import("./softmax.ts")).command,
  },
  layers: {
    summary: "hidden states per layer, cosine matrices, laminar profile (seed 003)",
    load: async () => (await import("./layers.ts")).command,
  },
  intervene: {
    summary: "effect of a GPU-side intervention at every layer on a target token (seed 003)",
    load: async () => (await import("./intervene.ts")).command,
  },
  categories: {
    summary: "category selectivity of word hidden states, t-tests per layer (seed 001)",
    load: async () => (await import("./categories.ts")).command,
  },
  contexts: {
    summary: "same word in different contexts of a book, per layer (seed 001)",
    load: async () => (await import("./contexts.ts")).command,
  },
  punctuation: {
    summary: "MI and covariance of comma vs period hidden states in a book (seed 004)",
    load: async () => (await import("./punctuation.ts")).command,
  },
  pairwise: {
    summary: "all-pairs cosine, covariance or MI of a safetensors tensor on the GPU",
    load: async () => (await import("./pairwise.ts")).command,
  },
  profile: {
    summary: "per-kernel GPU time of a forward pass",
    load: async () => (await import("./profile.ts")).command,
  },
  tune: {
    summary: "measure this GPU's kernel variants and cache the rules",
    load: async () => (await import("./tune.ts")).command,
  },
};

/** Usage of the whole CLI. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    "laminar — look inside GPT-2-class models on any GPU",
    "",
    "usage: deno task cli <command> [options]   (each command has --help; help <command>)",
    "       deno task cli <command> [options] --profile   (also: GPU time per kernel, to stderr)",
    "",
    "commands:",
    ...Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(width)}  ${v.summary}`),
  ].join("\n");
}

/** Run the CLI with the given arguments; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === "--version" || name === "-V") {
    const { default: meta } = await import("../deno.json", { with: { type: "json" } });
    console.log(`laminar ${meta.version} (Deno ${Deno.version.deno})`);
    return 0;
  }
  if (name === "help" && rest.length > 0) return await main([rest[0], "--help"]);
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 1;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    console.error(`error: Unknown command "${name}"\n`);
    console.error(usage());
    return 1;
  }
  try {
    const cmd = await entry.load();
    if (rest.includes("--help") || rest.includes("-h")) {
      console.log(cmd.help);
      return 0;
    }
    const at = rest.indexOf("--profile");
    if (at < 0) return await cmd.run(rest);
    if (name === "profile" || name === "tune") {
      throw new InvalidArgumentError(
        `--profile does not apply to "${name}"`,
        name === "profile" ? "The profile command already times every kernel" : "See --help",
      );
    }
    return await runProfiled(() => cmd.run(rest.filter((_, i) => i !== at)));
  } catch (e) {
    return reportError(e);
  }
}

/**
 * Run a command with a timestamp query around every kernel launch and print the per-kernel GPU
 * time of everything it ran (pipeline compilation excluded) to stderr.
 */
async function runProfiled(run: () => Promise<number>): Promise<number> {
  const gpu = await getGpu();
  const { checkTimestamps, aggregate } = await import("../src/analysis/profile.ts");
  const { kernelRulesLine, profileTable } = await import("./profile.ts");
  const { describeTuning } = await import("../src/gpu/tuning.ts");
  checkTimestamps(gpu);
  gpu.startProfile();
  let code: number;
  try {
    code = await run();
  } catch (e) {
    await gpu.stopProfile().catch(() => {}); // the command's error is the one to report
    throw e;
  }
  const { totalMs, kernels } = aggregate(await gpu.stopProfile());
  console.error(
    `\nGPU time per kernel (--profile, ${gpu.caps.description}; one run, no warm-up${
      gpu.caps.isFallbackAdapter ? ": first launches include lavapipe's first-use work" : ""
    }):`,
  );
  const rules = { summary: describeTuning(gpu.tuning), source: gpu.tuning.source };
  console.error(kernelRulesLine(rules) + "\n");
  console.error(profileTable(kernels, totalMs));
  return code;
}

if (import.meta.main) {
  enterCallerFolder();
  const code = await main(Deno.args);
  // WebGPU keeps the event loop alive; exit explicitly.
  Deno.exit(code);
}
