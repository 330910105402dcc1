// The benchmark harness and the profile command work end to end (small and fast: the cpu
// suite's smallest case once, and a profile of the shipped model on 16 tokens).
import { assert, assertEquals } from "./helpers/assert.ts";
import { testGpu } from "./helpers/gpu.ts";
import { runBench } from "../bench/main.ts";
import { markdownTable, summarize } from "../bench/harness.ts";
import { compareMarkdown } from "../bench/compare.ts";
import { aggregate, command as profile } from "../cli/profile.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("summarize gives min and median", () => {
  const t = summarize([5, 1, 3, 2]);
  assertEquals(t.min, 1);
  assertEquals(t.median, 2.5);
  assertEquals(summarize([4, 9, 1]).median, 4);
});

Deno.test("aggregate sums launches by kernel and sorts by total time", () => {
  const { totalMs, kernels } = aggregate([
    { name: "a", ms: 1, flops: 2e6 },
    { name: "b", ms: 3 },
    { name: "a", ms: 1, flops: 2e6 },
  ]);
  assertEquals(totalMs, 5);
  assertEquals(kernels.map((k) => k.name), ["b", "a"]);
  assertEquals(kernels[1].count, 2);
  assertEquals(kernels[1].gflops, 2); // 4e6 FLOP in 2 ms
  assertEquals(kernels[0].gflops, null);
  assert(Math.abs(kernels.reduce((s, k) => s + k.share, 0) - 1) < 1e-12);
});

Deno.test("bench: the cpu suite's smallest case runs and writes its JSON", opts, async () => {
  const gpu = await testGpu();
  const dir = await Deno.makeTempDir({ prefix: "laminar-bench-" });
  try {
    const report = await runBench({
      suite: "cpu",
      filter: "^matmul 256x256x256$",
      repeat: 1,
      warmup: 1,
      out: dir,
      progress: false,
      gpu,
    });
    assertEquals(report.results.length, 1, JSON.stringify(report.skipped));
    const r = report.results[0];
    assertEquals(r.name, "matmul 256x256x256");
    assert(r.wallMs.min > 0 && r.wallMs.samples.length === 1);
    assertEquals(r.launches, 1);
    if (gpu.caps.timestamps) {
      assertEquals(r.gpuSource, "timestamps");
      assert(r.gpuMs !== null && r.gpuMs.min > 0, "GPU time from timestamp queries");
    }
    assert(r.gflops! > 0);
    const saved = JSON.parse(await Deno.readTextFile(report.file!));
    assertEquals(saved.format, "laminar-bench-1");
    assertEquals(saved.suite, "cpu");
    assertEquals(saved.adapter.description, gpu.caps.description);
    assert(report.file!.includes(`${dir}/cpu-`));
    assert(markdownTable(report.results).includes("| matmul 256x256x256 |"));
    // compare.ts against a PyTorch file of the same case
    const md = compareMarkdown(report, {
      format: "laminar-torch-1",
      meta: { torch: "x", device: "cpu" },
      results: { "matmul 256x256x256": { min_ms: r.wallMs.min * 2, median_ms: 1 } },
    }, null);
    assert(md.includes("0.50x"), md);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("profile: per-kernel times of the shipped model as JSON", opts, async () => {
  const gpu = await testGpu();
  if (!gpu.caps.timestamps) {
    console.warn("adapter without timestamp-query: profile not tested");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "laminar-profile-" });
  try {
    const file = `${dir}/profile.json`;
    const log = console.log;
    console.log = () => {};
    let code: number;
    try {
      code = await profile.run(["--tokens", "16", "--offline", "--out", file]);
    } finally {
      console.log = log;
    }
    assertEquals(code, 0);
    const p = JSON.parse(await Deno.readTextFile(file));
    assertEquals(p.format, "laminar-profile-1");
    assertEquals([p.schema, p.version], ["laminar.profile", 1]);
    assertEquals(p.input.tokens, 16);
    const names = p.kernels.map((k: { name: string }) => k.name);
    assert(names.includes("matmul"), names);
    assert(names.some((n: string) => n.startsWith("attention")), names);
    // layer_norm or its subgroup variant layer_norm_sg, whichever the adapter gets.
    assert(names.some((n: string) => n.startsWith("layer_norm")), names);
    const share = p.kernels.reduce((s: number, k: { share: number }) => s + k.share, 0);
    assert(Math.abs(share - 1) < 1e-6, `shares sum to ${share}`);
    const L = p.model.nLayer;
    const mm = p.kernels.find((k: { name: string }) => k.name === "matmul");
    assertEquals(mm.count, 4 * L); // qkv, proj, fc, fc2 per block; no unembedding
    assertEquals(
      p.launches.length,
      p.kernels.reduce((s: number, k: { count: number }) => s + k.count, 0),
    );
    assert(p.totalMs > 0);
    const last = p.launches.at(-1);
    assert(Math.abs(last.startMs + last.ms - p.totalMs) < 1e-6, "launch starts add up");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
