// f16 weight storage: the float32 → half conversion (round to nearest even, subnormals, overflow,
// NaN), the packed row layout (odd rows padded with +0), every matmul variant and the embedding
// gather with packed-f16 weights against the f32 CPU reference applied to the f16-rounded weights.
// Tolerance: the kernels widen each half to the exact f32 value the reference uses and accumulate
// in f32, so the bound is the f32 one of kernels_test.ts (1e-4 absolute at these magnitudes; a
// relative bound for extreme values).
import { assert, assertEquals, assertThrows } from "./helpers/assert.ts";
import { maxAbsDiff, randn, rng, testGpu } from "./helpers/gpu.ts";
import { type Dispatch, Gpu } from "../src/gpu/context.ts";
import { InvalidArgumentError, ShapeError } from "../src/errors.ts";
import { f16BitsToNumber } from "../src/io/safetensors.ts";
import { MATMUL_KERNELS, withF16Weights } from "../src/tensor/kernels.ts";
import { embed, matmul } from "../src/tensor/ops.ts";
import { matmulF16Ref } from "../src/tensor/reference.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import {
  f32ToF16,
  f32ToF16Bits,
  packedF16Bytes,
  packF16Rows,
  roundToF16,
  unpackF16Rows,
} from "../src/tensor/f16.ts";
import { rowChunks } from "../src/model/weights.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** The nearest half to a float32 value, by exact arithmetic on doubles (ties to even). */
function nearestHalf(v: number): number {
  if (Number.isNaN(v) || v === 0) return v;
  const a = Math.abs(v);
  let e = Math.max(-14, Math.floor(Math.log2(a)));
  while (e > -14 && 2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (e - 10); // spacing of halves in [2^e, 2^(e+1)) (and of subnormals)
  const q = a / ulp; // exact: a has 24 significant bits
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  const h = r * ulp;
  return Math.sign(v) * (h > 65504 ? Infinity : h);
}

Deno.test("f32ToF16Bits() rounds to nearest even: subnormals, overflow, NaN, signed zero", () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [65504, 0x7bff], // largest half
    [65519.99, 0x7bff], // just below the midpoint to Infinity
    [65520, 0x7c00], // the midpoint: ties to even overflow to Infinity
    [1e5, 0x7c00],
    [-1e30, 0xfc00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // half of it: a tie, rounds to the even 0
    [-(2 ** -25), 0x8000],
    [Math.fround(2 ** -25 * 1.0000001), 0x0001], // just above the tie
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal steps: even 2
    [1023.5 * 2 ** -24, 0x0400], // tie between the largest subnormal and the smallest normal
    [1 + 2 ** -11, 0x3c00], // tie: even significand
    [1 + 3 * 2 ** -11, 0x3c02],
    [2 ** -26, 0x0000], // below half the smallest subnormal
    [1e-45, 0x0000], // a float32 subnormal
  ];
  for (const [x, want] of cases) {
    assertEquals(f32ToF16Bits(x), want, `f32ToF16Bits(${x}) = 0x${f32ToF16Bits(x).toString(16)}`);
  }
  // NaN stays NaN (quiet), with its sign
  for (const nan of [NaN, -NaN]) {
    const h = f32ToF16Bits(nan);
    assertEquals(h & 0x7c00, 0x7c00);
    assert((h & 0x3ff) !== 0 && (h & 0x200) !== 0, "quiet NaN");
    assert(Number.isNaN(f16BitsToNumber(h)));
  }
  // every half converts back to itself (NaNs aside)
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue;
    const back = f32ToF16Bits(f16BitsToNumber(h));
    if (back !== h) throw new Error(`0x${h.toString(16)} converts back to 0x${back.toString(16)}`);
  }
});

Deno.test("roundToF16() matches exact nearest-even rounding on random float32 bits", () => {
  const r = rng(5);
  const bits = new Uint32Array(200_000);
  for (let i = 0; i < bits.length; i++) {
    // exponents around the half range (subnormal to overflow) and some anywhere
    const anywhere = i % 10 === 0;
    const exp = anywhere ? Math.floor(r() * 256) : 90 + Math.floor(r() * 60);
    bits[i] = ((r() < 0.5 ? 0x80000000 : 0) | (exp << 23) | Math.floor(r() * 0x800000)) >>> 0;
  }
  const values = new Float32Array(bits.buffer);
  const got = roundToF16(values);
  const viaBits = f32ToF16(values);
  for (let i = 0; i < values.length; i++) {
    const want = nearestHalf(values[i]);
    if (!Object.is(got[i], want) && !(Number.isNaN(got[i]) && Number.isNaN(want))) {
      throw new Error(`roundToF16(${values[i]}) = ${got[i]}, expected ${want}`);
    }
    assertEquals(viaBits[i], f32ToF16Bits(values[i]));
  }
});

Deno.test("packed f16 rows: two per u32, odd rows padded with +0, read back unpacked", async () => {
  const bits = f32ToF16([1, 2, 3, 4, 5, 6]); // [2, 3]
  const words = packF16Rows(bits, 3);
  assertEquals(words.length, 4);
  assertEquals(packedF16Bytes([2, 3]), 16);
  assertEquals(packedF16Bytes([2, 4]), 16);
  assertEquals(packedF16Bytes([5]), 12);
  assertEquals(words[0], bits[0] | (bits[1] << 16));
  assertEquals(words[1], bits[2]); // padding half is 0x0000
  assertEquals(words[2], bits[3] | (bits[4] << 16));
  assertEquals(words[3], bits[5]);
  assertEquals([...unpackF16Rows(words, 3)], [1, 2, 3, 4, 5, 6]);

  const gpu = await testGpu();
  const values = new Float32Array([0.1, -2, 65504, 1e-7, 7e4, -0]);
  using t = Tensor.fromF16(gpu, values, [2, 3]);
  assertEquals(t.dtype, "f16");
  assertEquals(t.bytes, 16);
  const back = await t.read();
  assertEquals([...back], [...roundToF16(values)]);
  assertEquals(back[4], Infinity);
  // raw half bits are uploaded unchanged
  using raw = Tensor.fromF16(gpu, f32ToF16(values), [3, 2]);
  assertEquals([...await raw.read()], [...roundToF16(values)]);
  // views keep the packed rows
  assertEquals([...await t.slice(1, 1).read()], [...roundToF16(values.subarray(3))]);
  assertEquals(raw.reshape([1, 6]).bytes, 12);
  assertThrows(() => t.reshape([6]), ShapeError); // odd rows are padded: no flat view
  assertThrows(() => raw.reshape([2, 3]), ShapeError);
  assertThrows(() => Tensor.fromF16(gpu, values, [6]).slice(1, 2), InvalidArgumentError);
  assertThrows(() => Tensor.fromF16(gpu, values, [4, 2]), ShapeError);
  assertEquals(Tensor.empty(gpu, [3, 5], "f16").bytes, 36);
});

Deno.test("withF16Weights() swaps exactly the marked lines, and refuses a mismatch", () => {
  const src = "a\nb  // x (swapped for f16)\nc\nd // (swapped for f16)\n";
  assertEquals(withF16Weights(src, ["B", "D"]), "a\nB\nc\nD\n");
  assertThrows(() => withF16Weights(src, ["B"]), Error);
  const f16Kernels = [
    MATMUL_KERNELS.plain[2],
    MATMUL_KERNELS.tiled[2],
    MATMUL_KERNELS.tiledPfV4[3],
    MATMUL_KERNELS.subgroup[2],
  ];
  for (const k of f16Kernels) {
    assert(k.code.includes("unpack2x16float") && !k.code.includes("array<f32>;  // B"), k.name);
  }
  assert(!MATMUL_KERNELS.plain[0].code.includes("unpack2x16float"), "the f32 kernel is untouched");
});

/**
 * Contexts that force each matmul kernel: CPU-adapter scalar and subgroup paths (through the
 * capabilities, so this runs on any device), the hardware "simple" kernel, "ksplit", "tiled"
 * and "tiled_pf".
 */
async function matmulContexts(): Promise<[string, Gpu][]> {
  const base = await testGpu();
  const out: [string, Gpu][] = [
    ["scalar", new Gpu(base.device, { ...base.caps, isFallbackAdapter: true, subgroups: false })],
  ];
  if (base.caps.subgroups && base.caps.subgroupMinSize >= 8) {
    out.push(["subgroup", new Gpu(base.device, { ...base.caps, isFallbackAdapter: true })]);
  } else console.warn(`no subgroups of 8+ on ${base.caps.description}: fast path not tested`);
  const hw = new Gpu(base.device, { ...base.caps, isFallbackAdapter: false });
  hw.matmulVariant = "simple";
  out.push(["simple", hw]);
  const ks = new Gpu(base.device, base.caps);
  ks.matmulVariant = "ksplit";
  out.push(["ksplit", ks]);
  const tiled = new Gpu(base.device, base.caps);
  tiled.matmulVariant = "tiled";
  out.push(["tiled", tiled]);
  const pf = new Gpu(base.device, base.caps);
  pf.matmulVariant = "tiled_pf";
  out.push(["tiled_pf", pf]);
  return out;
}

function expectedKernel(ctx: string, K: number, N: number, transposeW: boolean) {
  const v4 = K % 4 === 0 && (transposeW || N % 4 === 0);
  const family = ctx === "ksplit"
    ? "ksplit"
    : ctx === "tiled"
    ? (v4 ? "tiledV4" : "tiled")
    : ctx === "tiled_pf"
    ? (v4 ? "tiledPfV4" : "tiledPf")
    : ctx === "subgroup" && v4
    ? "subgroup"
    : "plain";
  return MATMUL_KERNELS[family][(transposeW ? 1 : 0) + 2];
}

Deno.test(
  "matmul() with f16 weights: every variant matches the reference on rounded weights",
  opts,
  async () => {
    const r = rng(11);
    // [M, K, N, transposeW]: tile edges of every kernel, odd N and K (padded rows), and random
    const cases: [number, number, number, boolean][] = [
      [1, 1, 1, false],
      [1, 1, 1, true],
      [3, 5, 7, false], // odd K and N: padded rows of B both ways
      [3, 5, 7, true],
      [33, 16, 68, false], // subgroup fast path, one row / 4 columns past a tile
      [32, 12, 64, true],
      [8, 8, 67, false], // odd N with [K, N] weights
      [9, 7, 64, true], // odd K with [N, K] weights
      [129, 33, 130, false], // past a 128 tile, odd K
      [130, 40, 129, true],
    ];
    for (let i = 0; i < 4; i++) {
      cases.push([
        1 + Math.floor(r() * 150),
        1 + Math.floor(r() * 100),
        1 + Math.floor(r() * 150),
        i % 2 === 1,
      ]);
    }
    const launched: Dispatch[] = [];
    for (const [name, gpu] of await matmulContexts()) {
      const dispatch = gpu.dispatch.bind(gpu);
      gpu.dispatch = (d) => (launched.push(d), dispatch(d));
      for (const [i, [M, K, N, transposeW]] of cases.entries()) {
        const x = randn(M * K, 100 + i), w = randn(K * N, 200 + i), b = randn(N, 300 + i);
        const gel = i % 3 === 0;
        const y = matmul(
          Tensor.from(gpu, x, [M, K]),
          Tensor.fromF16(gpu, w, transposeW ? [N, K] : [K, N]),
          { bias: Tensor.from(gpu, b), gelu: gel, transposeW },
        );
        const got = await y.read();
        const want = matmulF16Ref(x, w, M, K, N, { bias: b, gelu: gel, transposeW });
        const at = `${name} M=${M} K=${K} N=${N}${transposeW ? " (B^T)" : ""}`;
        const d = maxAbsDiff(got, want);
        assert(d < 1e-4, `${at}: max diff ${d}`);
        assertEquals(launched.splice(0).map((d) => d.kernel), [
          expectedKernel(name, K, N, transposeW),
        ], at);
      }
      // a column block of a wider output (the unembedding's vocabulary chunks)
      for (const transposeW of [false, true]) {
        const M = 33, K = 8, N = 7, ldc = 21, col = 11;
        const x = randn(M * K, 3), w = randn(N * K, 4);
        const out = Tensor.from(gpu, new Float32Array(M * ldc), [M, ldc]);
        matmul(Tensor.from(gpu, x, [M, K]), Tensor.fromF16(gpu, w, transposeW ? [N, K] : [K, N]), {
          transposeW,
          out,
          outRowStride: ldc,
          outColumn: col,
        });
        launched.length = 0;
        const got = await out.read();
        const want = matmulF16Ref(x, w, M, K, N, { transposeW });
        for (let m = 0; m < M; m++) {
          for (let c = 0; c < ldc; c++) {
            const v = c >= col && c < col + N ? want[m * N + c - col] : 0;
            assert(Math.abs(got[m * ldc + c] - v) < 1e-5, `${name} column block at ${m}, ${c}`);
          }
        }
      }
      gpu.pool.clear();
    }
  },
);

Deno.test(
  "matmul() with f16 weights: huge, tiny and f16-subnormal weights are read exactly",
  opts,
  async () => {
    const M = 9, K = 24, N = 12; // K % 4 == 0, N % 4 == 0: every kernel, the fast path included
    const x = randn(M * K, 7);
    const kinds: [string, (i: number) => number, number][] = [
      // weights, and a scale for x that keeps the products near 1
      ["huge (near 65504)", (i) => (i % 2 ? -1 : 1) * (60000 + 100 * (i % 40)), 1e-4],
      ["tiny normals", (i) => (i % 3 - 1) * 2 ** -14 * (1 + (i % 7) / 8), 2 ** 14],
      ["f16 subnormals", (i) => (i % 2 ? -1 : 1) * (i % 1023 + 1) * 2 ** -24, 2 ** 20],
      ["mixed magnitudes", (i) => (i % 5 === 0 ? 3e4 : i % 5 === 1 ? 3e-6 : (i % 7) - 3), 1e-2],
    ];
    for (const [name, gpu] of await matmulContexts()) {
      for (const [kind, wOf, xScale] of kinds) {
        for (const transposeW of [false, true]) {
          const w = Float32Array.from({ length: K * N }, (_, i) => wOf(i));
          const xs = x.map((v) => v * xScale);
          const got = await matmul(
            Tensor.from(gpu, xs, [M, K]),
            Tensor.fromF16(gpu, w, transposeW ? [N, K] : [K, N]),
            { transposeW },
          ).read();
          const want = matmulF16Ref(xs, w, M, K, N, { transposeW });
          // float32 accumulation: relative to sum |x w| per output (a flushed subnormal would
          // miss its whole share)
          const wr = roundToF16(w);
          for (let m = 0; m < M; m++) {
            for (let n = 0; n < N; n++) {
              let mag = 0;
              for (let k = 0; k < K; k++) {
                mag += Math.abs(xs[m * K + k] * wr[transposeW ? n * K + k : k * N + n]);
              }
              const d = Math.abs(got[m * N + n] - want[m * N + n]);
              assert(
                d <= 1e-5 * mag,
                `${name} ${kind}${transposeW ? " (B^T)" : ""} at ${m},${n}: ${got[m * N + n]} vs ` +
                  `${want[m * N + n]}`,
              );
            }
          }
        }
      }
      // weights beyond the half range are stored as ±Infinity
      const inf = await matmul(
        Tensor.from(gpu, new Float32Array([1, 1, 1, 1]), [1, 4]),
        Tensor.fromF16(gpu, new Float32Array([7e4, 1, 5, 2, 0, 3, 1, 4]), [4, 2]),
      ).read();
      assertEquals([...inf], [Infinity, 10], `${name}: overflow to Infinity`);
    }
  },
);

Deno.test("embed() gathers rows of an f16 table in chunks, odd widths included", opts, async () => {
  const base = await testGpu();
  const binding = 8192; // small bindings: the table is split into row chunks at aligned offsets
  const gpu = new Gpu(base.device, { ...base.caps, maxStorageBindingBytes: binding });
  for (const D of [1, 5, 8, 33]) {
    const V = 2 * Math.floor(binding / (Math.ceil(D / 2) * 4)) + 5;
    const table = randn(V * D, D);
    table[3] = 1e-7; // f16 subnormal
    table[D] = 7e4; // overflows to Infinity
    const ids = Uint32Array.from({ length: 23 }, (_, i) => (i * 37 + 5) % V);
    const t = Tensor.fromF16(gpu, table, [V, D]);
    const chunks = rowChunks(gpu, t);
    assert(chunks.length >= 3, `D=${D}: ${chunks.length} chunks`);
    const out = embed(Tensor.from(gpu, ids), chunks, Tensor.empty(gpu, [ids.length, D]));
    const got = await out.read();
    const rounded = roundToF16(table);
    const want = new Float32Array(ids.length * D);
    ids.forEach((id, r) => want.set(rounded.subarray(id * D, (id + 1) * D), r * D));
    assertEquals([...got], [...want], `D=${D}`);
    gpu.pool.clear();
  }
});

Deno.test("matmul() and embed() refuse f16 activations and mismatched tables", opts, async () => {
  const gpu = await testGpu();
  const w = Tensor.fromF16(gpu, randn(12, 1), [3, 4]);
  // (the types forbid these; JavaScript callers get a typed error)
  assertThrows(() => matmul(w as unknown as Tensor, w), InvalidArgumentError);
  const x = Tensor.from(gpu, randn(6, 2), [2, 3]);
  assertThrows(
    () => matmul(x, w, { bias: Tensor.fromF16(gpu, randn(4, 3)) as unknown as Tensor }),
    InvalidArgumentError,
  );
  assertThrows(
    () =>
      embed(
        Tensor.from(gpu, new Uint32Array([0])),
        [{ table: w, row0: 0 }],
        Tensor.empty(gpu, [1, 5]),
      ),
    ShapeError,
  );
});
