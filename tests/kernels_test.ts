// Model kernels against their CPU references: random shapes (not multiples of any tile),
// extreme values. Tolerances: float32 accumulation over K terms of magnitude ~1 gives errors of
// order K * 2^-24 relative; 1e-4 absolute covers K <= 4096 at these magnitudes.
import { assert, assertEquals, assertThrows } from "./helpers/assert.ts";
import { type Dispatch, Gpu } from "../src/gpu/context.ts";
import { MATMUL_KERNELS, unrollMarkedLoops } from "../src/tensor/kernels.ts";
import { InvalidArgumentError } from "../src/errors.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import {
  add,
  attention,
  attentionFromPattern,
  gelu,
  getReductionVariant,
  layerNorm,
  logSoftmax,
  matmul,
  type MatmulVariant,
  type ReductionVariant,
  scale,
  setReductionVariant,
  tokenStats,
  usesSubgroupReductions,
} from "../src/tensor/ops.ts";
import { attentionRef, geluNewRef, layerNormRef, matmulRef } from "../src/tensor/reference.ts";
import { maxAbsDiff, randn, rng, testGpu } from "./helpers/gpu.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("unrollMarkedLoops() copies a marked constant loop per step, and refuses others", () => {
  const src = [
    "fn f() {",
    "  // unroll",
    "  for (var kk = 0u; kk < 3u; kk = kk + 1u) {",
    "    let v = x[kk * 4u] + kkk;",
    "  }",
    "  for (var j = 0u; j < 2u; j = j + 1u) { y(j); }",
    "}",
  ].join("\n");
  const out = unrollMarkedLoops(src).split("\n");
  assertEquals(out.slice(1, 10), [
    "  {  // kk = 0",
    "    let v = x[0u * 4u] + kkk;",
    "  }",
    "  {  // kk = 1",
    "    let v = x[1u * 4u] + kkk;",
    "  }",
    "  {  // kk = 2",
    "    let v = x[2u * 4u] + kkk;",
    "  }",
  ]);
  assertEquals(out[10], "  for (var j = 0u; j < 2u; j = j + 1u) { y(j); }"); // unmarked: kept
  assertThrows(() => unrollMarkedLoops("// unroll\nfor (var i = 0u; i < p.n; i++) {\n}"), Error);
  const loop = (body: string) => `// unroll\nfor (var i = 0u; i < 2u; i = i + 1u) {\n${body}\n}`;
  assertThrows(() => unrollMarkedLoops(loop("  if (x[i] > 0.0) { break; }")), Error, "break");
  assertEquals(unrollMarkedLoops(loop("  s.i = a_i + i;")).split("\n")[1], "  s.i = a_i + 0u;");
  assertEquals(
    unrollMarkedLoops(loop("  y(i);").replaceAll("\n", "\r\n")),
    "{  // i = 0\n  y(0u);\n}\n{  // i = 1\n  y(1u);\n}",
  );
  assertEquals(unrollMarkedLoops("// unrolled by hand\nx();"), "// unrolled by hand\nx();");
  for (const k of [MATMUL_KERNELS.tiled[0], MATMUL_KERNELS.tiledPfV4[1]]) {
    assert(!k.code.includes("for (var kk") && k.code.includes("// kk = 7"), k.name);
  }
});

Deno.test(
  "matmul() variants match the CPU reference on odd shapes, with bias and gelu",
  opts,
  async () => {
    const gpu = await testGpu();
    const r = rng(1);
    const variants = ["simple", "ksplit", "tiled", "tiled_pf"] as const;
    for (let trial = 0; trial < 24; trial++) {
      const variant = variants[Math.floor(trial / 6)];
      const big = trial % 6 >= 3; // several 128-wide tiles with ragged edges
      // Whole vec4 rows (K and N multiples of 4): the tiled kernels' vec4-load twins.
      const whole = (
        v: number,
      ) => (variant.startsWith("tiled") && trial % 3 !== 0 ? v + (-v & 3) : v);
      const M = 1 + Math.floor(r() * (big ? 300 : 70)),
        K = whole(1 + Math.floor(r() * (big ? 150 : 90))),
        N = whole(1 + Math.floor(r() * (big ? 300 : 75)));
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

Deno.test(
  "tiled (vec4 and scalar loads) and K-split matmul: ragged tiles, short K, extreme magnitudes",
  opts,
  async () => {
    const gpu = await testGpu();
    // [M, K, N, transposeW]: K below one tile depth, K = one vec4, ragged M and N edges, NT with
    // an odd N (vec4 loads along K only), and the scalar twins (K or N not a multiple of 4).
    const cases: [number, number, number, boolean][] = [
      [130, 4, 132, false],
      [130, 12, 132, true],
      [257, 36, 131, true],
      [3, 260, 260, false],
      [129, 20, 129, false], // N % 4 != 0: scalar loads
      [70, 18, 136, true], // K % 4 != 0: scalar loads
    ];
    for (const variant of ["ksplit", "tiled", "tiled_pf"] as const) {
      for (const [i, [M, K, N, transposeW]] of cases.entries()) {
        // Magnitudes from 1e-18 to 1e18 per row / column (products stay inside f32's range).
        const x = randn(M * K, 40 + i).map((v, j) => v * 10 ** (18 * Math.sin(Math.floor(j / K))));
        const w = randn(K * N, 50 + i).map((v, j) => v * 10 ** (-9 * Math.cos(j % 7)));
        const wt = Tensor.from(gpu, w, transposeW ? [N, K] : [K, N]);
        const got = await matmul(Tensor.from(gpu, x, [M, K]), wt, { transposeW, variant }).read();
        const want = matmulRef(x, w, M, K, N, { transposeW });
        // f32 accumulation of K terms errs by at most ~K * 2^-24 * sum |x w| (any order).
        const mag = matmulRef(x.map(Math.abs), w.map(Math.abs), M, K, N, { transposeW });
        const at = `${variant} ${M}x${K}x${N}${transposeW ? " NT" : ""}`;
        for (let j = 0; j < got.length; j++) {
          const d = Math.abs(got[j] - want[j]);
          assert(d <= K * 1.2e-7 * mag[j], `${at} [${j}]: ${got[j]} vs ${want[j]}`);
        }
      }
    }
  },
);

Deno.test(
  "matmul({ accumulate }) adds into out exactly like a separate add(), every variant",
  opts,
  async () => {
    const base = await testGpu();
    // lavapipe's subgroup path (vec4 shapes) and scalar path (odd shapes); the hardware simple
    // kernel (matmul.wgsl); the tiled kernel; f16 weights.
    const hw = new Gpu(base.device, { ...base.caps, isFallbackAdapter: false });
    const cases: [Gpu, MatmulVariant, number, number, number, boolean][] = [
      [base, "simple", 37, 64, 72, false],
      [base, "ksplit", 37, 63, 71, false],
      [base, "ksplit", 37, 64, 72, true],
      [base, "simple", 37, 63, 71, false],
      [hw, "simple", 37, 63, 71, false],
      [base, "tiled", 150, 33, 130, false],
      [base, "tiled_pf", 150, 33, 130, false],
      [base, "tiled_pf", 130, 40, 150, true],
      [base, "simple", 37, 64, 72, true],
      [hw, "simple", 21, 30, 70, true],
    ];
    for (const [gpu, variant, M, K, N, f16] of cases) {
      const x = Tensor.from(gpu, randn(M * K, M), [M, K]);
      const wv = randn(K * N, K);
      const w = f16 ? Tensor.fromF16(gpu, wv, [K, N]) : Tensor.from(gpu, wv, [K, N]);
      const b = Tensor.from(gpu, randn(N, N));
      const resid = randn(M * N, 7, 100);
      const y = matmul(x, w, { bias: b, variant });
      const want = await add(Tensor.from(gpu, resid, [M, N]), y).read();
      const out = Tensor.from(gpu, resid, [M, N]);
      matmul(x, w, { bias: b, variant, out, accumulate: true });
      const got = await out.read();
      const label = `${gpu === hw ? "hw " : ""}${variant}${f16 ? " f16" : ""} ${M}x${K}x${N}`;
      for (let i = 0; i < got.length; i++) {
        assert(Object.is(got[i], want[i]), `${label}: [${i}] ${got[i]} vs ${want[i]}`);
      }
    }
    assertThrows(
      () =>
        matmul(Tensor.from(base, randn(4, 1), [2, 2]), Tensor.from(base, randn(4, 2), [2, 2]), {
          accumulate: true,
        }),
      InvalidArgumentError,
      "accumulate",
    );
    // One launch cannot read and write a buffer: refused when recorded, not at the next flush.
    const sq = Tensor.from(base, randn(4, 3), [2, 2]);
    assertThrows(
      () => matmul(sq, Tensor.from(base, randn(4, 4), [2, 2]), { out: sq, accumulate: true }),
      InvalidArgumentError,
      "shares a GPU buffer",
    );
  },
);

Deno.test("matmul() of an empty output writes nothing, every variant", opts, async () => {
  const gpu = await testGpu();
  for (const variant of ["simple", "ksplit", "tiled", "tiled_pf", "auto"] as const) {
    for (const [M, K, N] of [[0, 8, 8], [2, 8, 0], [0, 4, 0]]) {
      for (const f16 of [false, true]) {
        const x = Tensor.from(gpu, new Float32Array(M * K), [M, K]);
        const wv = new Float32Array(K * N);
        const w = f16 ? Tensor.fromF16(gpu, wv, [K, N]) : Tensor.from(gpu, wv, [K, N]);
        const y = matmul(x, w, { variant });
        assertEquals([y.shape, (await y.read()).length], [[M, N], 0], `${variant} ${M}x${K}x${N}`);
      }
    }
  }
});

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

// The two kernels matmul() uses on CPU adapters, each forced through the capabilities (so this
// runs on any device): matmul_subgroup.wgsl (K % 4 == 0, and N % 4 == 0 for [K, N] weights;
// 32 x 64 workgroup tiles) and matmul.wgsl (scalar loads) for every other shape. Shapes sit on the
// boundaries of the fast path's tiles and conditions; the kernel launched is checked too (both
// report the name "matmul" to profiles).
Deno.test(
  "matmul() on CPU adapters: vec4/subgroup fast path and scalar fallback",
  opts,
  async () => {
    const base = await testGpu();
    const contexts: [string, Gpu][] = [
      ["scalar", new Gpu(base.device, { ...base.caps, isFallbackAdapter: true, subgroups: false })],
    ];
    // Subgroups of fewer than 8 lanes (llvmpipe at 128 bits, SwiftShader, WARP) cannot hand out
    // 8 rows of A by subgroupBroadcast: the scalar kernel must run there.
    const fastOk = base.caps.subgroups && base.caps.subgroupMinSize >= 8;
    if (base.caps.subgroups) {
      contexts.push(["subgroup", new Gpu(base.device, { ...base.caps, isFallbackAdapter: true })]);
    }
    if (!fastOk) {
      console.warn(`no subgroups of 8+ on ${base.caps.description}: fast path not tested`);
    }
    // A hardware adapter never takes the CPU fast path (simple variant forced: matmul.wgsl).
    const hw = new Gpu(base.device, {
      ...base.caps,
      isFallbackAdapter: false,
      subgroupMinSize: 32,
    });
    hw.matmulVariant = "simple";
    contexts.push(["hardware", hw]);
    // [M, K, N, transposeW]
    const cases: [number, number, number, boolean][] = [
      [1, 1, 1, false], // tiny, scalar
      [1, 1, 1, true],
      [1, 4, 4, false], // tiny, fast
      [1, 4, 1, true],
      [3, 5, 8, false], // K % 4 != 0
      [33, 7, 65, true],
      [9, 3, 64, false],
      [31, 8, 60, false], // one row tile, partial
      [32, 12, 64, false], // exactly one 32 x 64 tile
      [33, 16, 68, false], // one row / 4 columns past a tile
      [65, 100, 132, false],
      [8, 8, 67, false], // N % 4 != 0 with [K, N] weights: scalar
      [32, 8, 63, true], // [N, K] weights: any N
      [33, 4, 65, true],
      [64, 64, 129, true],
      [70, 768, 5, true],
    ];
    const launched: Dispatch[] = [];
    for (const [name, gpu] of contexts) {
      const dispatch = gpu.dispatch.bind(gpu);
      gpu.dispatch = (d) => (launched.push(d), dispatch(d));
      for (const [i, [M, K, N, transposeW]] of cases.entries()) {
        const x = randn(M * K, 40 + i), w = randn(K * N, 60 + i), b = randn(N, 80 + i);
        const gel = i % 2 === 0;
        const y = matmul(
          Tensor.from(gpu, x, [M, K]),
          Tensor.from(gpu, w, transposeW ? [N, K] : [K, N]),
          { bias: Tensor.from(gpu, b), gelu: gel, transposeW },
        );
        const got = await y.read();
        const want = matmulRef(x, w, M, K, N, { bias: b, gelu: gel, transposeW });
        const d = maxAbsDiff(got, want);
        const at = `${name} M=${M} K=${K} N=${N}${transposeW ? " (B^T)" : ""}`;
        assert(d < 1e-4, `${at}: max diff ${d}`);
        const fast = name === "subgroup" && fastOk && K % 4 === 0 && (transposeW || N % 4 === 0);
        const kernel = fast
          ? MATMUL_KERNELS.subgroup[transposeW ? 1 : 0]
          : MATMUL_KERNELS.plain[transposeW ? 1 : 0];
        assertEquals(launched.splice(0).map((d) => d.kernel), [kernel], at);
      }
      // a column block of a wider output, through the fast path where there is one
      for (const transposeW of [false, true]) {
        const M = 33, K = 8, N = 8, ldc = 21, col = 11;
        const x = randn(M * K, 3), w = randn(N * K, 4);
        const out = Tensor.from(gpu, new Float32Array(M * ldc), [M, ldc]);
        matmul(Tensor.from(gpu, x, [M, K]), Tensor.from(gpu, w, transposeW ? [N, K] : [K, N]), {
          transposeW,
          out,
          outRowStride: ldc,
          outColumn: col,
        });
        launched.length = 0;
        const got = await out.read();
        const want = matmulRef(x, w, M, K, N, { transposeW });
        for (let m = 0; m < M; m++) {
          for (let c = 0; c < ldc; c++) {
            const v = c >= col && c < col + N ? want[m * N + c - col] : 0;
            assert(Math.abs(got[m * ldc + c] - v) < 1e-5, `${name} column block at ${m}, ${c}`);
          }
        }
      }
    }
  },
);

// Every reduction kernel (layer norm, log-softmax, token stats) under both variants, each on its
// own context with a 3-workgroup dispatch limit: rows spread over a 2-D grid with inactive
// workgroups at the end, which must exit without breaking the reductions of the others.
async function reductionContexts(): Promise<[ReductionVariant, Gpu][]> {
  const base = await testGpu();
  const out: [ReductionVariant, Gpu][] = [];
  for (const v of ["workgroup", "subgroup"] as const) {
    if (v === "subgroup" && !base.caps.subgroups) {
      console.warn(`no subgroups on ${base.caps.description}: subgroup variant not tested`);
      continue;
    }
    const gpu = new Gpu(base.device, { ...base.caps, maxWorkgroupsPerDimension: 3 });
    setReductionVariant(gpu, v);
    out.push([v, gpu]);
  }
  return out;
}

Deno.test("layerNorm() matches the reference, also for constant and huge rows", opts, async () => {
  for (const [variant, gpu] of await reductionContexts()) {
    const shapes = [[3, 64], [7, 129], [2, 1600], [1, 1], [5, 7], [2, 50257]];
    // Subgroup-per-row kernel: several rows per workgroup, partial last block, 2-D grid (the
    // context allows 3 workgroups per dimension, so at most 9 rows with a workgroup per row).
    if (variant === "subgroup") {
      const rpw = Math.max(1, Math.floor(64 / (gpu.caps.subgroupMaxSize || 64)));
      shapes.push([4 * rpw + 1, 129], [9 * rpw, 64]);
    }
    for (const [rows, D] of shapes) {
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
      assert(d < 1e-4, `${variant} rows=${rows} D=${D}: ${d}`);
    }
    for (const D of [1, 7, 100, 1600]) {
      const c = new Float32Array(4 * D).fill(3.5);
      const got = await layerNorm(
        Tensor.from(gpu, c, [4, D]),
        Tensor.from(gpu, new Float32Array(D).fill(1)),
        Tensor.from(gpu, new Float32Array(D).fill(0.25)),
      ).read();
      assert(
        got.every((v) => Math.abs(v - 0.25) < 1e-6),
        `${variant} D=${D}: constant rows normalise to the bias`,
      );
    }
    assertEquals(getReductionVariant(gpu), variant);
    gpu.pool.clear();
  }
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
  "flash attention() matches the reference on odd shapes, huge and all-equal scores",
  opts,
  async () => {
    const gpu = await testGpu();
    const r = rng(42);
    const flash = (qkv: Float32Array, B: number, T: number, D: number, H: number, s?: number) =>
      attention(Tensor.from(gpu, qkv, [B, T, 3 * D]), { heads: H, scale: s, variant: "flash" })
        .read();
    // random shapes: T not a multiple of the 64-query block or of the key tile, several blocks
    let n = 0;
    for (const T of [1, 2, 17, 64, 65, 130, 300]) {
      for (const dh of [16, 32, 64, ...(T === 130 ? [80, 128] : [])]) {
        const B = 1 + Math.floor(r() * 3), H = 1 + Math.floor(r() * 4), D = H * dh;
        const qkv = randn(B * T * 3 * D, 1000 + n++, 2);
        const ref = attentionRef(qkv, B, T, D, H);
        const d = maxAbsDiff(await flash(qkv, B, T, D, H), ref.z);
        assert(d < 1e-5, `B=${B} T=${T} dh=${dh} H=${H}: ${d}`);
      }
    }
    // huge scores (logits ~1e3, gaps >= 32 between distinct ones): integer q and k and a
    // power-of-two scale, so ties are exact; the running max jumps by ~1e3 and exp(m_old - m_new) underflows to 0 without NaN
    {
      const [B, T, H, dh] = [2, 150, 2, 16], D = H * dh;
      const qkv = randn(B * T * 3 * D, 7);
      for (let k = 0; k < qkv.length; k++) {
        if (k % (3 * D) < 2 * D) qkv[k] = Math.round(qkv[k] * 2.49);
      }
      const ref = attentionRef(qkv, B, T, D, H, 32);
      const z = await flash(qkv, B, T, D, H, 32);
      assert(z.every(Number.isFinite));
      const d = maxAbsDiff(z, ref.z);
      assert(d < 1e-5, `huge scores: ${d}`);
      const big = new Float32Array(B * T * 3 * D).fill(1e3); // all-equal logits of 1.6e7
      assert((await flash(big, B, T, D, H)).every((v) => Math.abs(v - 1e3) < 1e-3));
    }
    // all-equal scores (q = 0): z_i is the mean of v_0 .. v_i
    {
      const [B, T, H, dh] = [1, 200, 3, 32], D = H * dh;
      const qkv = randn(B * T * 3 * D, 9);
      for (let k = 0; k < qkv.length; k++) if (k % (3 * D) < D) qkv[k] = 0;
      const d = maxAbsDiff(await flash(qkv, B, T, D, H), attentionRef(qkv, B, T, D, H).z);
      assert(d < 1e-5, `all-equal scores: ${d}`);
    }
  },
);

// Head sizes whose pipeline constants differ from GPT-2's (DH4 = dh / 4, BK = min(64, 512 / DH4)):
// tile loads that do not divide the 64 invocations evenly (BK * DH4 = 64, 192, 320, 500), key
// tiles of 20 and 25 (not dividing the 64-query block), and the largest head (DH4 = 32, BK 16).
Deno.test("flash attention() at head sizes 4, 12, 20, 80, 100 and 128", opts, async () => {
  const gpu = await testGpu();
  let n = 0;
  for (const dh of [4, 12, 20, 80, 100, 128]) {
    for (const T of [1, 25, 64, 65, 131]) {
      const B = 1 + (n % 2), H = 1 + (n % 3), D = H * dh;
      const qkv = randn(B * T * 3 * D, 5000 + n++, 2);
      const z = await attention(Tensor.from(gpu, qkv, [B, T, 3 * D]), {
        heads: H,
        variant: "flash",
      })
        .read();
      const d = maxAbsDiff(z, attentionRef(qkv, B, T, D, H).z);
      assert(d < 1e-5, `B=${B} T=${T} dh=${dh} H=${H}: ${d}`);
    }
  }
});

Deno.test(
  "attention() picks the flash kernel only when no pattern is asked for",
  opts,
  async () => {
    const base = await testGpu();
    if (!base.caps.timestamps) return; // kernel names come from the profiler
    const kernelOf = async (gpu: Gpu, T: number, pattern: boolean, dh = 16) => {
      const qkv = Tensor.from(gpu, randn(T * 3 * 2 * dh, 5), [1, T, 3 * 2 * dh]);
      const p = pattern ? Tensor.empty(gpu, [1, 2, T, T]) : undefined;
      gpu.startProfile();
      attention(qkv, { heads: 2, pattern: p });
      const [t] = await gpu.stopProfile();
      return t.name;
    };
    const hw = new Gpu(base.device, { ...base.caps, isFallbackAdapter: false });
    const sw = new Gpu(base.device, { ...base.caps, isFallbackAdapter: true });
    assertEquals(await kernelOf(hw, 64, false), "attention_flash");
    assertEquals(await kernelOf(hw, 63, false), "attention");
    assertEquals(await kernelOf(hw, 64, true), "attention");
    assertEquals(await kernelOf(sw, 3, false), "attention_flash"); // CPU adapters: always flash
    assertEquals(await kernelOf(hw, 64, false, 6), "attention"); // head size not a multiple of 4
    sw.attentionVariant = "row";
    assertEquals(await kernelOf(sw, 64, false), "attention");
    sw.attentionVariant = "flash";
    assertEquals(await kernelOf(sw, 3, true), "attention"); // a pattern always needs the row kernel
    hw.attentionVariant = "row";
    assertEquals(await kernelOf(hw, 128, false), "attention");
  },
);

/**
 * logSoftmax() (log-probabilities and probabilities) and tokenStats() of R x V logits against a
 * float64 reference.
 */
async function checkSoftmax(
  gpu: Gpu,
  label: string,
  x: Float32Array,
  R: number,
  V: number,
  targets: Uint32Array,
  t: number,
): Promise<void> {
  const xs = Tensor.from(gpu, x, [R, V]);
  const ls = await logSoftmax(xs, { temperature: t }).read();
  const ps = await logSoftmax(xs, { temperature: t, probabilities: true }).read();
  const st = await tokenStats(xs, Tensor.from(gpu, targets), { temperature: t }).read();
  // The kernels scale by the float32 1 / t: use the same float32 scaled logits (a 1e-7
  // relative change that matters for rows of extreme logits, where x' - lse cancels).
  const inv = Math.fround(1 / t);
  for (let r = 0; r < R; r++) {
    const row = x.subarray(r * V, (r + 1) * V).map((v) => v * inv); // Float32Array: rounded
    let m = -Infinity;
    for (let j = 0; j < V; j++) m = Math.max(m, row[j]);
    let s = 0, sx = 0;
    for (let j = 0; j < V; j++) {
      const e = Math.exp(row[j] - m);
      s += e;
      sx += e * (row[j] - m);
    }
    const lse = m + Math.log(s);
    let dl = 0, dp = 0;
    for (let j = 0; j < V; j++) {
      const want = row[j] - lse;
      dl = Math.max(dl, Math.abs(ls[r * V + j] - want) / Math.max(1, Math.abs(want)));
      dp = Math.max(dp, Math.abs(ps[r * V + j] - Math.exp(want)));
    }
    assert(dl <= 1e-4, `${label} r${r}: log-softmax relative error ${dl}`);
    assert(dp <= 1e-5, `${label} r${r}: softmax error ${dp}`);
    const ent = Math.log(s) - sx / s;
    const o = r * 5;
    assert(Math.abs(st[o + 2] - ent) < 1e-3, `${label} entropy r${r}: ${st[o + 2]} vs ${ent}`);
    assert(Math.abs(st[o + 3] - m) <= 1e-4 * Math.max(1, Math.abs(m)), `${label} max r${r}`);
    assert(Math.abs(st[o + 4] - lse) <= 1e-4 * Math.max(1, Math.abs(lse)), `${label} lse r${r}`);
    const tg = targets[r];
    if (tg < V) {
      let above = 0;
      for (let j = 0; j < V; j++) if (row[j] > row[tg]) above++;
      assertEquals(st[o + 1], above + 1, `${label} rank r${r}`);
      const want = row[tg] - lse;
      assert(
        Math.abs(st[o] - want) <= 1e-4 * Math.max(1, Math.abs(want)),
        `${label} log p(target) r${r}: ${st[o]} vs ${want}`,
      );
    } else {
      assertEquals(st[o + 1], 0, `${label} r${r}: no target`);
      assertEquals(st[o], 0);
    }
  }
}

Deno.test(
  "logSoftmax() and tokenStats() are stable for huge logits, constant rows and odd widths",
  opts,
  async () => {
    for (const [variant, gpu] of await reductionContexts()) {
      for (const V of [1, 7, 129, 1600, 50257]) {
        const R = 5; // over a 3 x 2 grid: one inactive workgroup
        const x = randn(R * V, V + 3, 10);
        const hot = Math.min(5, V - 1), cold = Math.min(7, V - 1);
        x[hot] = 1e30; // row 0 dominated by one logit
        x[V + cold] = -1e30;
        x.fill(2.5, 2 * V, 3 * V); // a constant row
        x.set(randn(V, V + 4, 1e30), 3 * V); // extreme logits throughout
        const targets = new Uint32Array([hot, Math.min(11, V - 1), V - 1, 0xffffffff, 0]);
        for (const t of [0.7, 1]) {
          await checkSoftmax(gpu, `${variant} V=${V} t=${t}`, x, R, V, targets, t);
        }
        const st = await tokenStats(Tensor.from(gpu, x, [R, V]), Tensor.from(gpu, targets), {
          temperature: 0.7,
        }).read();
        assertEquals(st[1], 1, `${variant} V=${V}: the dominant logit is ranked first`);
        assert(Math.abs(st[0]) < 1e-6);
        assertEquals(st[11], 1, `${variant} V=${V}: a constant row ranks every token first`);
        assert(Math.abs(st[10] + Math.log(V)) < 1e-5, `${variant} V=${V}: uniform log p`);
        assert(Math.abs(st[12] - Math.log(V)) < 1e-4, `${variant} V=${V}: uniform entropy`);
      }
      gpu.pool.clear();
    }
  },
);

Deno.test("setReductionVariant() refuses subgroups on a device without them", async () => {
  const base = await testGpu();
  const none = new Gpu(base.device, { ...base.caps, subgroups: false });
  assertEquals(usesSubgroupReductions(none), false);
  assertThrows(() => setReductionVariant(none, "subgroup"), InvalidArgumentError);
  setReductionVariant(none, "workgroup");
  assertEquals(usesSubgroupReductions(none), false);
  const some = new Gpu(base.device, { ...base.caps, subgroups: true, subgroupMinSize: 32 });
  assertEquals(usesSubgroupReductions(some), true); // "auto" picks subgroups where they exist
  setReductionVariant(some, "workgroup");
  assertEquals(usesSubgroupReductions(some), false);
});

// Run by tests/subgroup_sizes_test.ts with llvmpipe's vector width changed: the device must have
// the subgroup size that run asked for (else the sweep would test size 8 again and pass).
Deno.test("the device has the subgroup size the test run asked for", async () => {
  const want = Deno.env.get("LAMINAR_TEST_SUBGROUP_SIZE");
  if (!want) return;
  const { caps } = await testGpu();
  assert(caps.subgroups, `${caps.description}: no subgroups`);
  assertEquals([caps.subgroupMinSize, caps.subgroupMaxSize], [Number(want), Number(want)]);
});
