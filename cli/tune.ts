/**
 * `tune`: measure this device's kernel variants (src/autotune.ts) and cache the resulting rules
 * for the adapter (src/gpu/tuning.ts), which every later laminar process on it then follows.
 * @module
 */

import { type CliCommand, emitJson, getGpu, num, parse } from "./common.ts";
import { InvalidArgumentError, LaminarError } from "../src/errors.ts";
import { autotune } from "../src/autotune.ts";
import {
  defaultTuning,
  describeTuning,
  saveTuning,
  type Tuning,
  tuningCacheDir,
  tuningFileName,
} from "../src/gpu/tuning.ts";
import { join } from "node:path";

const HELP = `usage: deno task cli tune [--runs N] [--no-save] [--show] [--reset] [--json] [--out f]

Times the variants of each kernel choice laminar makes per device — the 128x128-tile matmuls
(depth 8, or depth 16 with prefetch) against the small-tile one over a ladder of output sizes, flash against row attention over
sequence lengths, prebinned against direct MI — and derives where each variant starts to win.
The table is cached for this adapter (under $LAMINAR_CACHE/tune, else ~/.cache/laminar/tune) and
used by every later laminar process on it; LAMINAR_TUNING=rules ignores it. About a second on a
large GPU, ~10 s on lavapipe (which keeps the tiled matmul off: it is barrier-bound on a CPU).

Options:
  --runs <N>   timed runs per variant and shape after one warm-up (default 5; 2 on CPU adapters)
  --no-save    measure and print, do not cache
  --show       print the rules in use (cached or default) and exit
  --reset      delete this adapter's cached table (back to the default rules) and exit
  --json       print the table as JSON
  --out <f>    write the table as JSON to a file (atomically)
  -h, --help   this help`;

function describe(t: Tuning): string {
  return [
    ...describeTuning(t).split("; "),
    `source: ${t.source}${t.measuredAt ? ` (${t.measuredAt})` : ""}`,
  ].join("\n");
}

/** The tune command. */
export const command: CliCommand = {
  name: "tune",
  summary: "measure this GPU's kernel variants and cache the rules",
  help: HELP,
  async run(args) {
    const { values } = parse(args, {
      runs: { type: "string" },
      "no-save": { type: "boolean", default: false },
      show: { type: "boolean", default: false },
      reset: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    });
    if (values.show && values.reset) {
      throw new InvalidArgumentError("Give at most one of --show and --reset", "See --help");
    }
    const gpu = await getGpu();
    const dir = tuningCacheDir();
    const path = dir ? join(dir, tuningFileName(gpu.caps)) : null;
    if (values.show) {
      await emitJson(gpu.tuning, values);
      if (!values.json) console.log(`${gpu.caps.description}\n${describe(gpu.tuning)}`);
      return 0;
    }
    if (values.reset) {
      let what = `no cached table for this adapter${path ? ` (${path})` : ""}`;
      if (path) {
        try {
          await Deno.remove(path);
          what = `removed ${path}`;
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) {
            throw new LaminarError(
              `Cannot remove the tuning table "${path}": ${(e as Error).message}`,
              "Check the folder's permissions, or set LAMINAR_TUNING=rules to ignore the table",
            );
          }
        }
      }
      gpu.tuning = defaultTuning(gpu.caps);
      console.log(`${what}; default rules:\n${describe(gpu.tuning)}`);
      return 0;
    }
    const runs = values.runs === undefined
      ? undefined
      : num(values.runs, "runs", 5, { integer: true, min: 1, max: 100 });
    const log = values.json ? () => {} : (s: string) => console.log(s);
    log(`measuring on ${gpu.caps.description}`);
    const tuning = await autotune(gpu, { runs, log });
    gpu.tuning = tuning;
    // Show (and write --out) before caching: a cache that cannot be written loses nothing.
    await emitJson(tuning, values);
    if (!values.json) console.log(`\n${describe(tuning)}`);
    if (values["no-save"]) {
      if (!values.json) console.log("not cached (--no-save)");
      return 0;
    }
    const saved = await saveTuning(gpu.caps, tuning);
    if (!values.json) console.log(`cached in ${saved}`);
    return 0;
  },
};
