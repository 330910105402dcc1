// Kernel-variant rules (src/gpu/tuning.ts) and their measurement (src/autotune.ts): thresholds
// from a ladder, the cache file round trip, "auto" launches following gpu.tuning, the measured
// table on this adapter, and the `tune` command.
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { LaminarError } from "../src/errors.ts";
import { randn, testGpu } from "./helpers/gpu.ts";
import { Gpu } from "../src/gpu/context.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { attention, matmul } from "../src/tensor/ops.ts";
import { pairwiseMiCov } from "../src/pairwise/pairwise.ts";
import { autotune, thresholdFrom } from "../src/autotune.ts";
import {
  defaultTuning,
  loadTuning,
  parseTuning,
  saveTuning,
  TUNING_VERSION,
  tuningFileName,
} from "../src/gpu/tuning.ts";
import { main } from "../cli/main.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("thresholdFrom(): where the challenger starts winning for good", () => {
  const l = (...w: string[]) => w.map((best, i) => ({ size: 16 << i, best }));
  assertEquals(thresholdFrom(l("a", "a", "b", "b"), "b"), 64);
  assertEquals(thresholdFrom(l("b", "b", "b"), "b"), 0);
  assertEquals(thresholdFrom(l("b", "a", "a"), "b"), null);
  assertEquals(thresholdFrom(l("b", "a", "b"), "b"), 64); // a lost middle rung resets the start
  assertEquals(thresholdFrom([], "b"), null);
});

Deno.test("tuning tables: cache round trip, damaged and stale files ignored", async () => {
  const dir = await Deno.makeTempDir();
  const caps = { description: "Some GPU (rev 2)", vendor: "acme" };
  assertEquals(tuningFileName(caps), `acme-some-gpu-rev-2.v${TUNING_VERSION}.json`);
  assertEquals(await loadTuning(caps, dir), null);
  const table = {
    ...defaultTuning({ isFallbackAdapter: false }),
    matmulTiledMinTiles: null,
    attentionFlashMinT: 128,
    miAlgorithm: "direct" as const,
    source: "measured" as const,
    measuredAt: "2026-11-22T00:00:00.000Z",
  };
  const path = await saveTuning(caps, table, dir);
  const back = await loadTuning(caps, dir);
  assertEquals(back?.matmulTiledMinTiles, null);
  assertEquals(back?.attentionFlashMinT, 128);
  assertEquals(back?.miAlgorithm, "direct");
  assertEquals(back?.source, "measured");
  // LAMINAR_TUNING=rules ignores the cache.
  Deno.env.set("LAMINAR_TUNING", "rules");
  try {
    assertEquals(await loadTuning(caps, dir), null);
  } finally {
    Deno.env.delete("LAMINAR_TUNING");
  }
  await Deno.writeTextFile(path, "{ not json");
  assertEquals(await loadTuning(caps, dir), null);
  const stale = { version: TUNING_VERSION + 1, ...table };
  assertEquals(parseTuning(JSON.stringify(stale)), null);
  assertEquals(parseTuning(JSON.stringify({ ...table, version: TUNING_VERSION })) !== null, true);
  assertEquals(
    parseTuning(JSON.stringify({ ...table, version: TUNING_VERSION, attentionFlashMinT: -1 })),
    null,
  );
  // A cache folder that cannot be made: a typed error with a hint, not a raw NotADirectory.
  const file = `${dir}/not-a-folder`;
  await Deno.writeTextFile(file, "");
  const err = await assertRejects(
    () => saveTuning(caps, table, file),
    LaminarError,
    "Cannot write",
  );
  assert(err.hint?.includes("LAMINAR_CACHE"), err.hint);
  await Deno.remove(dir, { recursive: true });
});

/** The entry point of each launch `record` makes (kernels that share a name differ there). */
async function entryPointsOf(gpu: Gpu, record: () => Tensor[]): Promise<string[]> {
  const launched: string[] = [];
  const dispatch = gpu.dispatch;
  gpu.dispatch = (d) => (launched.push(d.kernel.entryPoint ?? "main"), dispatch.call(gpu, d));
  try {
    for (const t of record()) t.dispose();
  } finally {
    gpu.dispatch = dispatch;
  }
  await gpu.flush();
  return launched;
}

async function kernelsOf(gpu: Gpu, record: () => Tensor[]): Promise<string[]> {
  gpu.startProfile();
  const outs = record();
  await gpu.flush();
  const names = (await gpu.stopProfile()).map((k) => k.name);
  for (const t of outs) t.dispose();
  return names;
}

Deno.test("auto variants follow gpu.tuning", opts, async () => {
  const base = await testGpu();
  const hw = new Gpu(base.device, { ...base.caps, isFallbackAdapter: false });
  assertEquals(hw.tuning.matmulTiledMinTiles, 96); // the hardware rules
  const x = Tensor.from(hw, randn(130 * 64, 1), [130, 64]);
  const w = Tensor.from(hw, randn(64 * 130, 2), [64, 130]);
  assertEquals(hw.tuning.matmulSmallKernel, "ksplit");
  hw.tuning = { ...hw.tuning, matmulTiledMinTiles: 5 }; // a 130 x 130 output is 2 x 2 tiles
  // the K-split kernel keeps the name "matmul" (one profile row for the small-tile kernels)
  assertEquals(await kernelsOf(hw, () => [matmul(x, w)]), ["matmul"]);
  assertEquals(await entryPointsOf(hw, () => [matmul(x, w)]), ["main_ksplit"]);
  hw.tuning.matmulSmallKernel = "simple";
  assertEquals(await entryPointsOf(hw, () => [matmul(x, w)]), ["main"]);
  // CPU adapters keep their own small-tile kernels whatever the table says
  const cpu = new Gpu(base.device, { ...base.caps, isFallbackAdapter: true });
  cpu.tuning = { ...cpu.tuning, matmulSmallKernel: "ksplit" };
  const [xc, wc] = [
    Tensor.from(cpu, randn(130 * 63, 1), [130, 63]),
    Tensor.from(cpu, randn(63 * 5, 2), [63, 5]),
  ];
  assertEquals(await entryPointsOf(cpu, () => [matmul(xc, wc)]), ["main"]);
  hw.tuning.matmulTiledMinTiles = 4;
  assertEquals(await kernelsOf(hw, () => [matmul(x, w)]), ["matmul_tiled"]);
  hw.tuning.matmulTiledKernel = "tiled_pf";
  assertEquals(await kernelsOf(hw, () => [matmul(x, w)]), ["matmul_tiled_pf"]);
  // whole vec4 rows (N % 4 == 0 here; K already is): the vec4-load twin of the same kernel
  const w4 = Tensor.from(hw, randn(64 * 132, 2), [64, 132]);
  assertEquals(await kernelsOf(hw, () => [matmul(x, w4)]), ["matmul_tiled_pf_v4"]);
  hw.tuning.matmulTiledKernel = "tiled";
  assertEquals(await kernelsOf(hw, () => [matmul(x, w4)]), ["matmul_tiled_v4"]);
  hw.tuning.matmulTiledKernel = "tiled_pf";
  hw.tuning.matmulTiledMinTiles = null;
  assertEquals(await kernelsOf(hw, () => [matmul(x, w)]), ["matmul"]);

  const qkv = Tensor.from(hw, randn(2 * 20 * 3 * 32, 3), [2, 20, 96]);
  hw.tuning.attentionFlashMinT = 21;
  assertEquals(await kernelsOf(hw, () => [attention(qkv, { heads: 2 })]), ["attention"]);
  hw.tuning.attentionFlashMinT = 20;
  assertEquals(await kernelsOf(hw, () => [attention(qkv, { heads: 2 })]), ["attention_flash"]);
  hw.tuning.attentionFlashMinT = null;
  assertEquals(await kernelsOf(hw, () => [attention(qkv, { heads: 2 })]), ["attention"]);

  const h = Tensor.from(hw, randn(6 * 40, 4), [6, 40]);
  const mi = () => {
    const r = pairwiseMiCov(h);
    return [r.mi, r.cov];
  };
  hw.tuning.miAlgorithm = "direct";
  assert(!(await kernelsOf(hw, mi)).some((n) => n.startsWith("pairwise_mi_fast")));
  hw.tuning.miAlgorithm = "prebinned";
  assert((await kernelsOf(hw, mi)).some((n) => n.startsWith("pairwise_mi_fast")));
  for (const t of [x, w, qkv, h]) t.dispose();
});

Deno.test("autotune() measures this adapter's variants", opts, async () => {
  const gpu = await testGpu();
  const lines: string[] = [];
  const t = await autotune(gpu, { runs: 1, log: (s) => lines.push(s) });
  assertEquals(t.source, "measured");
  assertEquals(t.adapter, gpu.caps.description);
  if (gpu.caps.isFallbackAdapter) assertEquals(t.matmulTiledMinTiles, null); // not measured
  assert(t.attentionFlashMinT === null || t.attentionFlashMinT >= 0);
  assert(t.miAlgorithm === "prebinned" || t.miAlgorithm === "direct");
  const ops = new Set(t.measurements!.map((m) => m.op));
  assert(ops.has("attention") && ops.has("mi"), [...ops].join());
  for (const m of t.measurements!) {
    assert(Object.values(m.ms).every((ms) => ms > 0 && Number.isFinite(ms)), JSON.stringify(m));
    assert(m.best in m.ms);
  }
  assertEquals(lines.length, t.measurements!.length);
});

Deno.test(
  "autotune() matmul ladder: four kernels per rung, a small and a tiled kernel, a threshold",
  opts,
  async () => {
    const gpu = await testGpu();
    const t = await autotune(gpu, {
      runs: 1,
      cpuMatmul: true,
      matmulGrids: [[1, 1], [1, 2], [2, 2]],
    });
    const mm = t.measurements!.filter((m) => m.op === "matmul");
    assertEquals(mm.map((m) => m.shape), [
      "128x768x128 (1 tiles)",
      "128x768x256 (2 tiles)",
      "256x768x256 (4 tiles)",
    ]);
    for (const m of mm) {
      assertEquals(Object.keys(m.ms).sort(), ["ksplit", "simple", "tiled", "tiled_pf"]);
    }
    assert(t.matmulTiledKernel === "tiled" || t.matmulTiledKernel === "tiled_pf");
    assert(t.matmulSmallKernel === "simple" || t.matmulSmallKernel === "ksplit");
    assert(t.matmulTiledMinTiles === null || [0, 2, 4].includes(t.matmulTiledMinTiles));
  },
);

Deno.test("CLI tune: --no-save --out, --show", opts, async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/tune.json`;
  assertEquals(await main(["tune", "--no-save", "--runs", "1", "--out", out]), 0);
  const t = JSON.parse(await Deno.readTextFile(out));
  assertEquals(t.source, "measured");
  assertEquals(await main(["tune", "--show", "--out", out]), 0);
  assertEquals(await main(["tune", "--runs", "0"]), 1);
  assertEquals(await main(["tune", "--show", "--reset"]), 1);
  await Deno.remove(dir, { recursive: true });
});
