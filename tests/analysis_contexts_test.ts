// contexts (seed 001 parts 4–6) on the shipped model: GPU cosine means and histograms per layer
// against the CPU reference (src/stats cosineMatrix + histogram on the hidden states read back),
// errors, and the CLI.
// Tolerances: means 1e-5 absolute (f32 dot products); histogram counts may differ by a value
// sitting within f32 rounding of a bin edge: at most 1 pair per layer and distribution.
import { assert, assertClose, assertEquals, assertRejects } from "./helpers/assert.ts";
import { rng, testGpu } from "./helpers/gpu.ts";
import { Gpt2Model } from "../src/model/gpt2.ts";
import { CONTEXT_DISTRIBUTIONS, contexts } from "../src/analysis/contexts.ts";
import { cosineMatrix } from "../src/stats/pairwise.ts";
import { rowMatrix } from "../src/stats/matrix.ts";
import { histogram, linspace } from "../src/stats/histogram.ts";
import { Gpt2Tokenizer } from "../src/tokenizer/tokenizer.ts";
import type { Gpu } from "../src/gpu/context.ts";
import { FileNotFoundError, FormatError, InvalidArgumentError } from "../src/errors.ts";
import { command } from "../cli/contexts.ts";

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

function syntheticText(sentences: number, seed = 5): string {
  const r = rng(seed);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const start = ["For many", "After ten", "In recent", "Over the past", "Just two"];
  const mid = ["our troops served", "the veterans waited", "we built schools", "prices rose"];
  const out: string[] = [];
  for (let i = 0; i < sentences; i++) {
    out.push(
      `${pick(start)} years ${pick(mid)}, and ${pick(["our", "the", "brave"])} ${
        pick(["troops", "veterans", "families"])
      } came home.`,
    );
  }
  return out.join(" ");
}

Deno.test("contexts() GPU cosine summaries match the CPU reference per layer", opts, async () => {
  const gpu = await testGpu();
  const model = await Gpt2Model.load(gpu, "default", { offline: true });
  const ids = tok.encode(syntheticText(30));
  const targets = [" years", " troops", " veterans"];
  const window = 12;
  let matrix: Float32Array | null = null;
  const { value: r, reads, flushes } = await countReadbacks(gpu, () =>
    contexts(model, ids, {
      targets,
      window,
      maxPerWord: 9,
      layer: 2,
      onMatrix: (m) => void (matrix = m.values),
    }));
  assertEquals(r.schema, "laminar.contexts");
  // One submission, one readback (the view matrix for onMatrix included).
  assertEquals([reads, flushes, r.readbacks], [1, 0, 1]);
  const N = r.n, L1 = model.config.nLayer + 1, D = model.config.nEmbd;
  assertEquals(N, r.targets.reduce((n, t) => n + t.used, 0));
  assert(r.targets.every((t) => t.used >= 2 && t.used <= 9));
  // Windows end at the target: the last token of every window is the target.
  const wins = r.targets.flatMap((t) =>
    t.positions.map((p) => Array.from(ids.slice(p - window, p + 1)))
  );
  r.targets.forEach((t) => t.positions.forEach((p) => assertEquals(ids[p], t.id)));
  const hs = (await model.run(wins, { hiddenStates: { positions: [window] } })).hiddenStates!;
  const label = new Int32Array(N);
  r.targets.forEach((t, k) => label.fill(k, t.offset, t.offset + t.used));
  const edges = linspace(0.4, 1, 35);
  assertEquals(r.edges, Array.from(edges));
  /** One distribution's pairs i < j of the view layer, from the [N, N] matrix read back. */
  const viewVals = (m: Float32Array, d: string) => {
    const out: number[] = [];
    for (let i = 0; i < N; i++) {
      for (let j = i + 1; j < N; j++) {
        const a = label[i], b = label[j];
        const k = a === b ? "within" : a === 0 || b === 0 ? "acrossFirst" : "acrossOthers";
        if (k === d) out.push(m[i * N + j]);
      }
    }
    return out;
  };
  for (let l = 0; l < L1; l++) {
    const cs = cosineMatrix(rowMatrix(hs.subarray(l * N * D, (l + 1) * N * D), N, D));
    const split: Record<string, number[]> = { within: [], acrossFirst: [], acrossOthers: [] };
    for (let i = 0; i < N; i++) {
      for (let j = i + 1; j < N; j++) {
        const a = label[i], b = label[j];
        split[a === b ? "within" : a === 0 || b === 0 ? "acrossFirst" : "acrossOthers"].push(
          cs[i * N + j],
        );
      }
    }
    for (const d of CONTEXT_DISTRIBUTIONS) {
      const vals = split[d];
      const got = r.layers[l][d];
      assertEquals(got.pairs, vals.length);
      assertClose(got.mean!, vals.reduce((x, y) => x + y, 0) / vals.length, 1e-5, `${d} ${l}`);
      const want = histogram(vals, { bins: edges }).counts;
      const diff = want.reduce((s, c, b) => s + Math.abs(c - r.counts[d][l][b]), 0);
      assert(diff <= 2, `${d} layer ${l}: histogram differs by ${diff}`);
      const inside = want.reduce((x, y) => x + y, 0);
      assert(Math.abs(got.outside - (vals.length - inside)) <= 1, `${d} layer ${l} outside`);
      if (l === 2) {
        const v = r.layerView[d];
        assertEquals(v.counts.reduce((x, y) => x + y, 0), vals.length);
        assertClose(v.mean!, got.mean!, 1e-5);
        // GPU edges over the distribution's own range, GPU counts: numpy on those edges.
        const gv = viewVals(matrix!, d);
        assertEquals(v.edges.length, 31);
        assertEquals([v.edges[0], v.edges[30]], [Math.min(...gv), Math.max(...gv)]);
        const ref = linspace(v.edges[0], v.edges[30], 31);
        const scale = Math.max(Math.abs(ref[0]), Math.abs(ref[30]));
        assert(v.edges.every((e, k) => Math.abs(e - ref[k]) <= 2.4e-7 * scale), `${d} edges`);
        assertEquals(v.counts, Array.from(histogram(gv, { bins: v.edges }).counts));
      }
    }
    if (l === 2) {
      let m = 0;
      for (let i = 0; i < N * N; i++) m = Math.max(m, Math.abs(matrix![i] - cs[i]));
      assert(m <= 1e-5, `view matrix max diff ${m}`);
    }
  }
  // Layer 0: same token, same position → identical embeddings: every within pair is in the top bin.
  assertEquals(r.layers[0].within.outside, 0);
  assertEquals(r.distributions.within[0].at(-1), 1);
  // Without onMatrix: the same numbers, still one readback (the [N, N] matrix is not computed).
  const again = await countReadbacks(
    gpu,
    () => contexts(model, ids, { targets, window, maxPerWord: 9, layer: 2 }),
  );
  assertEquals([again.reads, again.flushes, again.value.readbacks], [1, 0, 1]);
  assertEquals(again.value.layers, r.layers);
  assertEquals(again.value.layerView, r.layerView);
  // Two targets: no <others> pairs, an empty view histogram.
  const two = await contexts(model, ids, { targets: targets.slice(0, 2), window, maxPerWord: 5 });
  assertEquals(two.readbacks, 1);
  assertEquals(two.layerView.acrossOthers.edges, []);
  assertEquals(two.layerView.acrossOthers.mean, null);
  assert(two.layers.every((l) => l.acrossOthers.pairs === 0 && l.acrossOthers.mean === null));
});

Deno.test("contexts() errors: absent, multi-token, repeated and rare targets", opts, async () => {
  const gpu = await testGpu();
  const model = await Gpt2Model.load(gpu, "default", { offline: true });
  const text = syntheticText(10);
  const absent = await assertRejects(
    () => contexts(model, text, { targets: [" years", " garage"], window: 8 }),
    InvalidArgumentError,
    '" garage" does not occur',
  );
  assert(absent.message.includes('" years"'), absent.message); // the counts of every target
  await assertRejects(
    () => contexts(model, text, { targets: [" years", " antidisestablishment"] }),
    InvalidArgumentError,
    "tokens",
  );
  await assertRejects(
    () => contexts(model, text, { targets: [" years", " years"] }),
    InvalidArgumentError,
    "repeat",
  );
  await assertRejects(
    () => contexts(model, text, { targets: [" years", " troops"], window: 8, minPerWord: 500 }),
    InvalidArgumentError,
    "fewer than 500",
  );
  await assertRejects(() => contexts(model, text, { targets: [" years"] }), InvalidArgumentError);
  await assertRejects(() => contexts(model, "  ", {}), InvalidArgumentError, "empty");
});

Deno.test("contexts CLI: JSON to a file, matrices, bad books", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bookPath = `${dir}/book.txt`;
    await Deno.writeTextFile(bookPath, syntheticText(30, 9));
    const out = `${dir}/c.json`;
    const mats = `${dir}/c.safetensors`;
    const code = await command.run([
      "--book",
      bookPath,
      "--targets",
      "years,troops,veterans",
      "--window",
      "10",
      "--max-per-word",
      "6",
      "--out",
      out,
      "--save-matrices",
      mats,
      "--offline",
    ]);
    assertEquals(code, 0);
    const j = JSON.parse(await Deno.readTextFile(out));
    assertEquals(j.schema, "laminar.contexts");
    assertEquals(j.options.targets, [" years", " troops", " veterans"]);
    assertEquals(j.options.window, 10);
    assertEquals(j.edges.length, 35);
    assertEquals(j.layers.length, 7);
    assertEquals(j.distributions.within.length, 7);
    assert((await Deno.stat(mats)).size > j.n * j.n * 4);
    await assertRejects(
      () => command.run(["--book", bookPath, "--targets", "years,garage", "--offline"]),
      InvalidArgumentError,
      "does not occur",
    );
    await Deno.writeFile(`${dir}/bin`, new Uint8Array([0, 1, 2]));
    await assertRejects(() => command.run(["--book", `${dir}/bin`]), FormatError);
    await assertRejects(() => command.run(["--book", `${dir}/nope`]), FileNotFoundError);
    await assertRejects(() => command.run(["--targets", "years"]), InvalidArgumentError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
