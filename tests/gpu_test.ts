// GPU runtime: no-adapter error, small binding limits (tensors larger than one binding are split),
// profiling, pool reuse.
import { assert, assertEquals, assertRejects, assertThrows } from "./helpers/assert.ts";
import { maxAbsDiff, testGpu } from "./helpers/gpu.ts";
import { Gpu } from "../src/gpu/context.ts";
import { requestGpuDevice } from "../src/gpu/device.ts";
import { GpuUnavailableError, InvalidArgumentError } from "../src/errors.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import { readSafetensors } from "../src/io/safetensors.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { add, matmul, scale, setReductionVariant } from "../src/tensor/ops.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const FIX = new URL("./fixtures/", import.meta.url).pathname;

Deno.test("requestGpuDevice() without an adapter throws GpuUnavailableError naming the fix", async () => {
  const gpu = navigator.gpu;
  const orig = gpu.requestAdapter;
  // deno-lint-ignore no-explicit-any
  (gpu as any).requestAdapter = () => Promise.resolve(null);
  try {
    const e = await assertRejects(() => requestGpuDevice(), GpuUnavailableError);
    assert(e.hint.includes("mesa-vulkan-drivers"));
  } finally {
    // deno-lint-ignore no-explicit-any
    (gpu as any).requestAdapter = orig;
  }
});

Deno.test(
  "forward() with a 64 KiB binding limit splits wte and logits and still matches HF",
  opts,
  async () => {
    const base = await testGpu();
    const small = new Gpu(base.device, { ...base.caps, maxStorageBindingBytes: 64 * 1024 });
    const model = await Gpt2Model.load(small, FIX + "tiny-gpt2");
    assert(model.weights.wteChunks.length > 1, "wte is split");
    const golden = await readSafetensors(FIX + "tiny-gpt2-golden.safetensors");
    const meta = JSON.parse(await Deno.readTextFile(FIX + "tiny-gpt2-golden.json"));
    const ids: number[] = meta.texts[0].ids;
    const out = await model.run(ids, { logits: "all", hiddenStates: true, nextTokenStats: true });
    assert(maxAbsDiff(out.logits!, golden.getF32("t0.logits")) <= 1e-4);
    assert(maxAbsDiff(out.hiddenStates!, golden.getF32("t0.hidden")) <= 1e-4);
    const want = golden.getF32("t0.logsm_next");
    const got = out.nextTokenStats!.filter((_, k) => k % 5 === 0).slice(0, want.length);
    assert(maxAbsDiff(got, want) <= 1e-4);
    // a batch larger than one binding's worth of activations is processed in chunks
    const batch = Array.from({ length: 40 }, () => meta.texts[3].ids as number[]);
    const many = await model.run(batch, { hiddenStates: { positions: [5] } });
    const one = await model.run(meta.texts[3].ids, { hiddenStates: { positions: [5] } });
    const D = model.config.nEmbd;
    for (let l = 0; l <= model.config.nLayer; l++) {
      for (const b of [0, 17, 39]) {
        const g = many.hiddenStates!.subarray((l * 40 + b) * D, (l * 40 + b + 1) * D);
        assert(maxAbsDiff(g, one.hiddenStates!.subarray(l * D, (l + 1) * D)) < 1e-5, `l${l} b${b}`);
      }
    }
    small.pool.clear();
  },
);

Deno.test("profiling records one timing per launch with its work", opts, async () => {
  const gpu = await testGpu();
  if (!gpu.caps.timestamps) return;
  const a = Tensor.from(gpu, new Float32Array(64 * 64).fill(1), [64, 64]);
  gpu.startProfile();
  matmul(a, a);
  matmul(a, a);
  const t = await gpu.stopProfile();
  assertEquals(t.length, 2);
  assertEquals(t[0].name, "matmul");
  assertEquals(t[0].flops, 2 * 64 ** 3);
  assert(t.every((x) => x.ms >= 0));
  const ms = await (matmul(a, a), gpu.timeRecorded());
  assert(ms >= 0);
});

Deno.test("the buffer pool reuses released buffers", opts, async () => {
  const gpu = await testGpu();
  const t = Tensor.empty(gpu, [1000]);
  const buf = t.buffer;
  t.dispose();
  const u = Tensor.empty(gpu, [1000]);
  assert(u.buffer === buf);
  u.dispose();
  await gpu.flush();
});

Deno.test(
  "forward() with the hardware kernel variants (as on a real GPU) matches HF",
  opts,
  async () => {
    const base = await testGpu();
    const hw = new Gpu(base.device, { ...base.caps, isFallbackAdapter: false });
    const model = await Gpt2Model.load(hw, FIX + "tiny-gpt2");
    const golden = await readSafetensors(FIX + "tiny-gpt2-golden.safetensors");
    const meta = JSON.parse(await Deno.readTextFile(FIX + "tiny-gpt2-golden.json"));
    const ids: number[] = meta.texts[3].ids;
    // small shapes would pick the 32x32 variant under "auto"
    for (const variant of ["auto", "ksplit", "tiled", "tiled_pf"] as const) {
      hw.matmulVariant = variant;
      const out = await model.run(ids, { hiddenStates: true, logits: "last" });
      assert(maxAbsDiff(out.hiddenStates!, golden.getF32("t3.hidden")) <= 1e-4, variant);
      assert(maxAbsDiff(out.logits!, golden.getF32("t3.logits_last")) <= 1e-4, variant);
    }
  },
);

Deno.test("forward() with the flash attention kernel matches HF", opts, async () => {
  const base = await testGpu();
  const gpu = new Gpu(base.device, base.caps);
  gpu.attentionVariant = "flash"; // "auto" keeps the row kernel on lavapipe and below T64
  const model = await Gpt2Model.load(gpu, FIX + "tiny-gpt2");
  const golden = await readSafetensors(FIX + "tiny-gpt2-golden.safetensors");
  const meta = JSON.parse(await Deno.readTextFile(FIX + "tiny-gpt2-golden.json"));
  const ids: number[] = meta.texts[3].ids;
  const out = await model.run(ids, { hiddenStates: true, logits: "last" });
  assert(maxAbsDiff(out.hiddenStates!, golden.getF32("t3.hidden")) <= 1e-4);
  assert(maxAbsDiff(out.logits!, golden.getF32("t3.logits_last")) <= 1e-4);
});

Deno.test(
  "forward() with subgroup (and with workgroup) reductions matches HF",
  opts,
  async () => {
    const base = await testGpu();
    const golden = await readSafetensors(FIX + "tiny-gpt2-golden.safetensors");
    const meta = JSON.parse(await Deno.readTextFile(FIX + "tiny-gpt2-golden.json"));
    for (const variant of ["subgroup", "workgroup"] as const) {
      if (variant === "subgroup" && !base.caps.subgroups) {
        console.warn(`no subgroups on ${base.caps.description}: subgroup variant not tested`);
        continue;
      }
      const gpu = new Gpu(base.device, base.caps);
      setReductionVariant(gpu, variant);
      const model = await Gpt2Model.load(gpu, FIX + "tiny-gpt2");
      for (const i of [0, 2]) {
        const ids: number[] = meta.texts[i].ids;
        const hasLogits = golden.has(`t${i}.logits`);
        const out = await model.run(ids, {
          hiddenStates: true,
          logits: hasLogits ? "all" : "last",
          nextTokenStats: true,
        });
        const dh = maxAbsDiff(out.hiddenStates!, golden.getF32(`t${i}.hidden`));
        assert(dh <= 1e-4, `${variant} t${i} hidden ${dh}`);
        const dl = maxAbsDiff(
          out.logits!,
          golden.getF32(hasLogits ? `t${i}.logits` : `t${i}.logits_last`),
        );
        assert(dl <= 1e-4, `${variant} t${i} logits ${dl}`);
        const want = golden.getF32(`t${i}.logsm_next`);
        const got = out.nextTokenStats!.filter((_, k) => k % 5 === 0).slice(0, want.length);
        const dn = maxAbsDiff(got, want);
        assert(dn <= 1e-4, `${variant} t${i} next-token log-probs ${dn}`);
      }
      gpu.pool.clear();
    }
  },
);

Deno.test("pool.clear() waits for recorded launches that use a released buffer", opts, async () => {
  const base = await testGpu();
  const gpu = new Gpu(base.device, base.caps);
  const a = Tensor.from(gpu, new Float32Array(1000).fill(1));
  const t = scale(a, 2);
  const u = add(t, a);
  t.dispose(); // back to the pool while the launches that write and read it are pending
  gpu.pool.clear();
  assertEquals((await u.read())[999], 3);
  u.dispose();
  a.dispose();
  gpu.pool.clear();
});

Deno.test(
  "misaligned bindings and copies are refused when recorded; the next flush still works",
  opts,
  async () => {
    const base = await testGpu();
    const gpu = new Gpu(base.device, base.caps);
    const a = Tensor.from(gpu, new Float32Array(512).fill(1));
    const view = a.slice(1, 100); // byte offset 4: not a storage binding offset
    assertThrows(() => scale(view, 2), InvalidArgumentError);
    assertThrows(
      () => gpu.copy({ buffer: a.buffer, offset: 2, size: 8 }, { ...a.range, size: 8 }),
      InvalidArgumentError,
    );
    assertEquals(gpu.pending, 0);
    const b = scale(a, 3);
    assertEquals((await b.read())[0], 3);
    b.dispose();
    a.dispose();
  },
);
