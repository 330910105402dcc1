/**
 * Benchmark of the all-pairs statistics at seed 004's shape: 2 groups x 25 layers x 250 vectors
 * x 1024 dims (`--small`: 2 x 3 x 50 x 256, for CPU adapters such as lavapipe). Runs seed 004's
 * MI + covariance (15 bins, outlier z 5, upper triangle) and the cosine matrices of both groups,
 * and reports GPU time (timestamp queries around one pass; wall time of the submission when the
 * adapter has none), wall time including one readback, and per-kernel times from a profile;
 * min and median over repeats after a warm-up. Writes bench/results/pairwise-<adapter>.json.
 *
 * usage: deno run -A bench/pairwise_bench.ts [--small] [--repeats 10]
 * @module
 */

import { parseArgs } from "node:util";
import { Gpu } from "../src/gpu/context.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { pairwiseCosine, pairwiseMiCov, pairwiseSummary } from "../src/pairwise/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    small: { type: "boolean", default: false },
    repeats: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
  },
});
const [G, L, N, D] = values.small ? [2, 3, 50, 256] : [2, 25, 250, 1024];
const repeats = Number(values.repeats);
const warmup = Number(values.warmup);

/** Heavy-tailed vectors with a few huge dimensions, like GPT-2 hidden states. */
function data(seed: number): Float32Array {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const x = new Float32Array(L * N * D);
  for (let i = 0; i < x.length; i++) {
    const u = Math.max(rand(), 1e-12), v = rand();
    const g = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    x[i] = g * (rand() < 0.01 ? 20 : 1);
  }
  for (let r = 0; r < L * N; r++) for (const k of [7, 138, 200]) x[r * D + (k % D)] += 60;
  return x;
}

function stats(xs: number[]) {
  const s = [...xs].sort((p, q) => p - q);
  return { min: s[0], median: s[Math.floor(s.length / 2)], runs: xs.length };
}

using gpu = await Gpu.create();
const groups = Array.from({ length: G }, (_, g) => Tensor.from(gpu, data(g + 1), [L, N, D]));
const pairs = G * L * (N * (N - 1)) / 2;

function record(): Tensor[] {
  const out: Tensor[] = [];
  for (const h of groups) {
    const { mi, cov } = pairwiseMiCov(h, { bins: 15, outlierZ: 5 });
    out.push(mi, cov, pairwiseCosine(h));
  }
  return out;
}

const gpuMs: number[] = [];
const wallMs: number[] = [];
const summaryWallMs: number[] = [];
const edges = Array.from({ length: 101 }, (_, k) => (1.5 * k) / 100);
for (let r = 0; r < warmup + repeats; r++) {
  // GPU time: everything recorded, one pass with timestamps.
  let outs = record();
  const g = await gpu.timeRecorded();
  outs.forEach((t) => t.dispose());
  // Wall time: record + submit + read back one value of each result (one map).
  const t0 = performance.now();
  outs = record();
  await gpu.read(outs.map((t) => ({ buffer: t.buffer, offset: 0, size: 4 })));
  const w = performance.now() - t0;
  outs.forEach((t) => t.dispose());
  // Sweep with per-layer MI summaries reduced on the GPU (what an analysis reads back).
  const t1 = performance.now();
  for (const h of groups) await pairwiseSummary(h, { metric: "mi", edges });
  const s = performance.now() - t1;
  if (r >= warmup) {
    gpuMs.push(g);
    wallMs.push(w);
    summaryWallMs.push(s);
  }
}

let kernels: { name: string; ms: number }[] = [];
if (gpu.caps.timestamps) {
  gpu.startProfile();
  const outs = record();
  const prof = await gpu.stopProfile();
  outs.forEach((t) => t.dispose());
  const byName = new Map<string, number>();
  for (const k of prof) byName.set(k.name, (byName.get(k.name) ?? 0) + k.ms);
  kernels = [...byName].map(([name, ms]) => ({ name, ms }));
}

const result = {
  benchmark: "pairwise",
  adapter: gpu.caps.description,
  timestamps: gpu.caps.timestamps,
  shape: { groups: G, layers: L, vectors: N, dims: D, pairs },
  work: "MI + covariance (15 bins, outlier z 5, upper triangle) and cosine, both groups",
  gpuMs: stats(gpuMs),
  wallMs: stats(wallMs),
  summarySweepWallMs: stats(summaryWallMs),
  usPerPairGpu: (stats(gpuMs).min * 1000) / pairs,
  kernelsMs: kernels,
  date: new Date().toISOString(),
};
console.log(JSON.stringify(result, null, 2));
const slug = gpu.caps.description.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
const path = new URL(
  `./results/pairwise-${slug}${values.small ? "-small" : ""}.json`,
  import.meta.url,
);
await Deno.writeTextFile(path, JSON.stringify(result, null, 2) + "\n");
console.error(`wrote ${path.pathname}`);
groups.forEach((t) => t.dispose());
