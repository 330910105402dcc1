// Model kernels against their CPU references: random shapes (not multiples of any tile),
// extreme values. Tolerances: float32 accumulation over K terms of magnitude ~1 gives errors of
// order K * 2^-24 relative; 1e-4 absolute covers K <= 4096 at these magnitudes.
import { assert, assertEquals } from "./helpers/assert.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import {
  add,
  attention,
  attentionFromPattern,
  gelu,
  layerNorm,
  logSoftmax,
  matmul,
  scale,
  tokenStats,
} from "../src/tensor/ops.ts";
import { attentionRef, geluNewRef, layerNormRef, matmulRef } from "../src/tensor/reference.ts";
import { maxAbsDiff, randn, rng, testGpu } from "./helpers/gpu.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "matmul() variants match the CPU reference on odd shapes, with bias and gelu",
  opts,
  async () => {
    const gpu = await testGpu();
    const r = rng(1);
    for (let trial = 0; trial < 12; trial++) {
      const variant = trial < 6 ? "simple" : "tiled";
      const big = trial >= 9; // several 128-wide tiles with ragged edges
      const M = 1 + Math.floor(r() * (big ? 300 : 70)),
        K = 1 + Math.floor(r() * (big ? 150 : 90)),
        N = 1 + Math.floor(r() * (big ? 300 : 75));
      const transposeW = trial % 2 === 1;
      const x = randn(M * K, 10 + trial), w = randn(K * N, 20 + trial), b = randn(N, 30 + trial);
      const gel = trial % 3 === 0;
      const y = matmul(
        Tensor.from(gpu, x, [M, K]),
        Tensor.from(gpu, w, transposeW ? [N, K] : [K, N]),
        { bias: Tensor.from(gpu, b), gelu: gel, transposeW, variant },
      );
      assertEquals(y.shape, [M, N]);
      const got = await y.read();
      const want = matmulRef(x, w, M, K, N, { bias: b, gelu: gel, transposeW });
      const d = maxAbsDiff(got, want);
      assert(d < 1e-4, `${variant} M=${M} K=${K} N=${N}: max diff ${d}`);
    }
  },
);

Deno.test("matmul() writes a column block of a wider output", opts, async () => {
  const gpu = await testGpu();
  const M = 5, K = 7, N = 3, ldc = 11;
  const x = randn(M * K, 1), w = randn(N * K, 2);
  const out = Tensor.from(gpu, new Float32Array(M * ldc), [M, ldc]);
  matmul(Tensor.from(gpu, x, [M, K]), Tensor.from(gpu, w, [N, K]), {
    transposeW: true,
    out,
    outRowStride: ldc,
    outColumn: 6,
  });
  const got = await out.read();
  const want = matmulRef(x, w, M, K, N, { transposeW: true });
  for (let m = 0; m < M; m++) {
    for (let c = 0; c < ldc; c++) {
      const v = c >= 6 && c < 9 ? want[m * N + c - 6] : 0;
      assert(Math.abs(got[m * ldc + c] - v) < 1e-5);
    }
  }
});

Deno.test("layerNorm() matches the reference, also for constant and huge rows", opts, async () => {
  const gpu = await testGpu();
  for (const [rows, D] of [[3, 64], [7, 129], [2, 1600], [1, 1]]) {
    const x = randn(rows * D, rows + D, 3);
    x[0] = 1e4; // an outlier
    const g = randn(D, 5), b = randn(D, 6);
    const got = await layerNorm(
      Tensor.from(gpu, x, [rows, D]),
      Tensor.from(gpu, g),
      Tensor.from(gpu, b),
    )
      .read();
    const d = maxAbsDiff(got, layerNormRef(x, g, b, D));
    assert(d < 1e-4, `rows=${rows} D=${D}: ${d}`);
  }
  const c = new Float32Array(100).fill(3.5);
  const got = await layerNorm(
    Tensor.from(gpu, c, [1, 100]),
    Tensor.from(gpu, new Float32Array(100).fill(1)),
    Tensor.from(gpu, new Float32Array(100).fill(0.25)),
  ).read();
  assert(got.every((v) => Math.abs(v - 0.25) < 1e-6), "constant row normalises to the bias");
});

Deno.test("gelu(), add(), scale() elementwise, with extreme values", opts, async () => {
  const gpu = await testGpu();
  const x = randn(1000, 7, 6);
  x.set([0, -0, 50, -50, 1e6, -1e6, 88, -88]);
  const got = await gelu(Tensor.from(gpu, x)).read();
  for (let i = 0; i < x.length; i++) {
    const want = geluNewRef(x[i]);
    assert(
      Math.abs(got[i] - want) <= 1e-5 * Math.max(1, Math.abs(want)),
      `gelu(${x[i]})=${got[i]}`,
    );
  }
  const a = randn(3 * 5 * 7, 8), b = randn(5 * 7, 9);
  const s = await add(Tensor.from(gpu, a, [3, 5, 7]), Tensor.from(gpu, b, [5, 7])).read();
  for (let i = 0; i < a.length; i++) assert(Math.abs(s[i] - (a[i] + b[i % 35])) < 1e-6);
  const sc = await scale(Tensor.from(gpu, a), 0.8).read();
  for (let i = 0; i < a.length; i++) assert(Math.abs(sc[i] - Math.fround(0.8 * a[i])) < 1e-6);
});

Deno.test(
  "attention() matches the reference; masked probabilities are exactly 0",
  opts,
  async () => {
    const gpu = await testGpu();
    for (const [B, T, D, H] of [[1, 1, 8, 2], [2, 13, 64, 4], [3, 70, 96, 3], [1, 130, 32, 1]]) {
      const qkv = randn(B * T * 3 * D, B * T + D, 2);
      const pattern = Tensor.empty(gpu, [B, H, T, T]);
      const zT = attention(Tensor.from(gpu, qkv, [B, T, 3 * D]), { heads: H, pattern });
      const [z, p] = [await zT.read(), await pattern.read()];
      const ref = attentionRef(qkv, B, T, D, H);
      assert(maxAbsDiff(z, ref.z) < 1e-5, `z B=${B} T=${T}`);
      assert(maxAbsDiff(p, ref.pattern) < 1e-6, `pattern B=${B} T=${T}`);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) assertEquals(p[i * T + j], 0);
      const z2 = await attentionFromPattern(Tensor.from(gpu, qkv, [B, T, 3 * D]), pattern, {
        heads: H,
      })
        .read();
      assert(maxAbsDiff(z2, ref.z) < 1e-5);
    }
    // huge scores: stable softmax gives one-hot rows, never NaN
    const T = 4, D = 4;
    const qkv = new Float32Array(T * 3 * D).fill(1e3);
    const z = await attention(Tensor.from(gpu, qkv, [1, T, 3 * D]), { heads: 1 }).read();
    assert(z.every(Number.isFinite));
  },
);

Deno.test(
  "logSoftmax() and tokenStats() are stable for huge logits and odd widths",
  opts,
  async () => {
    const gpu = await testGpu();
    const V = 50257, R = 3;
    const x = randn(R * V, 3, 10);
    x[5] = 1e30; // row 0 dominated by one logit
    x[V + 7] = -1e30;
    const xs = Tensor.from(gpu, x, [R, V]);
    const ls = await logSoftmax(xs, { temperature: 0.7 }).read();
    const targets = new Uint32Array([5, 11, 0xffffffff]);
    const st = await tokenStats(xs, Tensor.from(gpu, targets), { temperature: 0.7 }).read();
    for (let r = 0; r < R; r++) {
      let m = -Infinity;
      for (let j = 0; j < V; j++) m = Math.max(m, x[r * V + j] / 0.7);
      let s = 0, sx = 0;
      for (let j = 0; j < V; j++) {
        const e = Math.exp(x[r * V + j] / 0.7 - m);
        s += e;
        sx += e * (x[r * V + j] / 0.7 - m);
      }
      const lse = m + Math.log(s);
      for (const j of [0, 5, 7, 11, V - 1]) {
        const want = x[r * V + j] / 0.7 - lse;
        assert(
          Math.abs(ls[r * V + j] - want) <= 1e-4 * Math.max(1, Math.abs(want)),
          `r${r} j${j}: ${ls[r * V + j]} vs ${want}`,
        );
      }
      const ent = Math.log(s) - sx / s;
      assert(Math.abs(st[r * 5 + 2] - ent) < 1e-3, `entropy r${r}: ${st[r * 5 + 2]} vs ${ent}`);
      if (r < 2) {
        const t = targets[r];
        let above = 0;
        for (let j = 0; j < V; j++) if (x[r * V + j] > x[r * V + t]) above++;
        assertEquals(st[r * 5 + 1], above + 1);
        const want = x[r * V + t] / 0.7 - lse;
        assert(Math.abs(st[r * 5] - want) <= 1e-4 * Math.max(1, Math.abs(want)));
      } else assertEquals(st[r * 5 + 1], 0);
    }
    assertEquals(st[1], 1); // the dominant logit is ranked first
    assert(Math.abs(st[0]) < 1e-6);
  },
);
