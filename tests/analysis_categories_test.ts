// categories (seed 001 parts 1–3) against float64 CPU recomputations from the HF golden hidden
// states of tiny-gpt2 (tests/fixtures: `words.hidden` [4, 34, 64], the seed's 34 words, ids mod
// 2048). Tolerance 1e-4 (the model's hidden states match HF to ~5e-6; cosines and means of
// float32 values differ from float64 by ~1e-6). The t-value is checked relative to its size.
import {
  assert,
  assertClose,
  assertEquals,
  assertRejects,
  assertThrows,
} from "./helpers/assert.ts";
import { maxAbsDiff, testGpu } from "./helpers/gpu.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import { readSafetensors } from "../src/io/safetensors.ts";
import { FormatError, InvalidArgumentError } from "../src/errors.ts";
import {
  categories,
  type CategoryWord,
  checkCategoryWords,
  parseCategoryWords,
  SEED_CATEGORY_WORDS,
  splitPairs,
} from "../src/analysis/categories.ts";
import { cosineMatrix, mean, rowMatrix, ttestInd, variance } from "../src/stats/mod.ts";
import { command } from "../cli/categories.ts";
import { SEED_WORD_IDS } from "./helpers/seed_words.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const FIX = new URL("./fixtures/", import.meta.url).pathname;
const TOL = 1e-4;

const SEED_IDS = SEED_WORD_IDS;

Deno.test("the seed's words are one GPT-2 token each with a leading space", () => {
  const ids = checkCategoryWords(SEED_CATEGORY_WORDS).map((w) => w.id);
  assertEquals(ids, SEED_IDS);
  assertEquals(SEED_CATEGORY_WORDS.length, 34);
});

Deno.test(
  "categories() matches a CPU recomputation from HF hidden states (tiny-gpt2)",
  opts,
  async () => {
    const gpu = await testGpu();
    const model = await Gpt2Model.load(gpu, FIX + "tiny-gpt2", { offline: true });
    const golden = await readSafetensors(FIX + "tiny-gpt2-golden.safetensors");
    const hidden = golden.getF32("words.hidden"); // [L+1, 34, D]
    const words: CategoryWord[] = SEED_CATEGORY_WORDS.map((w, i) => ({
      ...w,
      id: SEED_IDS[i] % 2048,
    }));
    const r = await categories(model, words, { allMatrices: true });
    const L1 = 4, N = 34, D = 64;
    assertEquals(r.schema, "laminar.categories");
    assertEquals(r.version, 1);
    assertEquals(r.layers.length, L1);
    assertEquals(r.pairs, { within: 45 + 78 + 55, across: 561 - 178 });
    assertEquals(r.options.layer, 3); // min(4, n_layer)
    assertEquals(r.categories.map((c) => [c.name, c.words.length]), [
      ["space", 10],
      ["furniture", 13],
      ["fruit", 11],
    ]);
    const labels = words.map((w) => ["space", "furniture", "fruit"].indexOf(w.category));
    for (let l = 0; l < L1; l++) {
      const h = hidden.subarray(l * N * D, (l + 1) * N * D);
      const cos = cosineMatrix(rowMatrix(h, N, D)); // float64 [N, N]
      const got = r.matrices![l].flat();
      assert(maxAbsDiff(got, cos) <= TOL, `layer ${l} cosine ${maxAbsDiff(got, cos)}`);
      const { within, across } = splitPairs(cos, labels);
      const layer = r.layers[l];
      assertEquals(layer.within.n, within.length);
      assertClose(layer.within.mean, mean(within), TOL, `layer ${l} within`);
      assertClose(layer.across.mean, mean(across), TOL, `layer ${l} across`);
      assertClose(layer.delta, mean(within) - mean(across), TOL, `layer ${l} delta`);
      const ref = ttestInd(within, across);
      assertEquals(layer.df, 176 + 383);
      assertClose(layer.t!, ref.t, TOL * Math.max(1, Math.abs(ref.t)), `layer ${l} t`);
      assertClose(layer.p!, ref.p, TOL, `layer ${l} p`);
      // The reported t is exactly scipy's Student t of the reported (GPU) pair values.
      const gpuPairs = splitPairs(got, labels);
      assertClose(layer.t!, ttestInd(gpuPairs.within, gpuPairs.across).t, 1e-9);
      // Part 1: hs.var(dim=0), ddof 1.
      const vref = Array.from(
        { length: D },
        (_, d) => variance(Array.from({ length: N }, (_, i) => h[i * D + d]), { ddof: 1 }),
      );
      assert(maxAbsDiff(r.variance[l], vref) <= TOL, `layer ${l} variance`);
      // Density histograms on common edges integrate to 1.
      const { edges, within: dw, across: da } = layer.histogram;
      assertEquals(edges.length, 21);
      const area = (d: (number | null)[]) =>
        d.reduce((s: number, v, k) => s + v! * (edges[k + 1] - edges[k]), 0);
      assertClose(area(dw), 1, 1e-9);
      assertClose(area(da), 1, 1e-9);
      // Block means: the weighted diagonal gives the within mean.
      const sizes = [10, 13, 11].map((n) => (n * (n - 1)) / 2);
      const w = sizes.reduce((s, n, k) => s + n * layer.blockMeans[k][k], 0) / 178;
      assertClose(w, layer.within.mean, 1e-9);
    }
    assert(maxAbsDiff(r.matrix.values.flat(), r.matrices![3].flat()) === 0);
    assertEquals(r.words[0].id, 16161 % 2048);
    assert(r.words.every((w) => Number.isInteger(w.next.id) && w.next.id < 2048));
    JSON.parse(JSON.stringify(r)); // serialisable
  },
);

Deno.test("words that are not one token are one error listing them all", () => {
  const e = assertThrows(
    () => checkCategoryWords(SEED_CATEGORY_WORDS, false),
    InvalidArgumentError,
    "15 words are not one token",
  );
  for (const w of ["galaxy", "jelly", "sofa"]) assert(e.message.includes(`"${w}"`), e.message);
  assert(!e.message.includes('"apple"'));
  const words = [
    { category: "a", word: "apple" },
    { category: "a", word: "pear" },
    { category: "b", word: "xylophonists" },
    { category: "b", word: "door" },
  ];
  assertThrows(() => checkCategoryWords(words), InvalidArgumentError, '" xylophonists"');
});

Deno.test("parseCategoryWords() reads category,word lines and rejects bad ones", () => {
  const text = "# my words\nfruit, apple\n\nfruit,pear\r\nfurniture ,sofa\nfurniture,rug\n";
  assertEquals(parseCategoryWords(text), [
    { category: "fruit", word: "apple" },
    { category: "fruit", word: "pear" },
    { category: "furniture", word: "sofa" },
    { category: "furniture", word: "rug" },
  ]);
  const e = assertThrows(
    () => parseCategoryWords("fruit,apple\nbanana\nfruit,\na,b,c\n"),
    FormatError,
    "3 malformed lines",
  );
  assert(e.message.includes('line 2: "banana"'), e.message);
  assert(e.message.includes("line 4"), e.message);
});

Deno.test("word lists need two categories of two words, without duplicates", () => {
  const one = parseCategoryWords("fruit,apple\nfruit,pear\nfruit,lime\n");
  assertThrows(() => checkCategoryWords(one), InvalidArgumentError, "at least 2 are needed");
  const lonely = parseCategoryWords("fruit,apple\nfruit,pear\nspace,moon\n");
  assertThrows(() => checkCategoryWords(lonely), InvalidArgumentError, '"space" has only one');
  const dup = parseCategoryWords("fruit,apple\nfruit,pear\nspace,moon\nspace,apple\n");
  assertThrows(() => checkCategoryWords(dup), InvalidArgumentError, '"apple"');
});

Deno.test("categories() rejects ids outside the vocabulary and bad options", opts, async () => {
  const gpu = await testGpu();
  const model = await Gpt2Model.load(gpu, FIX + "tiny-gpt2", { offline: true });
  await assertRejects(() => categories(model), InvalidArgumentError, "vocabulary of 2048");
  const words = SEED_CATEGORY_WORDS.map((w, i) => ({ ...w, id: SEED_IDS[i] % 2048 }));
  await assertRejects(() => categories(model, words, { layer: 4 }), InvalidArgumentError, "layer");
  await assertRejects(() => categories(model, words, { bins: 0 }), InvalidArgumentError, "bins");
  await assertRejects(
    () => categories(model, words, { range: [1, 0.4] }),
    InvalidArgumentError,
    "range",
  );
});

Deno.test("cli categories writes the JSON result (shipped model)", opts, async () => {
  const out = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const code = await command.run(["--out", out, "--offline", "--range", "0.3,1", "--bins", "10"]);
    assertEquals(code, 0);
    const r = JSON.parse(await Deno.readTextFile(out));
    assertEquals(r.schema, "laminar.categories");
    assertEquals(r.model.nLayer, 6);
    assertEquals(r.layers.length, 7);
    assertEquals(r.words.length, 34);
    assertEquals(r.variance.length, 7);
    assertEquals(r.variance[0].length, 128);
    assertEquals(r.matrix.layer, 4);
    assertEquals(r.matrix.values.length, 34);
    assertEquals(r.options.range, [0.3, 1]);
    assertEquals(r.layers[0].histogram.edges.length, 11);
    assert(r.layers.every((l: { t: number | null }) => typeof l.t === "number"));
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("cli categories reports a bad words file without a stack trace", async () => {
  const file = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    await Deno.writeTextFile(file, "fruit,apple\nfruit,pear\nspace\n");
    await assertRejects(() => command.run(["--words-file", file]), FormatError, "line 3");
    await Deno.writeTextFile(file, "fruit,apple\nfruit,pear\nspace,moon\n");
    await assertRejects(
      () => command.run(["--words-file", file]),
      InvalidArgumentError,
      "one word",
    );
    const p = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        "cli/main.ts",
        "categories",
        "--words-file",
        file,
      ],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stderr } = await p.output();
    const err = new TextDecoder().decode(stderr);
    assertEquals(code, 1);
    assert(err.includes('error: Category "space" has only one word'), err);
    assert(!err.includes("    at "), err);
  } finally {
    await Deno.remove(file);
  }
});
