// layers(): seed 003 demos 1 and 2 against CPU float64 recomputations from the model's hidden
// states (model.run with hiddenStates) and from the HF oracle's hidden states (tiny-gpt2).
// Tolerances: statistics of the same float32 vectors agree to float64 rounding (1e-9 relative);
// GPU float32 cosines vs float64 CPU cosines differ by ~1e-7 (bound 1e-5); HF hidden states vs
// ours differ by <= 1e-4 (tests/model_test.ts), so statistics derived from them use 1e-3.
import { assert, assertClose, assertEquals, assertRejects } from "./helpers/assert.ts";
import { testGpu } from "./helpers/gpu.ts";
import { readGolden } from "./helpers/golden.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import { evenlySpaced, layers, LAYERS_DEFAULT_TEXT } from "../src/analysis/layers.ts";
import {
  cosineMatrix,
  histogram,
  max,
  mean,
  min,
  quantile,
  rowMatrix,
  upperTriangle,
  variance,
} from "../src/stats/mod.ts";
import { ContextLengthError, InvalidArgumentError, LaminarError } from "../src/errors.ts";
import { command, MAX_TERMINAL_TOKENS, poolMatrix, renderLayers } from "../cli/layers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const FIX = new URL("./fixtures/", import.meta.url).pathname;

let shipped: Promise<Gpt2Model> | null = null;
function model(): Promise<Gpt2Model> {
  shipped ??= testGpu().then((gpu) => Gpt2Model.load(gpu, "default", { offline: true }));
  return shipped;
}

/** Rows [n, D] of hidden states [NL, T, D]: token t across layers, or layer l across tokens. */
function tokenRows(hs: ArrayLike<number>, NL: number, T: number, D: number, t: number) {
  const out = new Float64Array(NL * D);
  for (let l = 0; l < NL; l++) for (let k = 0; k < D; k++) out[l * D + k] = hs[(l * T + t) * D + k];
  return out;
}
function layerRows(hs: ArrayLike<number>, T: number, D: number, l: number, from = 0) {
  return Float64Array.from({ length: (T - from) * D }, (_, i) => hs[(l * T + from) * D + i]);
}

Deno.test(
  "layers() matches CPU statistics of the hidden states (sotu-gpt2-mini)",
  opts,
  async () => {
    const m = await model();
    const { nLayer, nEmbd: D } = m.config;
    const NL = nLayer + 1;
    const r = await layers(m);
    const ids = r.tokens.map((t) => t.id);
    const T = ids.length;
    assertEquals(T, 10);
    const hs = (await m.run(ids, { hiddenStates: true })).hiddenStates!; // [NL, 1, T, D]

    // Seed defaults: token 8 (" cute"), 4 evenly spaced tokens and hidden states.
    assertEquals(r.schema, "laminar.layers");
    assertEquals(r.activations.token, 8);
    assertEquals(r.activations.text, " cute");
    assertEquals(r.options.tokens, [0, 3, 6, 9]);
    assertEquals(r.options.layers, [0, 2, 4, 6]);
    assertEquals(r.layerLabels, ["Emb", "L0", "L1", "L2", "L3", "L4", "L5"]);

    // Demo 1: variance with ddof 1 (torch .var()), quantiles, common-edge histograms.
    const edges = r.activations.histogramEdges;
    assertEquals(edges.length, 33);
    for (let l = 0; l < NL; l++) {
      const v = tokenRows(hs, NL, T, D, 8).subarray(l * D, (l + 1) * D);
      const s = r.activations.layers[l];
      const rel = (a: number, b: number, what: string) =>
        assertClose(a, b, 1e-9 * Math.max(1, Math.abs(b)), `layer ${l} ${what}`);
      rel(s.variance, variance(v, { ddof: 1 }), "variance");
      rel(s.mean, mean(v), "mean");
      assertEquals(s.min, min(v));
      assertEquals(s.max, max(v));
      rel(s.quantiles[2], quantile(v, 0.5), "median");
      assertEquals(s.histogram, Array.from(histogram(v, { bins: edges }).counts));
      assertEquals(s.histogram.reduce((a, b) => a + b, 0), D);
    }
    assertEquals(edges[0], Math.min(...r.activations.layers.map((s) => s.min)));
    assertEquals(edges[32], Math.max(...r.activations.layers.map((s) => s.max)));

    // Demo 2a: layer x layer cosine per token.
    for (const { token, matrix } of r.layerCosine) {
      const want = cosineMatrix(rowMatrix(tokenRows(hs, NL, T, D, token), NL, D));
      const got = matrix.flat();
      assertEquals(got.length, NL * NL);
      got.forEach((g, i) => assertClose(g, want[i], 1e-5, `token ${token} entry ${i}`));
    }
    // Demo 2b: token x token cosine per hidden state.
    for (const { layer, matrix } of r.tokenCosine) {
      const want = cosineMatrix(rowMatrix(layerRows(hs, T, D, layer), T, D));
      matrix.flat().forEach((g, i) => assertClose(g, want[i], 1e-5, `layer ${layer} entry ${i}`));
    }
    // Demo 2c: the laminar profile uses tokens 1..T-1 only, pairs i < j.
    for (let l = 0; l < NL; l++) {
      const p = r.laminarProfile.layers[l];
      const cos = cosineMatrix(rowMatrix(layerRows(hs, T, D, l, 1), T - 1, D));
      const pairs = upperTriangle(cos, T - 1, 1);
      assertEquals(p.pairs, 36);
      assertClose(p.mean, mean(pairs), 1e-6, `profile ${l} mean`);
      assertClose(p.min, min(pairs), 1e-6, `profile ${l} min`);
      assertClose(p.max, max(pairs), 1e-6, `profile ${l} max`);
      assertClose(p.median, quantile(pairs, 0.5), 1e-6, `profile ${l} median`);
      // With token 0 the mean would differ: the first token is really excluded.
      const all = upperTriangle(cosineMatrix(rowMatrix(layerRows(hs, T, D, l), T, D)), T, 1);
      assert(Math.abs(mean(all) - p.mean) > 1e-4, `layer ${l}: profile includes token 0?`);
    }
    // JSON-serialisable: plain arrays survive a round trip.
    assertEquals(JSON.parse(JSON.stringify(r)), r);
  },
);

Deno.test("layers() on tiny-gpt2 ids matches the HF oracle's hidden states", opts, async () => {
  const gpu = await testGpu();
  const tiny = await Gpt2Model.load(gpu, FIX + "tiny-gpt2", { offline: true });
  const meta = JSON.parse(await Deno.readTextFile(FIX + "tiny-gpt2-golden.json"));
  const hs = readGolden(FIX + "tiny-gpt2-golden.safetensors").get("t0.hidden")!; // [4, T, 64]
  const [NL, T, D] = hs.shape;
  const r = await layers(tiny, { ids: meta.texts[0].ids }, { token: -2, tokens: [1], layers: [3] });
  assertEquals(r.activations.token, T - 2);
  for (let l = 0; l < NL; l++) {
    const v = tokenRows(hs.data, NL, T, D, T - 2).subarray(l * D, (l + 1) * D);
    const s = r.activations.layers[l];
    assertClose(s.variance, variance(v, { ddof: 1 }), 1e-3 * Math.max(1, s.variance), `var ${l}`);
  }
  const want = cosineMatrix(rowMatrix(tokenRows(hs.data, NL, T, D, 1), NL, D));
  r.layerCosine[0].matrix.flat().forEach((g, i) => assertClose(g, want[i], 1e-3));
  const wantT = cosineMatrix(rowMatrix(layerRows(hs.data, T, D, 3), T, D));
  r.tokenCosine[0].matrix.flat().forEach((g, i) => assertClose(g, wantT[i], 1e-3));
  tiny.dispose();
});

Deno.test(
  "layers() defaults: evenly spaced picks, short texts, negative indices",
  opts,
  async () => {
    assertEquals(evenlySpaced(10, 4), [0, 3, 6, 9]);
    assertEquals(evenlySpaced(7, 4), [0, 2, 4, 6]);
    assertEquals(evenlySpaced(3, 4), [0, 0, 1, 2]);
    const m = await model();
    const r = await layers(m, "It was a dark", { layers: [-1], tokens: [-1, 0] });
    assertEquals(r.activations.token, r.tokens.length - 1); // token 8 does not exist: the last
    assertEquals(r.options.layers, [m.config.nLayer]);
    assertEquals(r.layerCosine.map((c) => c.token), [r.tokens.length - 1, 0]);
    assertEquals(r.tokenCosine[0].matrix.length, r.tokens.length);
  },
);

Deno.test("layers() rejects bad input with clear errors", opts, async () => {
  const m = await model();
  await assertRejects(() => layers(m, ""), InvalidArgumentError, "empty");
  await assertRejects(() => layers(m, "Hi there"), InvalidArgumentError, "at least 3");
  await assertRejects(() => layers(m, "word ".repeat(300)), ContextLengthError, "context");
  await assertRejects(() => layers(m, LAYERS_DEFAULT_TEXT, { token: 10 }), InvalidArgumentError);
  await assertRejects(
    () => layers(m, LAYERS_DEFAULT_TEXT, { layers: [7] }),
    InvalidArgumentError,
    'Hidden-state index "7"',
  );
  await assertRejects(() => layers(m, { ids: [1, 2, 60000] }), InvalidArgumentError, "60000");
  await assertRejects(() => layers(m, LAYERS_DEFAULT_TEXT, { bins: 0 }), InvalidArgumentError);
});

Deno.test("layers CLI writes the JSON result and rejects bad options", opts, async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/layers.json`;
  const log = console.log;
  const printed: string[] = [];
  console.log = (...a: unknown[]) => printed.push(a.join(" "));
  try {
    const code = await command.run(["--offline", "--tokens", "0,9", "--bins", "8", "--out", out]);
    assertEquals(code, 0);
  } finally {
    console.log = log;
  }
  const text = printed.join("\n");
  assert(text.includes("Laminar profile"), text);
  assert(text.includes('token 8 " cute"'), text);
  const r = JSON.parse(await Deno.readTextFile(out));
  assertEquals(r.schema, "laminar.layers");
  assertEquals(r.version, 1);
  assertEquals(r.options.tokens, [0, 9]);
  assertEquals(r.activations.layers[0].histogram.length, 8);
  assertEquals(r.laminarProfile.layers.length, 7);
  assert(renderLayers(r, true).includes("\x1b[48;5;"), "256-colour heat cells");
  await assertRejects(() => command.run(["--offline", "--file", `${dir}/nope.txt`]), LaminarError);
  await assertRejects(() => command.run(["--offline", "--text", ""]), InvalidArgumentError);
  await assertRejects(() => command.run(["--offline", "--layers", "x"]), InvalidArgumentError);
  await assertRejects(
    () => command.run(["--offline", "--model", "no-such-org/no-such-model"]),
    LaminarError,
    "no-such-org/no-such-model",
  );
  // Nothing half-written on failure.
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["layers.json"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("poolMatrix(): block means, ragged last block, small matrices unchanged", () => {
  const m = [[1, 2, 3], [4, 5, 6], [7, 8, 9]];
  assertEquals(poolMatrix(m, 3), { matrix: m, step: 1 });
  assertEquals(poolMatrix(m, 2), { matrix: [[3, 4.5], [7.5, 9]], step: 2 });
});

Deno.test("layers terminal view of a long text stays terminal-sized", opts, async () => {
  const gpu = await testGpu();
  const model = await Gpt2Model.load(gpu);
  const r = await layers(model, Array.from({ length: 150 }, () => " word").join(""));
  const text = renderLayers(r, false);
  const widest = Math.max(...text.split("\n").map((l) => [...l].length));
  assert(widest <= 2 * MAX_TERMINAL_TOKENS + 20, `a line of ${widest} columns`);
  assert(text.includes("each cell is the mean over 3 x 3 token pairs"), text.slice(0, 500));
});
