// intervene(): seed 003 demo 3 against the HF oracle (tiny-gpt2 golden `hook` entry: block
// outputs scaled by 0.8 in place), the batched pass against one forward per layer, and the
// model's GPU ops against a JavaScript callback hook. Tolerance 1e-4 on log-softmax values
// (float32 on the GPU vs PyTorch's CPU order of summation; observed ~1e-6).
import { assert, assertClose, assertEquals, assertRejects } from "./helpers/assert.ts";
import { testGpu } from "./helpers/gpu.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import { intervene, INTERVENE_DEFAULT_TEXT } from "../src/analysis/intervene.ts";
import { logSoftmax } from "../src/stats/mod.ts";
import { FileNotFoundError, InvalidArgumentError, LaminarError } from "../src/errors.ts";
import { command, renderIntervene } from "../cli/intervene.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const FIX = new URL("./fixtures/", import.meta.url).pathname;
const TOL = 1e-4;

let shipped: Promise<Gpt2Model> | null = null;
function model(): Promise<Gpt2Model> {
  shipped ??= testGpu().then((gpu) => Gpt2Model.load(gpu, "default", { offline: true }));
  return shipped;
}

Deno.test(
  "intervene() matches the HF hook oracle on tiny-gpt2 (both strategies)",
  opts,
  async () => {
    const gpu = await testGpu();
    const tiny = await Gpt2Model.load(gpu, FIX + "tiny-gpt2", { offline: true });
    const meta = JSON.parse(await Deno.readTextFile(FIX + "tiny-gpt2-golden.json"));
    const hook = meta.hook;
    const ids: number[] = meta.texts[hook.text_index].ids;
    for (const strategy of ["batched", "sequential"] as const) {
      const r = await intervene(tiny, { ids }, {
        target: hook.target,
        factor: hook.scale,
        strategy,
      });
      assertEquals(r.target.id, hook.target);
      assertEquals(r.options.hook, "hook_resid_post");
      assertEquals(
        r.layers.map((l) => l.hook),
        [0, 1, 2].map((l) => `blocks.${l}.hook_resid_post`),
      );
      assertClose(r.clean.logProb, hook.clean, TOL, `${strategy} clean`);
      r.layers.forEach((l, i) => {
        assertClose(l.logProb, hook.per_layer[i], TOL, `${strategy} layer ${i}`);
        assertClose(l.delta, l.logProb - r.clean.logProb, 1e-12);
      });
      // The last block's output only feeds ln_f, which is scale invariant.
      assertClose(r.layers[2].logProb, r.clean.logProb, 1e-5, "last layer = clean");
      assertEquals(r.submissions, 1);
    }
    tiny.dispose();
  },
);

Deno.test("intervene() defaults reproduce the seed and a JS callback hook", opts, async () => {
  const m = await model();
  const r = await intervene(m);
  assertEquals(r.schema, "laminar.intervene");
  assertEquals(r.target, { id: 12833, text: " insect" });
  assertEquals(r.tokens.length, 22);
  assertEquals(r.options.factor, 0.8);
  assertEquals(r.layers.length, m.config.nLayer);
  assertEquals(r.clean.topK.length, 10);
  // Block 2 by the slow, independent path: a JavaScript callback multiplies by 0.8.
  const ids = r.tokens.map((t) => t.id);
  const out = await m.run(ids, {
    logits: "last",
    callbacks: [{ hook: "blocks.2.hook_resid_post", fn: (a) => a.map((x) => x * 0.8) }],
  });
  const ls = logSoftmax(out.logits!);
  assertClose(r.layers[2].logProb, ls[12833], TOL, "callback");
  let rank = 1;
  for (const v of out.logits!) if (v > out.logits![12833]) rank++;
  assertEquals(r.layers[2].rank, rank);
  assertClose(r.layers[2].prob, Math.exp(ls[12833]), 1e-9);
  assertClose(r.layers.at(-1)!.logProb, r.clean.logProb, 1e-5, "last layer = clean");
  assertEquals(JSON.parse(JSON.stringify(r)), r);
});

Deno.test("intervene() batched pass equals one forward per layer for every op", opts, async () => {
  const m = await model();
  const D = m.config.nEmbd;
  const vector = Array.from({ length: D }, (_, i) => Math.sin(i) * 2);
  const cases = [
    { op: "scale", factor: 1.7, positions: [-1, 3], layers: [0, 2] },
    { op: "zero", hook: "attn.hook_z", heads: [1, 3], layers: [1, 5] },
    { op: "add", vector, factor: 0.5, hook: "hook_attn_out", positions: [-2], layers: [3] },
    {
      op: "patch",
      hook: "hook_mlp_out",
      patch: INTERVENE_DEFAULT_TEXT.replace(" morning", " evening"),
      layers: [4, 1],
    },
  ] as const;
  for (const c of cases) {
    const a = await intervene(m, INTERVENE_DEFAULT_TEXT, { ...c, strategy: "batched" });
    const b = await intervene(m, INTERVENE_DEFAULT_TEXT, { ...c, strategy: "sequential" });
    assertEquals(a.layers.map((l) => l.layer), b.layers.map((l) => l.layer));
    a.layers.forEach((l, i) => assertClose(l.logProb, b.layers[i].logProb, TOL, `${c.op} ${i}`));
    assert(a.layers.some((l) => Math.abs(l.delta) > 1e-3), `${c.op} changed nothing`);
  }
});

Deno.test("intervene() rejects bad input with clear errors", opts, async () => {
  const m = await model();
  const T = INTERVENE_DEFAULT_TEXT;
  await assertRejects(
    () => intervene(m, T, { target: " gigantic insect" }),
    InvalidArgumentError,
    "not one",
  );
  await assertRejects(() => intervene(m, T, { target: "" }), InvalidArgumentError, "empty");
  await assertRejects(() => intervene(m, T, { target: 99999 }), InvalidArgumentError, "99999");
  await assertRejects(() => intervene(m, ""), InvalidArgumentError, "empty");
  await assertRejects(() => intervene(m, T, { layers: [6] }), InvalidArgumentError, 'Block "6"');
  await assertRejects(() => intervene(m, T, { positions: [40] }), InvalidArgumentError, "40");
  await assertRejects(
    () => intervene(m, T, { op: "patch", patch: "A much shorter prompt" }),
    InvalidArgumentError,
    "has 4 tokens, the prompt has 22",
  );
  await assertRejects(() => intervene(m, T, { op: "patch" }), InvalidArgumentError, "patch");
  await assertRejects(() => intervene(m, T, { patch: T }), InvalidArgumentError, "patch");
  await assertRejects(() => intervene(m, T, { op: "add" }), InvalidArgumentError, "vector");
  await assertRejects(
    () => intervene(m, T, { op: "add", vector: [1, 2, 3] }),
    InvalidArgumentError,
    "128",
  );
  await assertRejects(
    () => intervene(m, T, { hook: "hook_nope" }),
    InvalidArgumentError,
    "hook_nope",
  );
  await assertRejects(
    () => intervene(m, T, { hook: "blocks.2.hook_resid_post" }),
    InvalidArgumentError,
    "blocks.2",
  );
  await assertRejects(() => intervene(m, T, { heads: [0] }), InvalidArgumentError, "head");
  await assertRejects(() => intervene(m, T, { factor: 1e38 }), InvalidArgumentError, "10000");
  await assertRejects(() => intervene(m, T, { factor: NaN }), InvalidArgumentError, "factor");
  // An activation pushed past float32's range: a clear error, not NaN rows ranked first.
  const huge = new Array(m.config.nEmbd).fill(3e38);
  await assertRejects(
    () => intervene(m, T, { op: "add", vector: huge, factor: 1, layers: [1] }),
    InvalidArgumentError,
    "non-finite",
  );
  // Nothing is left recorded on the GPU after a rejected call.
  assertEquals(m.gpu.pending, 0);
});

Deno.test("intervene CLI writes the JSON result and rejects bad options", opts, async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/iv.json`;
  const vec = `${dir}/v.json`;
  await Deno.writeTextFile(vec, JSON.stringify(Array.from({ length: 128 }, (_, i) => i % 3)));
  const log = console.log;
  const printed: string[] = [];
  console.log = (...a: unknown[]) => printed.push(a.join(" "));
  try {
    assertEquals(await command.run(["--offline", "--layers", "0,5", "--out", out]), 0);
    const r = JSON.parse(await Deno.readTextFile(out));
    assertEquals(r.schema, "laminar.intervene");
    assertEquals(r.version, 1);
    assertEquals(r.layers.map((l: { layer: number }) => l.layer), [0, 5]);
    assertClose(r.layers[1].delta, 0, 1e-5);
    assert(renderIntervene(r, true).includes("\x1b[32m"), "coloured bars");
    assert(printed.join("\n").includes('target: " insect"'), printed.join("\n"));
    const args = ["--offline", "--op", "add", "--vector-file", vec, "--layers", "1", "--out", out];
    assertEquals(await command.run(args), 0);
    assertEquals(JSON.parse(await Deno.readTextFile(out)).options.vectorLength, 128);
  } finally {
    console.log = log;
  }
  await assertRejects(
    () => command.run(["--offline", "--op", "add", "--vector-file", `${dir}/none.json`]),
    FileNotFoundError,
  );
  await assertRejects(() => command.run(["--offline", "--op", "swap"]), InvalidArgumentError);
  await assertRejects(
    () => command.run(["--offline", "--op", "zero", "--factor", "2"]),
    InvalidArgumentError,
    "does not apply",
  );
  await assertRejects(
    () => command.run(["--offline", "--op", "add", "--vector-file", dir]),
    FileNotFoundError,
    "folder",
  );
  await assertRejects(
    () => command.run(["--offline", "--out", " "]),
    InvalidArgumentError,
    "empty",
  );
  await assertRejects(
    () => command.run(["--offline", "--target", " gigantic insect", "--out", `${dir}/bad.json`]),
    InvalidArgumentError,
  );
  await assertRejects(
    () => command.run(["--offline", "--op", "patch", "--patch-text", "Too short"]),
    InvalidArgumentError,
    "tokens",
  );
  await assertRejects(() => command.run(["--offline", "--model", "no-such/model"]), LaminarError);
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["iv.json", "v.json"]);
  await Deno.remove(dir, { recursive: true });
});
