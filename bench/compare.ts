/**
 * Side-by-side table of a laminar results JSON and a PyTorch one (bench/torch_baseline.py):
 * `deno run -A bench/compare.ts --laminar <gpu-....json> --torch <torch.json>
 * [--baseline ../shared/baselines/h100-pytorch.json] [--out table.md]`.
 * Ratios are laminar / PyTorch: below 1 laminar is faster. Cases PyTorch did not run in the
 * same invocation are compared with --baseline figures when it has them, marked as such.
 * @module
 */

import { parseArgs } from "node:util";
import { writeFileAtomic } from "../src/io/atomic_write.ts";
import { ms } from "./harness.ts";
import type { BenchReport } from "./main.ts";

/** bench/torch_baseline.py's output. */
export interface TorchReport {
  /** "laminar-torch-1". */
  format: string;
  /** Device, driver, versions, date. */
  meta: Record<string, unknown>;
  /** By laminar case name. */
  results: Record<string, { min_ms: number; median_ms: number; no_head_ms?: { min_ms: number } }>;
  /** Cases it could not run. */
  skipped?: { name: string; reason: string }[];
}

type BaselineFile = Record<string, { min_ms: number; median_ms: number } | number>;

function ratio(a: number | undefined | null, b: number | undefined | null): string {
  if (!a || !b || !Number.isFinite(a) || !Number.isFinite(b)) return "–";
  return `${(a / b).toFixed(2)}x`;
}

/** The comparison as Markdown. */
export function compareMarkdown(
  lam: BenchReport,
  torch: TorchReport | null,
  baseline: BaselineFile | null,
): string {
  const m = torch?.meta ?? {};
  const lines = [
    `## laminar vs PyTorch (fp32) — ${lam.adapter.description}`,
    "",
    `- laminar: Deno ${lam.runtime.deno}, WebGPU adapter "${lam.adapter.description}", ${lam.date}, ` +
    `min/median of ${lam.options.repeat} after ${lam.options.warmup} warm-up`,
    torch
      ? `- PyTorch: torch ${m.torch}, transformers ${
        m.transformers ?? "–"
      }, device "${m.device}", ` +
        `driver ${m.driver ?? "–"}, CUDA ${m.cuda ?? "–"}, TF32 off, ${m.date}`
      : "- PyTorch: no results file given",
    "- ratio = laminar / PyTorch minimum (below 1: laminar faster); GPU = timestamp queries " +
    "(ᵏ: sum of per-kernel timestamps, older results), wall = record + submit + one readback; " +
    "PyTorch = CUDA-synchronised wall clock",
    "",
    "| benchmark | laminar GPU min ms | laminar wall min ms | PyTorch min ms | GPU ratio | wall ratio | PyTorch no-head min ms |",
    "|---|--:|--:|--:|--:|--:|--:|",
  ];
  let fromBaseline = false;
  for (const r of lam.results) {
    const t = torch?.results[r.name];
    let tMin: number | undefined = t?.min_ms;
    let mark = "";
    if (tMin === undefined && baseline && r.baselineKey && r.baselineKey in baseline) {
      const b = baseline[r.baselineKey];
      tMin = typeof b === "number"
        ? (r.flops ?? 0) / (b * 1e12) * 1000 // TFLOP/s -> ms
        : b.min_ms;
      mark = " †";
      fromBaseline = true;
    }
    const k = r.gpuSource === "kernel-sum" ? " ᵏ" : "";
    lines.push(
      `| ${r.name} | ${ms(r.gpuMs?.min)}${k} | ${ms(r.wallMs.min)} | ${ms(tMin)}${mark} | ${
        ratio(r.gpuMs?.min, tMin)
      } | ${ratio(r.wallMs.min, tMin)} | ${ms(t?.no_head_ms?.min_ms)} |`,
    );
  }
  if (fromBaseline) {
    lines.push(
      "",
      "† PyTorch figure from the --baseline file (another run, not measured side by side).",
    );
  }
  if (torch?.skipped?.length) {
    lines.push("", "PyTorch skipped:", ...torch.skipped.map((s) => `- ${s.name}: ${s.reason}`));
  }
  const check = m.mi_check as { mi_maxabs?: number; cov_maxabs?: number } | undefined;
  if (check) {
    lines.push(
      "",
      `PyTorch MI sweep vs the seed's numpy loop: max |ΔMI| ${check.mi_maxabs}, max |Δcov| ${check.cov_maxabs}`,
    );
  }
  return lines.join("\n");
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await Deno.readTextFile(path)) as T;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      laminar: { type: "string" },
      torch: { type: "string" },
      baseline: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || !values.laminar) {
    console.log(
      "usage: deno run -A bench/compare.ts --laminar <results.json> [--torch <torch.json>]\n" +
        "                                   [--baseline <h100-pytorch.json>] [--out <table.md>]",
    );
    Deno.exit(values.help ? 0 : 1);
  }
  const lam = await readJson<BenchReport>(values.laminar);
  const torch = values.torch
    ? await readJson<TorchReport & { partial?: boolean }>(values.torch)
    : null;
  for (const [what, r] of [["laminar", lam], ["PyTorch", torch]] as const) {
    if (r?.partial) console.error(`warning: the ${what} results are partial (a run cut short)`);
  }
  const base = values.baseline ? await readJson<BaselineFile>(values.baseline) : null;
  const md = compareMarkdown(lam, torch, base);
  console.log(md);
  if (values.out) await writeFileAtomic(values.out, md + "\n");
}
