// punctuation (seed 004) on the shipped model: selection rules, GPU MI / covariance against the
// CPU reference (src/stats pairwiseMiCov on the same hidden states read back), per-layer means,
// r and histograms, errors, and the CLI.
// Tolerances: MI 1e-4 absolute for every pair except bin-edge cases (a value within f32
// rounding of a histogram edge may fall in the neighbouring bin on the GPU; at most 1% of
// pairs, and the test reports how many); covariance 1e-4 relative (floor 1e-6 absolute).
import { assert, assertClose, assertEquals, assertRejects } from "./helpers/assert.ts";
import { maxAbsDiff, rng, testGpu } from "./helpers/gpu.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import {
  findPunctuation,
  punctuation,
  type PunctuationMatrices,
} from "../src/analysis/punctuation.ts";
import { pairwiseMiCov } from "../src/stats/pairwise.ts";
import { rowMatrix } from "../src/stats/matrix.ts";
import { mean, pearson, upperTriangle } from "../src/stats/describe.ts";
import { histogram, linspace } from "../src/stats/histogram.ts";
import type { Gpu } from "../src/gpu/context.ts";
import { Gpt2Tokenizer } from "../src/tokenizer/tokenizer.ts";
import { FileNotFoundError, FormatError, InvalidArgumentError } from "../src/errors.ts";
import { command } from "../cli/punctuation.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const tok = new Gpt2Tokenizer();

/** Count `gpu.read` (readbacks) and `gpu.flush` (submissions without a readback) during `fn`. */
async function countReadbacks<T>(gpu: Gpu, fn: () => Promise<T>) {
  let reads = 0, flushes = 0;
  const [read, flush] = [gpu.read, gpu.flush];
  gpu.read = (ranges) => (reads++, read.call(gpu, ranges));
  gpu.flush = () => (flushes++, flush.call(gpu));
  try {
    return { value: await fn(), reads, flushes };
  } finally {
    [gpu.read, gpu.flush] = [read, flush];
  }
}

/** A text of varied sentences with commas and periods (and a few decimal numbers). */
function syntheticText(sentences: number, seed = 7): string {
  const r = rng(seed);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const subj = ["The nation", "Our workers", "Every family", "The Congress", "My friends", "We"];
  const verb = ["build", "need", "protect", "remember", "support", "deserve", "choose"];
  const obj = ["new schools", "better jobs", "the future", "our veterans", "clean energy"];
  const tail = ["and that matters", "so we act", "but it is hard", "or we fall behind"];
  const out: string[] = [];
  for (let i = 0; i < sentences; i++) {
    let s = `${pick(subj)} ${pick(verb)} ${pick(obj)}, ${pick(tail)}`;
    if (r() < 0.3) s += `, ${pick(["of course", "in truth", "this year"])}`;
    if (r() < 0.15) s += ` at ${Math.floor(r() * 9) + 1}.${Math.floor(r() * 9)} percent`;
    out.push(s + ".");
  }
  return out.join(" ");
}

Deno.test("findPunctuation() follows the seed: start index, exact tokens, digits around periods", () => {
  const ids = tok.encode("Yes, it costs 1.5 dollars. No. Version 2. Done .5 left. A ,b.");
  const text = ids.map((i) => tok.decode([i]));
  const r = findPunctuation(ids, { start: 0 });
  for (const t of r.internal) assertEquals(text[t].trim(), ",");
  for (const t of r.terminal) {
    assertEquals(text[t].trim(), ".");
    assert(!/[0-9]$/.test(text[t - 1]) && !/^[0-9]/.test(text[t + 1] ?? ""));
  }
  // "1.5" (digit before and after), "2." (digit before) and ".5" (digit after) are left out.
  assertEquals(r.excludedDigit, 3);
  assertEquals(r.internal.length, 2); // "," and " ,"
  assertEquals(r.terminal.length, 4); // "dollars.", "No.", "left.", "b."
  const late = findPunctuation(ids, { start: r.internal[1] });
  assertEquals(late.internal, [r.internal[1]]);
  assert(late.terminal.every((t) => t >= r.internal[1]));
  // default start 400 on a longer text
  const long = tok.encode(syntheticText(120));
  const d = findPunctuation(long);
  assert(d.internal.length > 10 && d.internal[0] >= 400 && d.terminal[0] >= 400);
});

Deno.test("punctuation() GPU MI / covariance match the CPU reference per layer", opts, async () => {
  const gpu = await testGpu();
  const model = await Gpt2Model.load(gpu, "default", { offline: true });
  const text = syntheticText(40);
  const ids = tok.encode(text);
  const N = 12, pre = 20, post = 10;
  let mats: PunctuationMatrices | null = null;
  const stages = new Set<string>();
  const { value: r, reads, flushes } = await countReadbacks(gpu, () =>
    punctuation(model, ids, {
      count: N,
      start: 0,
      pre,
      post,
      onMatrices: (m) => void (mats = m),
      onProgress: (s) => stages.add(s),
    }));
  assertEquals(r.schema, "laminar.punctuation");
  // One submission, one readback (the matrices for onMatrices included).
  assertEquals([reads, flushes, r.readbacks], [1, 0, 1]);
  assertEquals([...stages], [
    "forward internal",
    "forward terminal",
    "MI + covariance sweep",
    "summaries",
  ]);
  const L1 = model.config.nLayer + 1, D = model.config.nEmbd;
  assertEquals(r.layers.length, L1);
  assertEquals(r.pairs, (N * (N - 1)) / 2);
  const m = mats! as PunctuationMatrices;
  let edgeCases = 0, total = 0, worstR = 0;
  const all = { mi: [] as number[], cov: [] as number[] };
  for (const g of ["internal", "terminal"] as const) {
    // Same windows as the analysis (up to and including the punctuation token), read back.
    const wins = r.positions[g].map((t) => Array.from(ids.slice(t - pre, t + 1)));
    const hs = (await model.run(wins, { hiddenStates: { positions: [pre] } })).hiddenStates!;
    // The causal claim: full windows (post tokens included) give the same hidden states.
    const full = r.positions[g].map((t) => Array.from(ids.slice(t - pre, t + post + 1)));
    const hsFull = (await model.run(full, { hiddenStates: { positions: [pre] } })).hiddenStates!;
    assert(maxAbsDiff(hs, hsFull) <= 1e-4, `post tokens changed the hidden states`);
    const gotMi = g === "internal" ? m.miInternal : m.miTerminal;
    const gotCov = g === "internal" ? m.covInternal : m.covTerminal;
    for (let l = 0; l < L1; l++) {
      const X = rowMatrix(hs.subarray(l * N * D, (l + 1) * N * D), N, D);
      const ref = pairwiseMiCov(X, { bins: 15, outlierThresh: 5 });
      const mi = gotMi.subarray(l * N * N, (l + 1) * N * N);
      const cov = gotCov.subarray(l * N * N, (l + 1) * N * N);
      for (let i = 0; i < N; i++) {
        for (let j = i + 1; j < N; j++) {
          const o = i * N + j;
          total++;
          if (Math.abs(mi[o] - ref.mi[o]) > 1e-4) edgeCases++;
          assert(
            Math.abs(cov[o] - ref.cov[o]) <= 1e-4 * (Math.abs(ref.cov[o]) + 1e-2),
            `${g} layer ${l} cov(${i},${j}) ${cov[o]} vs ${ref.cov[o]}`,
          );
        }
      }
      // Per-layer summaries (GPU) and r (CPU over read-back pairs) vs the reference.
      const refMi = upperTriangle(ref.mi, N), refCov = upperTriangle(ref.cov, N);
      const layer = r.layers[l][g];
      assertClose(layer.mi.mean!, mean(refMi), 1e-3, `${g} layer ${l} MI mean`);
      assertClose(layer.cov.mean!, mean(refCov), 1e-4 * Math.max(1, Math.abs(mean(refCov))));
      assertEquals(layer.mi.count, N * (N - 1) / 2);
      const rr = pearson(refMi, refCov);
      if (Number.isFinite(rr) && l > 0) assertClose(layer.r!, rr, 1e-3, `${g} layer ${l} r`);
      // r from the GPU joint moments vs float64 Pearson of the matrices read back.
      const upMi = upperTriangle(mi, N), upCov = upperTriangle(cov, N);
      const r64 = pearson(upMi, upCov);
      if (Number.isFinite(r64) && l > 0) {
        const d = Math.abs(layer.r! - r64);
        worstR = Math.max(worstR, d);
        assert(d <= 1e-4, `${g} layer ${l} r ${layer.r} vs float64 ${r64}`);
      }
      // GPU histograms on the GPU's data-range edges: numpy's counts on the same edges.
      for (const [metric, vals] of [["mi", upMi], ["cov", upCov]] as const) {
        const hg = r.histograms[metric];
        assertEquals(hg[g][l], Array.from(histogram(vals, { bins: hg.edges }).counts));
        all[metric].push(...vals);
        if (l === r.layerView.layer) {
          const v = r.layerView[g][metric];
          assertEquals(v.edges.length, 61);
          assertEquals([v.edges[0], v.edges[60]], [Math.min(...vals), Math.max(...vals)]);
          assertEquals(v.counts, Array.from(histogram(vals, { bins: v.edges }).counts));
          assertEquals(r.layerView[g].r, layer.r);
        }
      }
      const h = r.histograms.mi[g][l];
      assertEquals(h.reduce((a, b) => a + b, 0), N * (N - 1) / 2);
    }
  }
  for (const metric of ["mi", "cov"] as const) {
    const e = r.histograms[metric].edges;
    assertEquals([e[0], e.at(-1)], [Math.min(...all[metric]), Math.max(...all[metric])]);
    const ref = linspace(e[0], e.at(-1)!, e.length);
    const scale = Math.max(Math.abs(ref[0]), Math.abs(ref.at(-1)!));
    assert(e.every((x, k) => Math.abs(x - ref[k]) <= 2.4e-7 * scale), `${metric} edges`);
  }
  console.log(`max |r - float64 r| over layers and groups: ${worstR.toExponential(2)}`);
  // Without onMatrices: the same numbers, still one readback.
  const again = await countReadbacks(gpu, () => punctuation(model, ids, { count: N, start: 0 }));
  assertEquals([again.reads, again.flushes, again.value.readbacks], [1, 0, 1]);
  assertEquals(again.value.layers, r.layers);
  assertEquals(again.value.histograms, r.histograms);
  assert(edgeCases <= total / 100, `${edgeCases} of ${total} MI pairs differ by more than 1e-4`);
  // Layer 0 holds the same vector for every comma (same token, same position): r undefined.
  assertEquals(r.layers[0].internal.r, null);
  assertEquals(r.meanActivation.internal.length, D);
  assertEquals(r.histograms.mi.edges.length, 101);
});

Deno.test("punctuation() errors: too few occurrences, bad options", opts, async () => {
  const gpu = await testGpu();
  const model = await Gpt2Model.load(gpu, "default", { offline: true });
  const text = syntheticText(30);
  const e = await assertRejects(
    () => punctuation(model, text, { count: 500, start: 0 }),
    InvalidArgumentError,
    "500 were asked for",
  );
  assert(e.hint.includes("Lower --count"), e.hint);
  await assertRejects(() => punctuation(model, text, { count: 10 }), InvalidArgumentError); // start 400
  await assertRejects(() => punctuation(model, "   ", {}), InvalidArgumentError, "empty");
  await assertRejects(
    () => punctuation(model, text, { count: 5, start: 10_000_000 }),
    InvalidArgumentError,
    "past the end of the book",
  );
  await assertRejects(
    () => punctuation(model, text, { count: 5, start: 0, pre: 300 }),
    InvalidArgumentError,
    "context",
  );
  await assertRejects(
    () => punctuation(model, text, { count: 5, start: 0, layer: 99 }),
    InvalidArgumentError,
  );
});

Deno.test("punctuation CLI: JSON to a file, matrices, binary and missing books", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bookPath = `${dir}/book.txt`;
    await Deno.writeTextFile(bookPath, syntheticText(40, 3));
    const out = `${dir}/p.json`;
    const mats = `${dir}/p.safetensors`;
    const code = await command.run([
      "--book",
      bookPath,
      "--count",
      "8",
      "--start",
      "0",
      "--layer",
      "2",
      "--mi-range",
      "0,4",
      "--out",
      out,
      "--save-matrices",
      mats,
      "--offline",
    ]);
    assertEquals(code, 0);
    const j = JSON.parse(await Deno.readTextFile(out));
    assertEquals(j.schema, "laminar.punctuation");
    assertEquals(j.options.count, 8);
    assertEquals(j.options.miRange, [0, 4]);
    assertEquals(j.histograms.mi.edges[0], 0);
    assertEquals(j.histograms.mi.edges.at(-1), 4);
    assertEquals(j.layerView.layer, 2);
    assertEquals(j.book.source, bookPath);
    assert((await Deno.stat(mats)).size > 4 * 7 * 64 * 4);

    const bin = `${dir}/bin.txt`;
    await Deno.writeFile(bin, new Uint8Array([65, 66, 0, 67]));
    await assertRejects(() => command.run(["--book", bin, "--offline"]), FormatError, "NUL");
    await assertRejects(
      () => command.run(["--book", `${dir}/missing.txt`, "--offline"]),
      FileNotFoundError,
    );
    await assertRejects(() => command.run(["--count", "x"]), InvalidArgumentError, "--count");
    await assertRejects(
      () => command.run(["--book", bookPath, "--save-matrices", `${dir}/m.npy`]),
      InvalidArgumentError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
