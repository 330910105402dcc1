// heatmap (seed 000) on the shipped model: log-probs against the HF golden `logsm_next`
// (tolerance 1e-4, as in model_test: float32 on the GPU sums in another order than PyTorch),
// everything else against a CPU float64 recomputation from the model's logits (src/stats).
import { assert, assertClose, assertEquals, assertRejects } from "./helpers/assert.ts";
import { maxAbsDiff, testGpu } from "./helpers/gpu.ts";
import { readGolden } from "./helpers/golden.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import {
  heatmap,
  HEATMAP_DEFAULT_TEXT,
  type HeatmapResult,
  minMaxScaleFromSecond,
} from "../src/analysis/heatmap.ts";
import { gpt2Tokenizer } from "../src/analysis/common.ts";
import { entropy, logSoftmax, softmax } from "../src/stats/mod.ts";
import {
  ContextLengthError,
  FileNotFoundError,
  InvalidArgumentError,
  ModelNotFoundError,
} from "../src/errors.ts";
import { command, renderHeatmap, renderHeatmapTable } from "../cli/heatmap.ts";
import { contrastText, reds } from "../cli/render_tokens.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const FIX = new URL("./fixtures/", import.meta.url).pathname;
const TOL = 1e-4;

let shipped: Promise<Gpt2Model> | null = null;
function model(): Promise<Gpt2Model> {
  shipped ??= testGpu().then((gpu) => Gpt2Model.load(gpu, "default", { offline: true }));
  return shipped;
}

/** CPU reference of every per-token value from the model's full logits [T, V]. */
async function cpuReference(m: Gpt2Model, text: string, temperature: number) {
  const ids = gpt2Tokenizer().encode(text);
  const out = await m.run(ids, { logits: "all" });
  const V = m.config.vocabSize;
  const lp: number[] = [], rank: number[] = [], ent: number[] = [];
  for (let i = 1; i < ids.length; i++) {
    const row = out.logits!.subarray((i - 1) * V, i * V);
    const l = logSoftmax(row, { temperature });
    lp.push(l[ids[i]]);
    let above = 0;
    for (let j = 0; j < V; j++) if (row[j] / temperature > row[ids[i]] / temperature) above++;
    rank.push(above + 1);
    ent.push(entropy(softmax(row, { temperature })));
  }
  return { ids, lp, rank, ent };
}

Deno.test("heatmap() log-probs match the HF golden logsm_next (sotu-gpt2-mini)", opts, async () => {
  const m = await model();
  const golden = readGolden(FIX + "sotu-gpt2-mini-golden.safetensors");
  const meta = JSON.parse(await Deno.readTextFile(FIX + "sotu-gpt2-mini-golden.json"));
  for (let t = 0; t < meta.texts.length; t++) {
    const { text, ids } = meta.texts[t];
    assertEquals(gpt2Tokenizer().encode(text), ids, `tokenizer ids of text ${t}`);
    const r = await heatmap(m, text);
    assertEquals(r.tokens.map((p) => p.id), ids);
    assertEquals(r.logprob[0], null);
    const want = golden.get(`t${t}.logsm_next`)!.data;
    const got = r.logprob.slice(1) as number[];
    const d = maxAbsDiff(got, want);
    assert(d <= TOL, `text ${t}: max |logprob - golden| = ${d}`);
    // prob is exp(logprob); the summary is their mean.
    r.prob.slice(1).forEach((p, i) => assertClose(p!, Math.exp(got[i]), 1e-12));
    const mean = got.reduce((a, b) => a + b, 0) / got.length;
    assertClose(r.summary.meanLogprob, mean, 1e-9);
    assertClose(r.summary.perplexity, Math.exp(-mean), 1e-6);
  }
});

Deno.test("heatmap() ranks, entropies and scaling match a CPU recomputation", opts, async () => {
  const m = await model();
  const text = "The upshot is that the measures can be identical but are often different.";
  for (const temperature of [1, 2]) {
    const ref = await cpuReference(m, text, temperature);
    const r = await heatmap(m, text, { temperature });
    assertEquals(r.options, { temperature, metric: "logprob" });
    assert(maxAbsDiff(r.logprob.slice(1) as number[], ref.lp) <= TOL, `logprob T=${temperature}`);
    assert(maxAbsDiff(r.entropy.slice(1) as number[], ref.ent) <= TOL, `entropy T=${temperature}`);
    // Ranks are exact unless a float32 near-tie flips: allow one place.
    assert(maxAbsDiff(r.rank.slice(1) as number[], ref.rank) <= 1, `rank T=${temperature}`);
    // The seed: y = v[1:]; v[1:] = (y - min) / (max - min); v[0] stays 0.
    const min = Math.min(...ref.lp), max = Math.max(...ref.lp);
    const want = [0, ...ref.lp.map((v) => (v - min) / (max - min))];
    assert(maxAbsDiff(r.scaled, want) <= 1e-4, `scaled T=${temperature}`);
    assertEquals(r.scaled[0], 0);
    assertClose(r.scale.min, min, TOL);
    assertClose(r.scale.max, max, TOL);
    assertEquals(Math.min(...r.scaled.slice(1)), 0);
    assertEquals(Math.max(...r.scaled.slice(1)), 1);
  }
});

Deno.test("heatmap() scales the chosen metric (rank after log10)", opts, async () => {
  const m = await model();
  const text = "It was a dark and stormy night; the rain fell in torrents.";
  for (const metric of ["prob", "rank", "entropy"] as const) {
    const r = await heatmap(m, text, { metric });
    const src = (metric === "rank" ? r.rank.map((v) => v && Math.log10(v)) : r[metric]).slice(1);
    const min = Math.min(...(src as number[])), max = Math.max(...(src as number[]));
    assertEquals(r.scale, { metric, transform: metric === "rank" ? "log10" : "none", min, max });
    const want = [0, ...src.map((v) => (v! - min) / (max - min))];
    assert(maxAbsDiff(r.scaled, want) <= 1e-12, metric);
  }
});

Deno.test("minMaxScaleFromSecond() follows the seed and handles a constant series", () => {
  assertEquals(minMaxScaleFromSecond([0, -4, -2, 0]), { scaled: [0, 0, 0.5, 1], min: -4, max: 0 });
  assertEquals(minMaxScaleFromSecond([123, -4, -2]).scaled[0], 0);
  assertEquals(minMaxScaleFromSecond([0, 3, 3]).scaled, [0, 0.5, 0.5]);
});

Deno.test("heatmap() rejects bad input with typed errors", opts, async () => {
  const m = await model();
  await assertRejects(() => heatmap(m, ""), InvalidArgumentError, "empty");
  await assertRejects(() => heatmap(m, "   \n"), InvalidArgumentError, "empty");
  await assertRejects(() => heatmap(m, "Hello"), InvalidArgumentError, "at least 2");
  await assertRejects(() => heatmap(m, "word ".repeat(300)), ContextLengthError, "context of 256");
  await assertRejects(() => heatmap(m, "a b", { temperature: 0 }), InvalidArgumentError, '"0"');
  await assertRejects(() => heatmap(m, "a b", { temperature: -1 }), InvalidArgumentError);
  await assertRejects(() => heatmap(m, "a b", { temperature: NaN }), InvalidArgumentError);
  await assertRejects(
    // deno-lint-ignore no-explicit-any
    () => heatmap(m, "a b", { metric: "surprise" as any }),
    InvalidArgumentError,
    '"surprise"',
  );
});

Deno.test("render: Reds colour map, contrast, coloured text and table", opts, async () => {
  assertEquals(reds(0), [255, 245, 240]); // matplotlib cm.Reds(0.0) = #fff5f0
  assertEquals(reds(1), [103, 0, 13]); // cm.Reds(1.0) = #67000d
  // cm.Reds(0.5): lut entry floor(0.5 * 256) = 128 at 128/255 between stops 4 and 5.
  assertEquals(reds(0.5), [251, 105, 74]);
  assertEquals(contrastText(reds(0)), [0, 0, 0]);
  assertEquals(contrastText(reds(1)), [255, 255, 255]);
  const r: HeatmapResult = await heatmap(await model(), "It was a dark and stormy\nnight.");
  const coloured = renderHeatmap(r, 40);
  assert(coloured.includes("\x1b[48;2;255;245;240m"), "token 0 drawn with Reds(0)");
  // deno-lint-ignore no-control-regex
  const plain = coloured.replace(/\x1b\[[0-9;]*m/g, "");
  assert(plain.includes("It was a dark and stormy\nnight."), plain);
  const rows = renderHeatmapTable(r).split("\n");
  assert(rows.some((l) => l.includes('"\\n"')), "newline token shown escaped");
  assertEquals(rows.filter((l) => /^\s*\d+\s+"/.test(l)).length, r.tokens.length);
});

Deno.test("heatmap CLI writes the JSON result and reports bad input", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/h.json`;
    assertEquals(await command.run(["--offline", "--out", out, "--temperature", "1.5"]), 0);
    const j = JSON.parse(await Deno.readTextFile(out));
    assertEquals(j.schema, "laminar.heatmap");
    assertEquals(j.version, 1);
    assertEquals(j.text, HEATMAP_DEFAULT_TEXT);
    assertEquals(j.options, { temperature: 1.5, metric: "logprob" });
    assertEquals(j.model.nLayer, 6);
    const T = j.tokens.length;
    for (const k of ["logprob", "prob", "rank", "entropy", "scaled"]) assertEquals(j[k].length, T);
    assertEquals(j.logprob[0], null);
    assertEquals(j.tokens[1], { id: 389, text: " are", start: 5, end: 9 });

    const file = `${dir}/t.txt`;
    await Deno.writeTextFile(file, "It was a dark and stormy night.");
    const out2 = `${dir}/h2.json`;
    assertEquals(await command.run(["--file", file, "--metric", "rank", "--out", out2]), 0);
    const j2 = JSON.parse(await Deno.readTextFile(out2));
    assertEquals(j2.scale.metric, "rank");
    assertEquals(j2.tokens.length, 9); // " storm" + "y"

    const bad = `${dir}/bad.json`;
    await assertRejects(() => command.run(["--file", `${dir}/missing.txt`]), FileNotFoundError);
    await assertRejects(() => command.run(["--text", "", "--out", bad]), InvalidArgumentError);
    await assertRejects(
      () => command.run(["--text", "a b", "--temperature", "0", "--out", bad]),
      InvalidArgumentError,
      "--temperature",
    );
    await assertRejects(
      () => command.run(["--text", "a b", "--metric", "x", "--out", bad]),
      InvalidArgumentError,
    );
    await assertRejects(
      () => command.run(["--text", "word ".repeat(300), "--out", bad]),
      ContextLengthError,
    );
    await assertRejects(
      () => command.run(["--text", "a b", "--model", "no-such-org/no-such-model", "--offline"]),
      ModelNotFoundError,
    );
    await assertRejects(() => command.run(["--bogus"]), InvalidArgumentError);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(left, ["h.json", "h2.json", "t.txt"], "nothing half-written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
