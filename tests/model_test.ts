// GPT-2 forward against the Hugging Face oracle (tests/fixtures, see README there).
// Tolerance: max |diff| <= 1e-4 on hidden states, logits, attentions and log-probs (float32 on
// the GPU sums in another order than PyTorch's CPU kernels; observed ~5e-6 on tiny-gpt2).
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
import { parseGpt2Config } from "../src/io/config.ts";
import {
  ContextLengthError,
  FormatError,
  InvalidArgumentError,
  ModelNotFoundError,
} from "../src/errors.ts";
import { Gpu } from "../src/gpu/context.ts";
import { checkIntervention } from "../src/model/hooks.ts";
import { type BlockWeights, type Gpt2Weights, rowChunks } from "../src/model/weights.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { SEED_WORD_IDS } from "./helpers/seed_words.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const FIX = new URL("./fixtures/", import.meta.url).pathname;
const TOL = 1e-4;

async function fixture(name: "tiny-gpt2" | "sotu-gpt2-mini") {
  const gpu = await testGpu();
  const dir = name === "tiny-gpt2" ? FIX + "tiny-gpt2" : "default";
  const model = await Gpt2Model.load(gpu, dir, { offline: true });
  const golden = await readSafetensors(FIX + `${name}-golden.safetensors`);
  const meta = JSON.parse(await Deno.readTextFile(FIX + `${name}-golden.json`));
  return { model, golden, meta };
}

for (const name of ["tiny-gpt2", "sotu-gpt2-mini"] as const) {
  Deno.test(
    `forward() matches HF hidden states, attentions, logits, log-probs (${name})`,
    opts,
    async () => {
      const { model, golden, meta } = await fixture(name);
      for (let i = 0; i < meta.texts.length; i++) {
        const ids: number[] = meta.texts[i].ids;
        const hasLogits = golden.has(`t${i}.logits`);
        const out = await model.run(ids, {
          hiddenStates: true,
          attentions: true,
          logits: hasLogits ? "all" : "last",
          nextTokenStats: true,
        });
        const dh = maxAbsDiff(out.hiddenStates!, golden.getF32(`t${i}.hidden`));
        const da = maxAbsDiff(out.attentions!, golden.getF32(`t${i}.attn`));
        assert(dh <= TOL, `t${i} hidden ${dh}`);
        assert(da <= TOL, `t${i} attn ${da}`);
        if (hasLogits) {
          const dl = maxAbsDiff(out.logits!, golden.getF32(`t${i}.logits`));
          assert(dl <= TOL, `t${i} logits ${dl}`);
        } else {
          const dl = maxAbsDiff(out.logits!, golden.getF32(`t${i}.logits_last`));
          assert(dl <= TOL, `t${i} logits_last ${dl}`);
        }
        const want = golden.getF32(`t${i}.logsm_next`);
        const got = out.nextTokenStats!.filter((_, k) => k % 5 === 0).slice(0, want.length);
        assert(maxAbsDiff(got, want) <= TOL, `t${i} logsm_next`);
        assertEquals(out.nextTokenStats![(ids.length - 1) * 5 + 1], 0, "no next token at the end");
      }
    },
  );
}

Deno.test("forward() top-10 next tokens match HF (sotu-gpt2-mini)", opts, async () => {
  const { model, meta } = await fixture("sotu-gpt2-mini");
  for (const t of meta.texts) {
    const out = await model.run(t.ids, { logits: "last" });
    const lg = out.logits!;
    const order = [...lg.keys()].sort((a, b) => lg[b] - lg[a]).slice(0, 10);
    assertEquals(order, t.top10_ids);
    let m = -Infinity, s = 0;
    for (const v of lg) m = Math.max(m, v);
    for (const v of lg) s += Math.exp(v - m);
    order.forEach((id, k) => assertClose(Math.exp(lg[id] - m) / s, t.top10_p[k], 1e-5));
  }
});

Deno.test("a batch of one-token words matches HF hidden states (tiny-gpt2)", opts, async () => {
  const { model, golden, meta } = await fixture("tiny-gpt2");
  const ids = SEED_WORD_IDS.map((i) => i % 2048);
  assertEquals(meta.texts.length, 5);
  const want = golden.getF32("words.hidden"); // [L+1, 34, D]
  const out = await model.run(ids.map((i) => [i]), { hiddenStates: true }); // [L+1, 34, 1, D]
  assert(maxAbsDiff(out.hiddenStates!, want) <= TOL);
});

Deno.test(
  "scaling a block's output by 0.8 matches the HF hook oracle at every layer",
  opts,
  async () => {
    const { model, meta } = await fixture("tiny-gpt2");
    const h = meta.hook;
    const ids: number[] = meta.texts[h.text_index].ids;
    const T = ids.length;
    const logp = async () => {
      const out = await model.run(ids, { logits: "last" });
      const lg = out.logits!;
      let m = -Infinity, s = 0;
      for (const v of lg) m = Math.max(m, v);
      for (const v of lg) s += Math.exp(v - m);
      return lg[h.target] - m - Math.log(s);
    };
    assertClose(await logp(), h.clean, TOL, "clean");
    for (let l = 0; l < h.per_layer.length; l++) {
      const handle = model.addIntervention({
        hook: `blocks.${l}.hook_resid_post`,
        op: "scale",
        value: h.scale,
      });
      assertClose(await logp(), h.per_layer[l], TOL, `layer ${l}`);
      handle.remove();
    }
    assertClose(await logp(), h.clean, TOL, "clean again after removing the hook");
    assert(T > 1);
  },
);

Deno.test(
  "cache holds hook activations consistent with hidden states and each other",
  opts,
  async () => {
    const { model, meta } = await fixture("tiny-gpt2");
    const ids: number[] = meta.texts[1].ids;
    const { nLayer: L, nEmbd: D } = model.config;
    const T = ids.length;
    const out = await model.run(ids, {
      hiddenStates: true,
      cache: [
        "blocks.1.hook_resid_pre",
        "blocks.1.hook_resid_mid",
        "blocks.1.hook_attn_out",
        "blocks.1.attn.hook_q",
        "blocks.1.attn.hook_pattern",
        "blocks.0.mlp.hook_pre",
        "blocks.0.mlp.hook_post",
        "ln_final.hook_normalized",
        "hook_embed",
        "hook_pos_embed",
      ],
      attentions: true,
    });
    const hs = out.hiddenStates!;
    const c = out.cache;
    assert(maxAbsDiff(c.get("blocks.1.hook_resid_pre")!, hs.subarray(T * D, 2 * T * D)) === 0);
    assert(maxAbsDiff(c.get("ln_final.hook_normalized")!, hs.subarray(L * T * D)) === 0);
    const mid = c.get("blocks.1.hook_resid_mid")!, pre = c.get("blocks.1.hook_resid_pre")!;
    const ao = c.get("blocks.1.hook_attn_out")!;
    for (let i = 0; i < mid.length; i++) assertClose(mid[i], pre[i] + ao[i], 1e-5);
    const H = model.config.nHead;
    const pat = c.get("blocks.1.attn.hook_pattern")!;
    assert(maxAbsDiff(pat, out.attentions!.subarray(H * T * T, 2 * H * T * T)) === 0);
    assertEquals(c.get("blocks.1.attn.hook_q")!.length, T * D);
    const emb = c.get("hook_embed")!, pos = c.get("hook_pos_embed")!;
    for (let i = 0; i < emb.length; i++) assertClose(hs[i], emb[i] + pos[i], 1e-6);
  },
);

Deno.test(
  "residual adds fused into the projections give the same bits as separate adds",
  opts,
  async () => {
    // Without hooks the block computes x += z @ W + b in the projection's epilogue; caching
    // hook_attn_out / hook_mlp_out of every block forces the separate projection + add.
    const { model, meta } = await fixture("sotu-gpt2-mini");
    const ids: number[] = meta.texts[0].ids;
    const L = model.config.nLayer;
    const fused = await model.run(ids, { hiddenStates: true, logits: "all" });
    const names = Array.from({ length: L }, (_, l) => [
      `blocks.${l}.hook_attn_out`,
      `blocks.${l}.hook_mlp_out`,
    ]).flat();
    const split = await model.run(ids, { hiddenStates: true, logits: "all", cache: names });
    assertEquals(split.cache.size, 2 * L);
    const same = (a: Float32Array, b: Float32Array) => a.every((v, i) => Object.is(v, b[i]));
    assert(same(fused.hiddenStates!, split.hiddenStates!), "hidden states differ");
    assert(same(fused.logits!, split.logits!), "logits differ");
  },
);

Deno.test(
  "interventions: zero-ablate a head, add a vector, patch from a cache, callbacks",
  opts,
  async () => {
    const { model, meta } = await fixture("tiny-gpt2");
    const ids: number[] = meta.texts[2].ids;
    const { nEmbd: D } = model.config;
    const T = ids.length;
    const clean = await model.run(ids, {
      cache: ["blocks.1.attn.hook_z", "blocks.2.hook_resid_pre"],
    });
    // zero-ablate head 2 of block 1 at positions 3 and 5
    const ab = await model.run(ids, {
      cache: ["blocks.1.attn.hook_z"],
      interventions: [{ hook: "blocks.1.attn.hook_z", op: "zero", heads: [2], positions: [3, 5] }],
    });
    const z0 = clean.cache.get("blocks.1.attn.hook_z")!, z1 = ab.cache.get("blocks.1.attn.hook_z")!;
    const dh = D / model.config.nHead;
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < D; c++) {
        const hit = (t === 3 || t === 5) && Math.floor(c / dh) === 2;
        assertEquals(z1[t * D + c], hit ? 0 : z0[t * D + c]);
      }
    }
    // add a vector at one position
    const v = new Float32Array(D).map((_, i) => i / D);
    const added = await model.run(ids, {
      cache: ["blocks.2.hook_resid_pre"],
      interventions: [{
        hook: "blocks.2.hook_resid_pre",
        op: "add",
        value: v,
        alpha: 2,
        positions: [4],
      }],
    });
    const r0 = clean.cache.get("blocks.2.hook_resid_pre")!,
      r1 = added.cache.get("blocks.2.hook_resid_pre")!;
    for (let c = 0; c < D; c++) assertClose(r1[4 * D + c], r0[4 * D + c] + 2 * v[c], 1e-5);
    assertEquals(r1[3 * D], r0[3 * D]);
    // patching the clean activation into a corrupted run restores clean logits
    const other: number[] = meta.texts[4].ids.concat(
      meta.texts[4].ids,
      meta.texts[4].ids,
      meta.texts[4].ids,
    ).slice(0, T);
    const patched = await model.run(other, {
      logits: "last",
      interventions: [{
        hook: "blocks.2.hook_resid_pre",
        op: "set",
        value: Tensor.from(model.gpu, r0),
      }],
    });
    const cleanLogits = await model.run(ids, { logits: "last" });
    assert(maxAbsDiff(patched.logits!, cleanLogits.logits!) < 1e-5);
    // a JavaScript callback sees the activation and can replace it
    let seen = 0;
    const cb = await model.run(ids, {
      cache: ["blocks.2.hook_resid_pre"],
      callbacks: [{
        hook: "blocks.2.hook_resid_pre",
        fn: (a, shape) => {
          seen = a.length;
          assertEquals(shape, [1, T, D]);
          return a.map((x) => 2 * x);
        },
      }],
    });
    assertEquals(seen, T * D);
    const r2 = cb.cache.get("blocks.2.hook_resid_pre")!;
    for (let i = 0; i < r2.length; i += 7) assertClose(r2[i], 2 * r0[i], 1e-6);
  },
);

Deno.test(
  "forward() rejects empty input, too-long text, bad ids, unknown hooks",
  opts,
  async () => {
    const { model } = await fixture("tiny-gpt2");
    await assertRejects(() => model.run([]), InvalidArgumentError);
    await assertRejects(() => model.run(new Array(129).fill(1)), ContextLengthError);
    await assertRejects(() => model.run([1, 99999]), InvalidArgumentError);
    await assertRejects(() => model.run([[1, 2], [3]]), InvalidArgumentError);
    await assertRejects(
      () => model.run([1, 2], { cache: ["blocks.9.hook_resid_pre"] }),
      InvalidArgumentError,
    );
    await assertRejects(
      () => model.run([1, 2], { cache: ["blocks.0.hook_nope"] }),
      InvalidArgumentError,
    );
    await assertRejects(
      () =>
        model.run([1, 2], {
          interventions: [{ hook: "hook_embed", op: "scale", value: 1, heads: [0] }],
        }),
      InvalidArgumentError,
    );
  },
);

Deno.test("batched forward equals one-by-one forward, across batch chunks", opts, async () => {
  const { model, meta } = await fixture("tiny-gpt2");
  const seqs = [meta.texts[0].ids.slice(0, 7), meta.texts[1].ids, meta.texts[4].ids];
  const batch = await model.run(seqs, {
    hiddenStates: { positions: [2, 6] },
    nextTokenStats: true,
  });
  const { nLayer: L, nEmbd: D } = model.config;
  for (let b = 0; b < 3; b++) {
    const one = await model.run(seqs[b], {
      hiddenStates: { positions: [2, 6] },
      nextTokenStats: true,
    });
    for (let l = 0; l <= L; l++) {
      const got = batch.hiddenStates!.subarray((l * 3 + b) * 2 * D, (l * 3 + b + 1) * 2 * D);
      const want = one.hiddenStates!.subarray(l * 2 * D, (l + 1) * 2 * D);
      assert(maxAbsDiff(got, want) < 1e-5, `b${b} l${l}`);
    }
    assert(
      maxAbsDiff(batch.nextTokenStats!.subarray(b * 35, (b + 1) * 35), one.nextTokenStats!) < 1e-5,
    );
  }
});

Deno.test(
  "gpt2-medium shapes (random weights) run B=2, T=64 within binding limits",
  opts,
  async () => {
    const gpu = await testGpu();
    const config = parseGpt2Config({
      model_type: "gpt2",
      n_layer: 2,
      n_head: 16,
      n_embd: 1024,
      n_positions: 1024,
      vocab_size: 50257,
    }, "gpt2-medium (2 of 24 layers)");
    using model = Gpt2Model.random(gpu, config, 7);
    const ids = [
      Array.from({ length: 64 }, (_, i) => (i * 797) % 50257),
      Array.from({ length: 64 }, (_, i) => (i * 13) % 50257),
    ];
    const out = await model.run(ids, { hiddenStates: { positions: [63] }, nextTokenStats: true });
    assertEquals(out.hiddenStates!.length, 3 * 2 * 1 * 1024);
    assert(out.hiddenStates!.every(Number.isFinite));
    assert(out.nextTokenStats!.every(Number.isFinite));
  },
);

Deno.test(
  "interventions restricted to sequences; one sequence's activation broadcast",
  opts,
  async () => {
    const { model, meta } = await fixture("tiny-gpt2");
    const ids: number[] = meta.texts[2].ids;
    const L = model.config.nLayer;
    const hook = (l: number) => `blocks.${l}.hook_resid_post`;
    // copy k of the prompt gets the 0.8 scaling at block k-1 (copy 0 stays clean): one pass
    const batch = Array.from({ length: L + 1 }, () => ids);
    const out = await model.run(batch, {
      logits: "last",
      interventions: Array.from({ length: L }, (_, l) => ({
        hook: hook(l),
        op: "scale" as const,
        value: 0.8,
        sequences: [l + 1],
      })),
    });
    const V = model.config.vocabSize;
    const logp = (row: Float32Array, t: number) => {
      let m = -Infinity, s = 0;
      for (const v of row) m = Math.max(m, v);
      for (const v of row) s += Math.exp(v - m);
      return row[t] - m - Math.log(s);
    };
    const h = meta.hook;
    assertClose(logp(out.logits!.subarray(0, V), h.target), h.clean, TOL, "clean copy");
    for (let l = 0; l < L; l++) {
      const row = out.logits!.subarray((l + 1) * V, (l + 2) * V);
      assertClose(logp(row, h.target), h.per_layer[l], TOL, `copy ${l + 1}`);
    }
    // set with one sequence's activation, applied to sequence 1 only of a batch of 2
    const other: number[] = meta.texts[0].ids.concat(meta.texts[0].ids, meta.texts[0].ids).slice(
      0,
      ids.length,
    );
    const src = await model.run(ids, { cache: [hook(1)] });
    const patched = await model.run([other, other], {
      logits: "last",
      interventions: [{ hook: hook(1), op: "set", value: src.cache.get(hook(1))!, sequences: [1] }],
    });
    const clean = await model.run(ids, { logits: "last" });
    const plain = await model.run(other, { logits: "last" });
    assert(maxAbsDiff(patched.logits!.subarray(V), clean.logits!) < 1e-5);
    assert(maxAbsDiff(patched.logits!.subarray(0, V), plain.logits!) < 1e-5);
    await assertRejects(
      () => model.run(ids, { interventions: [{ hook: hook(0), op: "zero", sequences: [1] }] }),
      InvalidArgumentError,
    );
  },
);

const TINY_RANDOM = {
  model_type: "gpt2",
  n_layer: 1,
  n_head: 2,
  n_embd: 16,
  n_positions: 8,
  vocab_size: 50,
};

Deno.test(
  "forward() keeps launch grids within the workgroup limit by chunking the batch",
  opts,
  async () => {
    const base = await testGpu();
    const limited = new Gpu(base.device, { ...base.caps, maxWorkgroupsPerDimension: 40 });
    const config = parseGpt2Config(TINY_RANDOM, "tiny random");
    using model = Gpt2Model.random(limited, config, 3);
    using ref = Gpt2Model.random(base, config, 3);
    // 50 one-token sequences: attention's grid is (T, H, batch) and layer norm's one row each
    const ids = Array.from({ length: 50 }, (_, i) => [(i * 7) % 50]);
    const got = await model.run(ids, { hiddenStates: true, nextTokenStats: true });
    const want = await ref.run(ids, { hiddenStates: true, nextTokenStats: true });
    assert(maxAbsDiff(got.hiddenStates!, want.hiddenStates!) < 1e-5);
    assert(maxAbsDiff(got.nextTokenStats!, want.nextTokenStats!) < 1e-5);
  },
);

Deno.test("a config with an activation laminar does not implement is refused", opts, async () => {
  const gpu = await testGpu();
  for (const act of ["relu", "gelu", "silu"]) {
    const config = parseGpt2Config({ ...TINY_RANDOM, activation_function: act }, "cfg");
    assertThrows(() => Gpt2Model.random(gpu, config), ModelNotFoundError, act);
  }
});

Deno.test(
  "forward() errors found before recording leave nothing pending; a failed pass frees its temps",
  opts,
  async () => {
    const base = await testGpu();
    const gpu = new Gpu(base.device, { ...base.caps, maxStorageBindingBytes: 64 * 1024 });
    // n_positions above the attention kernel's 1024 rows
    const long = parseGpt2Config({ ...TINY_RANDOM, n_positions: 2048 }, "long");
    using model = Gpt2Model.random(gpu, long, 5);
    await assertRejects(() => model.run(new Array(1025).fill(1)), ContextLengthError);
    assertEquals(gpu.pending, 0);
    // an intervention value bound whole that exceeds one binding
    const ids = Array.from({ length: 200 }, () => [1, 2, 3, 4, 5, 6, 7, 8]);
    const value = new Float32Array(200 * 8 * 16);
    await assertRejects(
      () => model.run(ids, { interventions: [{ hook: "hook_embed", op: "set", value }] }),
      InvalidArgumentError,
    );
    assertEquals(gpu.pending, 0);
    // a callback that throws: the pass's temporaries go back to the pool
    gpu.pool.clear();
    await assertRejects(() =>
      model.run([1, 2, 3], {
        callbacks: [{
          hook: "blocks.0.hook_resid_post",
          fn: () => {
            throw new InvalidArgumentError("stop");
          },
        }],
      }), InvalidArgumentError);
    assert(gpu.pool.idleBytes > 0, "temporaries released");
    assertEquals((await model.run([1, 2, 3], { logits: "last" })).logits!.length, 50);
    gpu.pool.clear();
  },
);

Deno.test("head selection refuses models with more than 32 heads", () => {
  const config = parseGpt2Config({ ...TINY_RANDOM, n_head: 40, n_embd: 80 }, "wide");
  assertThrows(
    () => checkIntervention({ hook: "blocks.0.attn.hook_z", op: "zero", heads: [1] }, config, 1, 4),
    InvalidArgumentError,
  );
});

Deno.test("rowChunks() makes progress when one aligned step exceeds the binding", () => {
  const gpu = { caps: { maxStorageBindingBytes: 512, storageOffsetAlignment: 256 } } as Gpu;
  const buffer = { size: 1000 * 12 } as GPUBuffer;
  const table = new Tensor(gpu, buffer, [1000, 3], "f32"); // 12-byte rows: steps of 64 rows
  const chunks = rowChunks(gpu, table);
  assertEquals(chunks.length, Math.ceil(1000 / 64));
  assert(chunks.every((c) => (c.row0 * 12) % 256 === 0));
});

// f16 weight storage (the big matrices and wte as halves, everything else f32). Measured max
// |diff| against the HF float32 golden (lavapipe, every text of the fixtures):
//   tiny-gpt2 (F32 checkpoint, matrices rounded to half): hidden states 7.5e-3, logits 4.5e-3,
//     attentions 1.1e-3, next-token log-probs 3.4e-3 (hidden states up to |11.7|);
//   sotu-gpt2-mini (F16 checkpoint, halves uploaded unchanged): the f32 figures, <= 2.5e-5.
// Bounds below: about 3x the measured rounding error; the F16 checkpoint keeps TOL.
const F16_TOL = { hidden: 2e-2, logits: 2e-2, attn: 5e-3, logp: 1e-2 };

/** An f32-weight copy of a model: every weight read back (f16 reads as its float32 value). */
async function f32Twin(model: Gpt2Model): Promise<Gpt2Model> {
  const gpu = model.gpu;
  const w = model.weights;
  const copy = async (t: Tensor<"f32" | "f16">) => Tensor.from(gpu, await t.read(), t.shape);
  const blocks = [];
  for (const b of w.blocks) {
    const entries = await Promise.all(
      Object.entries(b).map(async ([k, t]) => [k, await copy(t)] as const),
    );
    blocks.push(Object.fromEntries(entries) as unknown as BlockWeights);
  }
  const wte = await copy(w.wte);
  const weights: Gpt2Weights = {
    dtype: "f32",
    wte,
    wteChunks: rowChunks(gpu, wte),
    wpe: await copy(w.wpe),
    blocks,
    lnFG: await copy(w.lnFG),
    lnFB: await copy(w.lnFB),
  };
  return new Gpt2Model(gpu, model.config, weights, `${model.source} (f32 twin)`);
}

for (const name of ["tiny-gpt2", "sotu-gpt2-mini"] as const) {
  Deno.test(
    `f16 weights: forward() within the measured tolerance of HF; equal to f32 on the rounded weights (${name})`,
    opts,
    async () => {
      const gpu = await testGpu();
      const dir = name === "tiny-gpt2" ? FIX + "tiny-gpt2" : "default";
      using model = await Gpt2Model.load(gpu, dir, { offline: true, weights: "f16" });
      using f32 = await Gpt2Model.load(gpu, dir, { offline: true });
      using twin = await f32Twin(model);
      const golden = await readSafetensors(FIX + `${name}-golden.safetensors`);
      const meta = JSON.parse(await Deno.readTextFile(FIX + `${name}-golden.json`));
      assertEquals(model.weights.dtype, "f16");
      assertEquals(model.weights.wte.dtype, "f16");
      assertEquals(model.weights.blocks[0].fc2W.dtype, "f16");
      assertEquals(model.weights.wpe.dtype, "f32");
      assertEquals(model.weights.wte.bytes * 2, f32.weights.wte.bytes);
      const tol = name === "tiny-gpt2"
        ? F16_TOL
        : { hidden: TOL, logits: TOL, attn: TOL, logp: TOL };
      for (let i = 0; i < meta.texts.length; i++) {
        const ids: number[] = meta.texts[i].ids;
        const hasLogits = golden.has(`t${i}.logits`);
        const ask = {
          hiddenStates: true,
          attentions: true,
          logits: hasLogits ? "all" as const : "last" as const,
          nextTokenStats: true,
          cache: ["blocks.0.mlp.hook_post"],
        };
        const out = await model.run(ids, ask);
        const dh = maxAbsDiff(out.hiddenStates!, golden.getF32(`t${i}.hidden`));
        const da = maxAbsDiff(out.attentions!, golden.getF32(`t${i}.attn`));
        const dl = maxAbsDiff(
          out.logits!,
          golden.getF32(hasLogits ? `t${i}.logits` : `t${i}.logits_last`),
        );
        const want = golden.getF32(`t${i}.logsm_next`);
        const got = out.nextTokenStats!.filter((_, k) => k % 5 === 0).slice(0, want.length);
        const dp = maxAbsDiff(got, want);
        assert(dh <= tol.hidden, `t${i} hidden ${dh}`);
        assert(da <= tol.attn, `t${i} attn ${da}`);
        assert(dl <= tol.logits, `t${i} logits ${dl}`);
        assert(dp <= tol.logp, `t${i} log-probs ${dp}`);
        // the same pass with f32 storage of the f16-rounded weights
        const ref = await twin.run(ids, ask);
        assert(maxAbsDiff(out.hiddenStates!, ref.hiddenStates!) <= 1e-5, `t${i} twin hidden`);
        assert(maxAbsDiff(out.logits!, ref.logits!) <= 1e-5, `t${i} twin logits`);
        assert(maxAbsDiff(out.nextTokenStats!, ref.nextTokenStats!) <= 1e-4, `t${i} twin stats`);
        const post = out.cache.get("blocks.0.mlp.hook_post")!;
        assert(maxAbsDiff(post, ref.cache.get("blocks.0.mlp.hook_post")!) <= 1e-5);
      }
    },
  );
}

Deno.test(
  "f16 weights: random models equal the f32 model of the rounded weights, wte in row chunks",
  opts,
  async () => {
    const base = await testGpu();
    // 32 KiB bindings: the f16 wte [1000, 18] (36,000 bytes) is split in two row chunks
    const gpu = new Gpu(base.device, { ...base.caps, maxStorageBindingBytes: 32768 });
    const config = parseGpt2Config(
      { ...TINY_RANDOM, vocab_size: 1000, n_embd: 18, n_head: 3 },
      "r",
    );
    using model = Gpt2Model.random(gpu, config, 9, { weights: "f16" });
    assertEquals(model.weights.wteChunks.length, 2);
    using twin = await f32Twin(model);
    using plain = Gpt2Model.random(gpu, config, 9);
    const ids = [[1, 500, 999, 7], [3, 4, 998, 0]];
    const ask = { hiddenStates: true, logits: "all" as const, nextTokenStats: true };
    const out = await model.run(ids, ask);
    const ref = await twin.run(ids, ask);
    assert(maxAbsDiff(out.hiddenStates!, ref.hiddenStates!) <= 1e-5);
    assert(maxAbsDiff(out.logits!, ref.logits!) <= 1e-5);
    // the same seed's f32 weights, before rounding: close, not equal
    const f32 = await plain.run(ids, ask);
    const d = maxAbsDiff(out.hiddenStates!, f32.hiddenStates!);
    assert(d > 0 && d < 1e-2, `f16 vs f32 random weights: ${d}`);
    assertThrows(
      // deno-lint-ignore no-explicit-any
      () => Gpt2Model.random(gpu, config, 9, { weights: "bf16" as any }),
      InvalidArgumentError,
      "f16",
    );
    await assertRejects(
      // deno-lint-ignore no-explicit-any
      () => Gpt2Model.load(gpu, "default", { offline: true, weights: "f8" as any }),
      InvalidArgumentError,
    );
  },
);

Deno.test("a damaged cached download names the cache folder to delete", opts, async () => {
  const gpu = await testGpu();
  const cacheDir = await Deno.makeTempDir();
  try {
    const repo = `${cacheDir}/models--test-org--tiny-gpt2`;
    const commit = "0123456789abcdef0123456789abcdef01234567";
    const snap = `${repo}/snapshots/${commit}`;
    await Deno.mkdir(`${repo}/refs`, { recursive: true });
    await Deno.mkdir(snap, { recursive: true });
    await Deno.writeTextFile(`${repo}/refs/main`, commit);
    await Deno.copyFile(`${FIX}tiny-gpt2/config.json`, `${snap}/config.json`);
    const st = await Deno.readFile(`${FIX}tiny-gpt2/model.safetensors`);
    await Deno.writeFile(`${snap}/model.safetensors`, st.subarray(0, st.length >> 1)); // truncated
    const e = await assertRejects(
      () => Gpt2Model.load(gpu, "test-org/tiny-gpt2", { cacheDir, offline: true }),
      FormatError,
    );
    assert(e.hint.includes(`delete the folder "${repo}"`), e.hint);
    // A damaged local folder keeps the file's own hint.
    const local = await assertRejects(() => Gpt2Model.load(gpu, snap), FormatError);
    assert(!local.hint.includes("cached download"), local.hint);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});
