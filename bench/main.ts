/**
 * laminar's benchmark suite: `deno task bench [--suite cpu|gpu] [--filter re] [--repeat n]
 * [--warmup n] [--out dir] [--list]`. Prints a Markdown table and writes the results JSON to
 * `<out>/<suite>-<adapter>-<date>.json` (default out: bench/results). See docs/benchmarks.md.
 * @module
 */

import { parseArgs } from "node:util";
import { Gpu } from "../src/gpu/context.ts";
import { describeTuning, type Tuning } from "../src/gpu/tuning.ts";
import { autotune } from "../src/autotune.ts";
import { LaminarError } from "../src/errors.ts";
import { writeFileAtomic } from "../src/io/atomic_write.ts";
import { allCases } from "./cases.ts";
import {
  type BenchResult,
  markdownTable,
  measure,
  type Skipped,
  slug,
  type Suite,
} from "./harness.ts";

/** Results file format version. */
export const FORMAT = "laminar-bench-1";

/** Options of {@linkcode runBench}. */
export interface BenchOptions {
  /** Which suite (default "cpu"). */
  suite: Suite;
  /** Keep cases whose name matches this regular expression. */
  filter?: string;
  /** Timed runs per figure (default: cpu 3, gpu 10). */
  repeat?: number;
  /** Untimed runs first (default: cpu 1, gpu 3). */
  warmup?: number;
  /** Folder of the results JSON; null writes nothing (default bench/results). */
  out?: string | null;
  /** Progress lines on stderr (default true). */
  progress?: boolean;
  /** An existing GPU context (default: a new one). */
  gpu?: Gpu;
  /**
   * Measure the kernel variants first (`autotune()`) so "auto" cases run with the measured
   * rules (default false: the adapter's cached table, else the default rules).
   */
  tune?: boolean;
}

/** The results JSON. */
export interface BenchReport {
  /** "laminar-bench-1". */
  format: string;
  /** Suite. */
  suite: Suite;
  /** ISO date and time of the run. */
  date: string;
  /** Runtime. */
  runtime: { deno: string; v8: string; typescript: string; os: string; arch: string; cpus: number };
  /** The adapter as laminar sees it. */
  adapter: Gpu["caps"];
  /** Run options. */
  options: { repeat: number; warmup: number; filter: string | null; tune: boolean };
  /** The kernel-variant rules "auto" cases ran with (src/gpu/tuning.ts). */
  tuning: Tuning;
  /** One entry per measured case. */
  results: BenchResult[];
  /** Cases left out, and why. */
  skipped: Skipped[];
  /** Raw output of other benchmark scripts run with the suite (bench/pairwise_bench.ts). */
  external?: Record<string, unknown>;
  /** Where the JSON was written (absent when not written). */
  file?: string;
  /** Present (true) while the run is still going: the cases measured so far. */
  partial?: boolean;
}

/**
 * Run bench/pairwise_bench.ts (the pairwise module's own benchmark: MI + covariance + cosine of
 * both seed 004 groups, `--small` shapes on the cpu suite) in a subprocess and return its JSON.
 */
async function pairwiseBench(
  suite: Suite,
  repeat: number,
  warmup: number,
): Promise<Record<string, unknown> | string> {
  const script = new URL("./pairwise_bench.ts", import.meta.url).pathname;
  try {
    await Deno.stat(script);
  } catch {
    return "bench/pairwise_bench.ts does not exist";
  }
  const root = new URL("../", import.meta.url).pathname;
  const args = [
    "run",
    "-A",
    "--config",
    `${root}deno.json`,
    script,
    `--repeats=${repeat}`,
    `--warmup=${Math.max(1, warmup)}`,
  ];
  if (suite === "cpu") args.push("--small");
  // It writes bench/results/pairwise-<adapter>[-small].json itself; its figures go into this
  // suite's JSON instead, so the files it writes are put back as they were.
  const resultsDir = new URL("./results/", import.meta.url).pathname;
  const before = new Map<string, Uint8Array>();
  await Deno.mkdir(resultsDir, { recursive: true });
  for await (const e of Deno.readDir(resultsDir)) {
    if (e.isFile && e.name.startsWith("pairwise-")) {
      before.set(e.name, await Deno.readFile(resultsDir + e.name));
    }
  }
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } finally {
    for await (const e of Deno.readDir(resultsDir)) {
      if (!e.isFile || !e.name.startsWith("pairwise-")) continue;
      const old = before.get(e.name);
      if (old) await writeFileAtomic(resultsDir + e.name, old);
      else await Deno.remove(resultsDir + e.name);
    }
  }
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    return `bench/pairwise_bench.ts failed: ${new TextDecoder().decode(out.stderr).slice(-400)}`;
  }
  try {
    return JSON.parse(text.slice(text.indexOf("{")));
  } catch {
    return "bench/pairwise_bench.ts printed no JSON";
  }
}

/** bench/pairwise_bench.ts's figures as a row of the results (wall time = record + read). */
function pairwiseBenchResult(j: Record<string, unknown>): BenchResult | null {
  const shape = j.shape as Record<string, number> | undefined;
  const g = j.gpuMs as { min: number; median: number } | undefined;
  const w = j.wallMs as { min: number; median: number } | undefined;
  if (!shape || !w) return null;
  const t = (x: { min: number; median: number }) => ({
    min: x.min,
    median: x.median,
    samples: [] as number[],
  });
  return {
    name:
      `pairwise_bench mi+cov+cosine ${shape.layers}x${shape.vectors}x${shape.dims} x${shape.groups} groups`,
    group: "e2e",
    kind: "pairwise_bench",
    params: { ...shape },
    gpuMs: g && j.timestamps ? t(g) : null,
    gpuSource: j.timestamps ? "timestamps" : "none",
    wallMs: t(w),
    readBytes: 0,
    launches: 0,
    setupS: 0,
  };
}

/** Run a suite; returns the report (and writes the JSON unless `out` is null). */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const suite = options.suite;
  const repeat = options.repeat ?? (suite === "gpu" ? 10 : 3);
  const warmup = options.warmup ?? (suite === "gpu" ? 3 : 1);
  const filter = options.filter ? new RegExp(options.filter, "i") : null;
  const say = (s: string) => {
    if (options.progress ?? true) console.error(s);
  };

  const own = await allCases();
  const skipped: Skipped[] = own.skipped.map((reason) => ({ name: reason.split(":")[0], reason }));
  const cases = own.cases.filter((c) =>
    c.suites.includes(suite) && (!filter || filter.test(c.name))
  );

  const gpu = options.gpu ?? await Gpu.create();
  const results: BenchResult[] = [];
  let external: Record<string, unknown> | undefined;
  const date = new Date().toISOString();
  const out = options.out === undefined
    ? new URL("./results", import.meta.url).pathname
    : options.out;
  const file = out === null
    ? undefined
    : `${out.replace(/\/+$/, "")}/${suite}-${slug(gpu.caps.description)}-${date.slice(0, 10)}.json`;
  const report = (partial: boolean): BenchReport => ({
    format: FORMAT,
    suite,
    date,
    ...(partial ? { partial: true } : {}),
    runtime: {
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
      os: Deno.build.os,
      arch: Deno.build.arch,
      cpus: navigator.hardwareConcurrency,
    },
    adapter: gpu.caps,
    options: { repeat, warmup, filter: options.filter ?? null, tune: options.tune ?? false },
    tuning: gpu.tuning,
    results,
    skipped,
    external,
    file,
  });
  // Written after every case to <file>.partial.json (marked partial), so a run cut short by a
  // time limit still leaves its figures without replacing an earlier complete file; the complete
  // report goes to <file> at the end and the partial one is removed.
  const partialFile = file?.replace(/\.json$/, ".partial.json");
  const write = async (partial: boolean) => {
    if (!file || !partialFile) return;
    await Deno.mkdir(out!, { recursive: true });
    const text = JSON.stringify(report(partial), null, 1) + "\n";
    await writeFileAtomic(partial ? partialFile : file, text);
    if (!partial) await Deno.remove(partialFile).catch(() => {});
  };
  try {
    if (options.tune) {
      say("[tune] measuring kernel variants ...");
      gpu.tuning = await autotune(gpu, { log: (s) => say(`    ${s}`) });
    }
    for (const [i, c] of cases.entries()) {
      const t0 = performance.now();
      say(`[${i + 1}/${cases.length}] ${c.name} ...`);
      try {
        const r = await measure(gpu, c, { repeat, warmup });
        results.push(r);
        say(
          `    gpu min ${r.gpuMs?.min.toFixed(3) ?? "-"} ms, wall min ${
            r.wallMs.min.toFixed(3)
          } ms (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
        );
      } catch (e) {
        const msg = e instanceof LaminarError
          ? `${e.message}${e.hint ? ` (${e.hint})` : ""}`
          : String(e instanceof Error ? e.message : e);
        skipped.push({ name: c.name, reason: `failed: ${msg}` });
        say(`    failed: ${msg}`);
      }
      await write(true);
    }
  } finally {
    if (!options.gpu) gpu.dispose();
  }

  // The pairwise module's own benchmark, in a subprocess (it runs at import).
  if (!filter || filter.test("pairwise_bench")) {
    say(`[+] bench/pairwise_bench.ts${suite === "cpu" ? " --small" : ""} ...`);
    const pb = await pairwiseBench(suite, repeat, warmup);
    if (typeof pb === "string") skipped.push({ name: "pairwise_bench", reason: pb });
    else {
      external = { pairwise_bench: pb };
      const row = pairwiseBenchResult(pb);
      if (row) results.push(row);
    }
  }
  await write(false);
  return report(false);
}

/** The Markdown printed after a run: header lines and the table. */
export function reportMarkdown(r: BenchReport): string {
  const a = r.adapter;
  const lines = [
    `## laminar benchmarks — ${r.suite} suite`,
    "",
    `- adapter: ${a.description}${a.vendor ? ` (${a.vendor})` : ""}; timestamp-query: ${
      a.timestamps ? "yes" : "no"
    }; subgroups: ${a.subgroups ? "yes" : "no"}`,
    `- Deno ${r.runtime.deno} (V8 ${r.runtime.v8}), ${r.runtime.os}/${r.runtime.arch}, ${r.runtime.cpus} CPUs`,
    `- date: ${r.date}; min/median of ${r.options.repeat} runs after ${r.options.warmup} warm-up`,
    `- "auto" variants (${
      r.tuning.source === "measured" ? "measured by tune" : "default rules"
    }): ${describeTuning(r.tuning)}`,
    "- GPU = timestamp queries before and after all launches and copies; " +
    "wall = recording + submit + one readback",
    "",
    markdownTable(r.results),
  ];
  if (r.skipped.length) {
    lines.push("", "Skipped:", ...r.skipped.map((s) => `- ${s.reason}`));
  }
  if (r.file) lines.push("", `Results: ${r.file}`);
  return lines.join("\n");
}

const HELP = `usage: deno task bench [--suite cpu|gpu] [--filter <regex>] [--repeat n] [--warmup n]
                       [--out <dir>] [--no-write] [--list] [--tune]

  --suite <s>     cpu: small shapes, minutes on lavapipe (default); gpu: real GPT-2 shapes
  --filter <re>   only cases whose name matches (case-insensitive)
  --repeat <n>    timed runs per figure (default cpu 3, gpu 10)
  --warmup <n>    untimed runs first (default cpu 1, gpu 3)
  --out <dir>     folder of the results JSON (default bench/results)
  --no-write      write no JSON
  --list          print the suite's cases (name, kind, params) as JSON and exit
  --tune          measure the kernel variants first (autotune) and run "auto" cases with the
                  measured rules (default: the adapter's cached table, else the default rules)`;

async function cli(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      suite: { type: "string", default: "cpu" },
      filter: { type: "string" },
      repeat: { type: "string" },
      warmup: { type: "string" },
      out: { type: "string" },
      "no-write": { type: "boolean", default: false },
      list: { type: "boolean", default: false },
      tune: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.suite !== "cpu" && values.suite !== "gpu") {
    console.error(`error: --suite must be cpu or gpu, got "${values.suite}"`);
    return 1;
  }
  const int = (v: string | undefined, name: string, min: number) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  if (values.list) {
    const { cases } = await allCases();
    const f = values.filter ? new RegExp(values.filter, "i") : null;
    const list = cases.filter((c) => c.suites.includes(values.suite as Suite))
      .filter((c) => !f || f.test(c.name))
      .map(({ name, group, kind, params, baselineKey }) => ({
        name,
        group,
        kind,
        params,
        baselineKey,
      }));
    console.log(JSON.stringify(list, null, 1));
    return 0;
  }
  const report = await runBench({
    suite: values.suite,
    filter: values.filter,
    repeat: int(values.repeat, "repeat", 1),
    warmup: int(values.warmup, "warmup", 0),
    out: values["no-write"] ? null : values.out,
    tune: values.tune,
  });
  console.log(reportMarkdown(report));
  return report.results.length > 0 ? 0 : 1;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await cli(Deno.args);
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : e}`);
    if (e instanceof LaminarError && e.hint) console.error(`hint: ${e.hint}`);
    code = 1;
  }
  // WebGPU keeps the event loop alive; exit explicitly.
  Deno.exit(code);
}
