/**
 * The benchmark harness: a case records GPU work (nothing runs until a submission); the harness
 * times it twice, as GPU time (timestamp queries before and after all of its launches and
 * copies, `gpu.timeRecorded()`) and as wall time including the recording and one readback, and
 * reports min and median after warm-up.
 * @module
 */

import type { BufferRange, Gpu } from "../src/gpu/context.ts";

/** Which suite: "cpu" (small shapes, lavapipe in minutes) or "gpu" (real GPT-2 shapes). */
export type Suite = "cpu" | "gpu";

/** What one recording of a case leaves behind. */
export interface Recorded {
  /** Ranges read back for the wall-time figure (the outputs, or a slice of them). */
  read: BufferRange[];
  /** Free the outputs (called after the submission that wrote them). */
  dispose?(): void;
}

/** A case ready to run: inputs uploaded, model built. */
export interface Prepared {
  /** Record the work once (launches only; no submission). */
  record(): Recorded | Promise<Recorded>;
  /** Free the inputs. */
  dispose?(): void;
}

/** One benchmark. */
export interface BenchCase {
  /** Unique, stable name; also the key PyTorch results are matched by. */
  name: string;
  /** "kernel" (one operation) or "e2e" (a forward pass, a whole analysis). */
  group: "kernel" | "e2e";
  /** Suites that include it. */
  suites: Suite[];
  /** What the PyTorch baseline runs for it (bench/torch_baseline.py reads this and `params`). */
  kind: string;
  /** Shapes and options, for the record and for the PyTorch baseline. */
  params: Record<string, number | string | boolean>;
  /** Floating-point operations of one run (for FLOP/s). */
  flops?: number;
  /** Bytes one run must move at least (for GB/s). */
  bytes?: number;
  /** Key of the same workload in shared/baselines/h100-pytorch.json, when there is one. */
  baselineKey?: string;
  /**
   * The case reads its results back itself (an async analysis): only wall time is measured,
   * and `record()` returns after the readback with nothing left to read.
   */
  wallOnly?: boolean;
  /** At most this many timed runs per figure (slow cases on slow adapters). */
  maxRepeat?: number;
  /** Build inputs. */
  setup(gpu: Gpu): Promise<Prepared>;
}

/** Min, median and every sample, in milliseconds. */
export interface Timing {
  /** Smallest sample. */
  min: number;
  /** Median sample. */
  median: number;
  /** Every sample, in order. */
  samples: number[];
}

/** How the GPU time of a result was measured. */
export type GpuTimeSource =
  | "timestamps" // begin/end timestamps around one compute pass holding every launch
  | "kernel-sum" // sum of per-launch timestamps (work with buffer copies); excludes copies
  | "none"; // no timestamp-query on this adapter

/** One measured case. */
export interface BenchResult {
  /** Case name. */
  name: string;
  /** "kernel" or "e2e". */
  group: "kernel" | "e2e";
  /** Workload kind (for the PyTorch baseline). */
  kind: string;
  /** Shapes and options. */
  params: Record<string, number | string | boolean>;
  /** GPU time; null without timestamp queries. */
  gpuMs: Timing | null;
  /** How gpuMs was measured. */
  gpuSource: GpuTimeSource;
  /** Wall time: recording + submission + one readback of `readBytes`. */
  wallMs: Timing;
  /** Bytes read back in each wall-time sample. */
  readBytes: number;
  /** Kernel launches per run. */
  launches: number;
  /** FLOPs per run, when meaningful. */
  flops?: number;
  /** Bytes moved per run, when meaningful. */
  bytes?: number;
  /** FLOP/s / 1e9 from the minimum GPU time (wall time when there is none). */
  gflops?: number;
  /** GB/s from the minimum GPU time (wall time when there is none). */
  gbps?: number;
  /** Key in shared/baselines/h100-pytorch.json. */
  baselineKey?: string;
  /** Seconds spent on setup (uploads, random weights). */
  setupS: number;
}

/** A case that did not run, and why. */
export interface Skipped {
  /** Case name. */
  name: string;
  /** Why. */
  reason: string;
}

/** Options of {@linkcode measure}. */
export interface MeasureOptions {
  /** Untimed runs first (pipeline compilation, pool warm-up). */
  warmup: number;
  /** Timed runs of each kind. */
  repeat: number;
}

/** Min, median of samples. */
export function summarize(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length === 0 ? NaN : s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { min: s[0] ?? NaN, median, samples: samples.map(round) };
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** Run one case: warm-up, GPU-time samples, wall-time samples. */
export async function measure(
  gpu: Gpu,
  c: BenchCase,
  options: MeasureOptions,
): Promise<BenchResult> {
  const t0 = performance.now();
  const prepared = await c.setup(gpu);
  await gpu.flush();
  const setupS = (performance.now() - t0) / 1000;
  const repeat = Math.max(1, Math.min(options.repeat, c.maxRepeat ?? Infinity));
  try {
    const once = async () => {
      const rec = await prepared.record();
      return rec;
    };
    // Warm-up: compiles pipelines and fills the buffer pool.
    let launches = 0;
    let readBytes = 0;
    for (let i = 0; i < Math.max(1, options.warmup); i++) {
      const rec = await once();
      launches = gpu.pending;
      readBytes = rec.read.reduce((a, r) => a + r.size, 0);
      await gpu.read(rec.read);
      rec.dispose?.();
    }

    // GPU time.
    let gpuSource: GpuTimeSource = "none";
    const gpuSamples: number[] = [];
    if (gpu.caps.timestamps && !c.wallOnly) {
      gpuSource = "timestamps";
      for (let i = 0; i < repeat; i++) {
        const rec = await once();
        gpuSamples.push(await gpu.timeRecorded());
        rec.dispose?.();
      }
    }

    // Wall time: recording + one submission + one readback.
    const wallSamples: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const w0 = performance.now();
      const rec = await once();
      await gpu.read(rec.read);
      wallSamples.push(performance.now() - w0);
      rec.dispose?.();
    }

    const gpuMs = gpuSamples.length ? summarize(gpuSamples) : null;
    const wallMs = summarize(wallSamples);
    const bestS = (gpuMs?.min ?? wallMs.min) / 1000;
    return {
      name: c.name,
      group: c.group,
      kind: c.kind,
      params: c.params,
      gpuMs,
      gpuSource,
      wallMs,
      readBytes,
      launches,
      flops: c.flops,
      bytes: c.bytes,
      gflops: c.flops && bestS > 0 ? c.flops / bestS / 1e9 : undefined,
      gbps: c.bytes && bestS > 0 ? c.bytes / bestS / 1e9 : undefined,
      baselineKey: c.baselineKey,
      setupS: round(setupS),
    };
  } finally {
    prepared.dispose?.();
    await gpu.flush();
  }
}

/** Format milliseconds for a table. */
export function ms(x: number | undefined | null): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return "–";
  if (x >= 1000) return `${(x / 1000).toFixed(2)} s`;
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  if (x >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

/** Format a rate (GFLOP/s or GB/s). */
export function rate(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "–";
  if (x >= 1000) return `${(x / 1000).toFixed(2)} T`;
  if (x >= 10) return x.toFixed(0);
  return x.toFixed(2);
}

/** The Markdown table of a suite's results. */
export function markdownTable(results: BenchResult[]): string {
  const lines = [
    "| benchmark | GPU min ms | GPU median ms | wall min ms | wall median ms | GFLOP/s | GB/s | launches |",
    "|---|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const r of results) {
    const src = r.gpuSource === "kernel-sum" ? " ᵏ" : "";
    lines.push(
      `| ${r.name} | ${ms(r.gpuMs?.min)}${src} | ${ms(r.gpuMs?.median)}${src} | ${
        ms(r.wallMs.min)
      } | ${ms(r.wallMs.median)} | ${rate(r.gflops)} | ${rate(r.gbps)} | ${r.launches} |`,
    );
  }
  return lines.join("\n");
}

/** A file-name-safe slug of an adapter description. */
export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 48) ||
    "unknown";
}
