// softmax (seed 002) on the shipped model: top-10 against the HF golden top10_ids/top10_p
// (tolerance 1e-5: probabilities of float32 logits that agree to ~1e-5), temperature and entropy
// against src/stats on the same logits, the float32 overflow demonstration against the
// naiveSoftmax reference, the model comparison (the shipped model against itself: r = 1) and its
// scatter sample (shapes, the union of both top-200, determinism, self-comparison identities; a
// second logit row made from the shipped one where two different rows are needed).
import {
  assert,
  assertClose,
  assertEquals,
  assertRejects,
  assertThrows,
} from "./helpers/assert.ts";
import { maxAbsDiff, testGpu } from "./helpers/gpu.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import {
  F32_EXP_OVERFLOW,
  OVERFLOW_MAX,
  SCATTER_SIZE,
  SCATTER_TOP,
  scatterSample,
  SOFTMAX_DEFAULT_TEXT,
  softmaxAnalysis,
  stabilityCase,
  UNDERFLOW_MAX,
} from "../src/analysis/softmax.ts";
import { gpt2Tokenizer } from "../src/analysis/common.ts";
import { entropy, naiveSoftmax, softmax, topK } from "../src/stats/mod.ts";
import {
  ContextLengthError,
  FileNotFoundError,
  InvalidArgumentError,
  ModelNotFoundError,
} from "../src/errors.ts";
import { command, renderSoftmax } from "../cli/softmax.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const FIX = new URL("./fixtures/", import.meta.url).pathname;

let shipped: Promise<Gpt2Model> | null = null;
function model(): Promise<Gpt2Model> {
  shipped ??= testGpu().then((gpu) => Gpt2Model.load(gpu, "default", { offline: true }));
  return shipped;
}

async function lastLogits(m: Gpt2Model, text: string): Promise<Float32Array> {
  return (await m.run(gpt2Tokenizer().encode(text), { logits: "last" })).logits!;
}

Deno.test("softmaxAnalysis() top-10 matches HF golden top10_ids / top10_p", opts, async () => {
  const m = await model();
  const meta = JSON.parse(await Deno.readTextFile(FIX + "sotu-gpt2-mini-golden.json"));
  for (const t of meta.texts) {
    const r = await softmaxAnalysis(m, t.text);
    assertEquals(r.tokens.map((p) => p.id), t.ids);
    assertEquals(r.top.ids, t.top10_ids);
    const row = r.temperatures.find((x) => x.temperature === 1)!;
    const d = maxAbsDiff(row.probs, t.top10_p);
    assert(d <= 1e-5, `${t.text}: max |p - golden| = ${d}`);
    assertClose(r.probSum, 1, 1e-9);
  }
});

Deno.test("softmaxAnalysis() temperatures and entropies match src/stats", opts, async () => {
  const m = await model();
  const logits = await lastLogits(m, SOFTMAX_DEFAULT_TEXT);
  const temperatures = [0.3, 0.5, 1, 1.5, 4];
  const r = await softmaxAnalysis(m, SOFTMAX_DEFAULT_TEXT, { k: 25, temperatures });
  assertEquals(r.options, {
    k: 25,
    temperatures,
    compareModel: null,
    bins: 50,
    scatterSize: SCATTER_SIZE,
  });
  const ref = topK(logits, 25);
  assertEquals(r.top.ids, Array.from(ref.indices));
  assertEquals(r.top.texts, r.top.ids.map((id) => gpt2Tokenizer().tokenText(id)));
  assertEquals(r.top.logits, Array.from(ref.values));
  let prevH = -Infinity;
  for (const row of r.temperatures) {
    const p = softmax(logits, { temperature: row.temperature });
    assert(maxAbsDiff(row.probs, r.top.ids.map((id) => p[id])) <= 1e-12);
    assertClose(row.entropy, entropy(p), 1e-9, `entropy T=${row.temperature}`);
    assertClose(row.entropyBits, entropy(p, { unit: "bits" }), 1e-9);
    assertClose(row.topMass, row.probs.reduce((a, b) => a + b, 0), 1e-12);
    assert(row.entropy > prevH, "entropy grows with the temperature");
    prevH = row.entropy;
    // Sorted descending at every temperature (temperature keeps the order).
    for (let i = 1; i < row.probs.length; i++) assert(row.probs[i] <= row.probs[i - 1]);
  }
  // Logit summary and its histogram (numpy semantics: counts cover every logit).
  assertEquals(r.logits.min, Math.min(...logits));
  assertEquals(r.logits.max, Math.max(...logits));
  assertEquals(r.logits.histogram.counts.reduce((a, b) => a + b, 0), logits.length);
  assertEquals(r.logits.histogram.edges.length, 51);
  // The seed's toy vector: softmax([1, 1.1, 2, 3, 5, 6, 6.1]).
  assertClose(r.toy.sum, 1, 1e-12);
  assert(maxAbsDiff(r.toy.manual, r.toy.library) <= 1e-15);
  assertClose(r.toy.manual[6], 0.43249507210221705, 1e-15); // numpy float64
});

Deno.test(
  "softmaxAnalysis() shows float32 overflow and underflow of the textbook softmax",
  opts,
  async () => {
    const m = await model();
    const logits = await lastLogits(m, SOFTMAX_DEFAULT_TEXT);
    const r = await softmaxAnalysis(m, SOFTMAX_DEFAULT_TEXT);
    const byName = Object.fromEntries(r.stability.map((c) => [c.name, c]));
    const max = Math.max(...logits);
    // Raw and max-subtracted: finite, agree with the stable softmax to float32 precision.
    for (const name of ["raw", "max-subtracted"]) {
      const c = byName[name];
      assertEquals([c.expInf, c.nan], [0, 0], name);
      assert(c.maxAbsDiff! <= 1e-7, `${name}: ${c.maxAbsDiff}`);
      assertClose(c.probSum!, 1, 1e-6);
    }
    assertEquals(byName["max-subtracted"].max, 0);
    // Overflow: every logit above 100 - 88.72 (after the shift) gives exp = inf and p = NaN.
    const o = byName["shifted-overflow"];
    assertClose(o.max, OVERFLOW_MAX, 1e-4);
    const shifted = Float32Array.from(logits, (x) => x + o.offset);
    const expectInf = shifted.filter((x) => x > F32_EXP_OVERFLOW).length;
    assert(expectInf > 0);
    assertEquals(o.expInf, expectInf);
    assertEquals(o.expSum, null);
    assertEquals(o.probSum, null);
    // The NaN pattern is the src/stats float32 reference's.
    const naive = naiveSoftmax(shifted, { float32: true });
    assertEquals(o.nan, naive.filter(Number.isNaN).length);
    assertEquals(o.nan, expectInf);
    // Underflow: all exp are 0, so 0/0 = NaN everywhere.
    const u = byName["shifted-underflow"];
    assertClose(u.max, UNDERFLOW_MAX, 1e-4);
    assertEquals([u.expZero, u.nan, u.expSum, u.maxAbsDiff], [
      logits.length,
      logits.length,
      0,
      null,
    ]);
    assertEquals(
      naiveSoftmax(Float32Array.from(logits, (x) => x + u.offset), { float32: true }).filter(
        Number.isNaN,
      ).length,
      logits.length,
    );
    assertClose(max, r.logits.max, 0);
    // A tiny hand-made case: [100, 0] overflows, [-200, -201] underflows.
    const big = stabilityCase([100, 0], "raw", 0);
    assertEquals([big.expInf, big.nan], [1, 1]);
    const tiny = stabilityCase([-200, -201], "raw", 0);
    assertEquals([tiny.expZero, tiny.nan], [2, 2]);
  },
);

Deno.test(
  "softmaxAnalysis() compares a model with itself (r = 1) and checks vocabularies",
  opts,
  async () => {
    const m = await model();
    const r = await softmaxAnalysis(m, "A plethora of platypuses.", { k: 10, compareModel: m });
    const c = r.compare!;
    assertClose(c.pearsonLogits!, 1, 1e-12);
    assertClose(c.pearsonProbs!, 1, 1e-12);
    assertEquals([c.topOverlap, c.sameTop1], [10, true]);
    assertEquals(c.top, r.top);
    assertEquals(c.probs, r.temperatures.find((t) => t.temperature === 1)!.probs);
    assertEquals(r.options.compareModel, m.source);
    const tiny = await Gpt2Model.load(await testGpu(), FIX + "tiny-gpt2", { offline: true });
    await assertRejects(
      () => softmaxAnalysis(m, "Hello", { compareModel: tiny }),
      InvalidArgumentError,
      "different vocabularies",
    );
    tiny.dispose();
  },
);

Deno.test(
  "softmaxAnalysis() scatter sample: shapes, top ids, determinism, self-comparison",
  opts,
  async () => {
    const m = await model();
    const text = "A plethora of platypuses.";
    const logits = await lastLogits(m, text);
    const V = logits.length;
    const p = softmax(logits);
    const r = await softmaxAnalysis(m, text, { compareModel: m });
    const s = r.compare!.scatter!;
    assertEquals(r.options.scatterSize, SCATTER_SIZE);
    assertEquals(SCATTER_SIZE, 2000);
    // Shapes: 2000 distinct ids in range, one value per id in every array.
    assertEquals(s.ids.length, 2000);
    for (const a of [s.a, s.b, s.pa, s.pb]) assertEquals(a.length, s.ids.length);
    assertEquals(new Set(s.ids).size, s.ids.length);
    assert(s.ids.every((id) => Number.isInteger(id) && id >= 0 && id < V));
    // The union of the two (equal) top-200 comes first, in rank order; the rest ascending.
    assertEquals(s.top, SCATTER_TOP);
    assertEquals(s.union, SCATTER_TOP);
    assertEquals(s.ids.slice(0, s.union), Array.from(topK(logits, SCATTER_TOP).indices));
    const rest = s.ids.slice(s.union);
    for (let i = 1; i < rest.length; i++) assert(rest[i] > rest[i - 1]);
    // Spread over the whole vocabulary, not bunched at one end.
    assert(rest[0] < V / 100 && rest[rest.length - 1] > V - V / 100, `${rest[0]}..${rest.at(-1)}`);
    // The values are the model's logits (exact as float32) and probabilities (9 digits).
    s.ids.forEach((id, i) => {
      assertEquals(Math.fround(s.a[i]), logits[id]);
      assertClose(s.pa[i], p[id], 5e-9 * p[id]);
    });
    // Self-comparison: both sides identical, r = 1 over all V.
    assertEquals(s.b, s.a);
    assertEquals(s.pb, s.pa);
    assertClose(r.compare!.pearsonLogits!, 1, 1e-12);
    // Deterministic: a second run gives the same sample.
    const again = await softmaxAnalysis(m, text, { compareModel: m, k: 3 });
    assertEquals(again.compare!.scatter, s);
    // Size 0 disables it; a size above V takes every id; a bad size is rejected.
    const none = await softmaxAnalysis(m, text, { compareModel: m, scatterSize: 0 });
    assertEquals(none.compare!.scatter, null);
    assertEquals(none.options.scatterSize, 0);
    const small = await softmaxAnalysis(m, text, { compareModel: m, scatterSize: 50 });
    assertEquals([small.compare!.scatter!.ids.length, small.compare!.scatter!.top], [50, 25]);
    for (const bad of [-1, 2.5, NaN]) {
      await assertRejects(
        () => softmaxAnalysis(m, text, { compareModel: m, scatterSize: bad }),
        InvalidArgumentError,
        "Scatter size",
      );
    }
    // Two different rows: the shipped logits against a deterministic permutation of them (id i
    // takes id (i * 7919) mod V's logit: 7919 is prime, V = 50257 is not a multiple of it).
    const other = Float32Array.from(logits, (_, i) => logits[(i * 7919) % V]);
    const t = scatterSample(logits, other, 2000)!;
    assertEquals(t.ids.length, 2000);
    assertEquals(new Set(t.ids).size, 2000);
    const head = new Set(t.ids.slice(0, t.union));
    const topA = Array.from(topK(logits, SCATTER_TOP).indices);
    const topB = Array.from(topK(other, SCATTER_TOP).indices);
    assertEquals(head.size, new Set([...topA, ...topB]).size);
    assert(t.union > SCATTER_TOP, `${t.union}`);
    assert([...topA, ...topB].every((id) => head.has(id)));
    t.ids.forEach((id, i) => {
      assertEquals(Math.fround(t.a[i]), logits[id]);
      assertEquals(Math.fround(t.b[i]), other[id]);
    });
    assertEquals(scatterSample(logits, other, 2000), t);
    // Tiny rows: everything when the size exceeds V; null for 0; rows must match.
    const all = scatterSample([0, 3, 1, 2], [1, 0, 3, 2], 10)!;
    assertEquals(all.ids, [1, 3, 2, 0]);
    assertEquals([all.top, all.union], [2, 3]);
    assertEquals(scatterSample([0, 3, 1, 2], [1, 0, 3, 2], 2)!.ids, [1, 2]);
    assertEquals(scatterSample([1, 2], [2, 1], 0), null);
    assertThrows(() => scatterSample([1, 2], [1, 2, 3], 2), InvalidArgumentError);
  },
);

Deno.test("softmaxAnalysis() rejects bad input with typed errors", opts, async () => {
  const m = await model();
  const V = m.config.vocabSize;
  await assertRejects(() => softmaxAnalysis(m, ""), InvalidArgumentError, "empty");
  await assertRejects(() => softmaxAnalysis(m, "word ".repeat(300)), ContextLengthError);
  await assertRejects(() => softmaxAnalysis(m, "Hi", { k: 0 }), InvalidArgumentError, '"0"');
  await assertRejects(() => softmaxAnalysis(m, "Hi", { k: V + 1 }), InvalidArgumentError);
  await assertRejects(() => softmaxAnalysis(m, "Hi", { k: 2.5 }), InvalidArgumentError);
  await assertRejects(
    () => softmaxAnalysis(m, "Hi", { temperatures: [1, 0] }),
    InvalidArgumentError,
    '"0"',
  );
  await assertRejects(() => softmaxAnalysis(m, "Hi", { temperatures: [-1] }), InvalidArgumentError);
  await assertRejects(() => softmaxAnalysis(m, "Hi", { temperatures: [] }), InvalidArgumentError);
  // k = V is allowed (the whole distribution, sorted).
  const all = await softmaxAnalysis(m, "Hi", { k: V, temperatures: [1] });
  assertClose(all.temperatures[0].topMass, 1, 1e-9);
});

Deno.test("softmax CLI writes the JSON result and reports bad input", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/s.json`;
    const args = [
      "--offline",
      "--k",
      "5",
      "--temperatures",
      "0.5,1,2",
      "--compare-model",
      "default",
    ];
    assertEquals(await command.run([...args, "--out", out]), 0);
    const j = JSON.parse(await Deno.readTextFile(out));
    assertEquals(j.schema, "laminar.softmax");
    assertEquals(j.version, 1);
    assertEquals(j.text, SOFTMAX_DEFAULT_TEXT);
    assertEquals(j.top.ids, [12, 11, 13, 286, 290]); // golden top10_ids of the seed prompt
    assertEquals(j.temperatures.map((t: { temperature: number }) => t.temperature), [0.5, 1, 2]);
    assertEquals(j.compare.topOverlap, 5);
    assertEquals(j.options.scatterSize, SCATTER_SIZE);
    assertEquals(j.compare.scatter.ids.length, SCATTER_SIZE);
    assertEquals(j.compare.scatter.a, j.compare.scatter.b);
    assertEquals(j.stability.length, 4);
    assertEquals(j.stability[3].maxAbsDiff, null); // NaN/inf become null in the JSON

    const out0 = `${dir}/s0.json`;
    assertEquals(await command.run([...args, "--scatter-size", "0", "--out", out0]), 0);
    const j0 = JSON.parse(await Deno.readTextFile(out0));
    assertEquals([j0.options.scatterSize, j0.compare.scatter], [0, null]);
    assert(renderSoftmax(j0).includes("No scatter sample"));

    const file = `${dir}/p.txt`;
    await Deno.writeTextFile(file, "A plethora of platypuses.");
    const out2 = `${dir}/s2.json`;
    assertEquals(await command.run(["--file", file, "--out", out2]), 0);
    const j2 = JSON.parse(await Deno.readTextFile(out2));
    assertEquals(j2.options.temperatures, [0.5, 1, 1.5]);
    assertEquals(j2.top.ids.length, 10);
    assertEquals(j2.compare, null);

    const bad = `${dir}/bad.json`;
    await assertRejects(() => command.run(["--file", `${dir}/missing.txt`]), FileNotFoundError);
    await assertRejects(() => command.run(["--text", "", "--out", bad]), InvalidArgumentError);
    await assertRejects(() => command.run(["--k", "0", "--out", bad]), InvalidArgumentError, "--k");
    await assertRejects(() => command.run(["--k", "60000", "--out", bad]), InvalidArgumentError);
    await assertRejects(
      () => command.run(["--temperatures", "1,0", "--out", bad]),
      InvalidArgumentError,
      "--temperatures",
    );
    await assertRejects(
      () => command.run(["--text", "word ".repeat(300), "--out", bad]),
      ContextLengthError,
    );
    await assertRejects(
      () => command.run(["--compare-model", "no-such-org/no-such-model", "--offline"]),
      ModelNotFoundError,
    );
    await assertRejects(
      () => command.run(["--scatter-size", "2.5", "--out", bad]),
      InvalidArgumentError,
      "--scatter-size",
    );
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(left, ["p.txt", "s.json", "s0.json", "s2.json"], "nothing half-written");

    // The terminal view shows the table and the comparison.
    const view = renderSoftmax(j);
    assert(view.includes("top-5 next tokens") && view.includes("shifted-overflow"), view);
    assert(view.includes("pearson r of the logits 1"), view);
    assert(view.includes("r is over all 50257 token ids") && view.includes("2000 ids"), view);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
