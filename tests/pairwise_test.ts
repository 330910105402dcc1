// All-pairs statistics on the GPU against the float64 CPU references (src/stats) and the numpy
// golden fixture (seed 004's mutInfo_and_cov).
//
// Tolerances:
// - cosine: 1e-5 absolute (f32 dot products over D <= 300 terms of unit-norm rows).
// - covariance: |diff| <= 1e-5 * max(|cov|, std_i * std_j): f32 sums of D centred products
//   have relative error ~D * 2^-24 of the scale std_i * std_j, not of a near-zero covariance.
// - MI: 1e-5 absolute. Bin membership is decided exactly (edges carried as lo + k * step with
//   step split into three f32 terms, v - edge by an exact two-difference; see
//   kernels/pairwise_bins.wgsl) and the entropy sums are double-f32 over a c*log2(c) table
//   (kernels/exact_f32.wgsl keeps the compiler from folding their error terms), so MI differs
//   from numpy only by the final f32 rounding (~1e-7; the golden test checks 2.5e-7). A pair may still differ
//   when a kept value lies within ~2^-36 (relative) of a bin edge, or |z| lies within f32
//   rounding (~1e-6) of the outlier threshold; `explainMismatch` recognises those and the golden
//   test allows at most 2 such pairs (0 were seen on this fixture), and no unexplained ones.
import { assert, assertEquals, assertRejects, assertThrows } from "./helpers/assert.ts";
import { readGolden } from "./helpers/golden.ts";
import { randn, rng, testGpu } from "./helpers/gpu.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { InvalidArgumentError, ShapeError } from "../src/errors.ts";
import {
  checkFinite,
  computePairwise,
  createPairwise,
  jointMoments,
  layerCosine,
  pairwiseCosine,
  pairwiseCovariance,
  pairwiseMiCov,
  pairwiseSummary,
  readRecorded,
  recordEdges,
  recordedTensor,
  recordJointMoments,
  recordSummary,
  summarizePairs,
} from "../src/kernels.ts";
import { Gpu as GpuContext } from "../src/gpu/context.ts";
import type { Gpu } from "../src/gpu/context.ts";
import type { JointMoments } from "../src/pairwise/pairwise.ts";
import {
  cosineMatrix,
  cosineMatrixAB,
  covarianceMatrix,
  histogram,
  linspace,
  mean,
  mutInfoAndCov,
  pairwiseMiCov as refMiCov,
  pearson,
  rowMatrix,
  std,
  upperTriangle,
} from "../src/stats/mod.ts";
import { readSafetensors, writeSafetensors } from "../src/io/safetensors.ts";
import { pairwiseCommand } from "../cli/pairwise.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

type PairwiseSummaryLike = {
  count: number;
  nonFinite: number;
  mean: number;
  min: number;
  max: number;
  histogram: Uint32Array;
};
const FIXTURE = new URL("./fixtures/pairwise-golden.safetensors", import.meta.url).pathname;

function rowsOf(x: Float32Array, n: number, d: number): Float64Array[] {
  return Array.from({ length: n }, (_, i) => Float64Array.from(x.subarray(i * d, (i + 1) * d)));
}

/** Why a GPU MI value may legitimately differ: a kept value on an edge or z on the threshold. */
function explainMismatch(x: Float64Array, y: Float64Array, thr: number, bins: number): boolean {
  const z = (v: Float64Array) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    const s = std(v, { ddof: 1 });
    return Array.from(v, (e) => Math.abs((e - m) / s));
  };
  const zx = z(x), zy = z(y);
  if (thr > 0 && [...zx, ...zy].some((e) => Math.abs(e - thr) < 1e-5 * thr)) return true;
  const keep = zx.map((_, k) => !(thr > 0 && (zx[k] > thr || zy[k] > thr)));
  for (const v of [x, y]) {
    const kept = v.filter((_, k) => keep[k]);
    const lo = Math.min(...kept), hi = Math.max(...kept);
    const edges = linspace(lo, hi, bins + 1);
    const tol = 1e-9 * Math.max(Math.abs(lo), Math.abs(hi));
    for (const e of edges) if (kept.some((k) => Math.abs(k - e) < tol && k !== lo)) return true;
  }
  return false;
}

function checkMiCov(
  label: string,
  got: { mi: Float32Array; cov: Float32Array },
  want: { mi: ArrayLike<number>; cov: ArrayLike<number> },
  rowsA: Float64Array[],
  rowsB: Float64Array[],
  thr: number,
  bins: number,
  allowExplained = 0,
): { maxMi: number; maxCov: number; explained: number } {
  const m = rowsB.length;
  let maxMi = 0, maxCov = 0, explained = 0;
  for (let i = 0; i < rowsA.length; i++) {
    const si = std(rowsA[i], { ddof: 1 });
    for (let j = 0; j < m; j++) {
      const o = i * m + j;
      const dm = Math.abs(got.mi[o] - want.mi[o]);
      const nanBoth = Number.isNaN(got.mi[o]) && Number.isNaN(want.mi[o]);
      if (!nanBoth) {
        if (!(dm <= 1e-5)) {
          assert(
            explainMismatch(rowsA[i], rowsB[j], thr, bins),
            `${label}: MI(${i}, ${j}) ${got.mi[o]} vs ${want.mi[o]} is not a bin-edge case`,
          );
          explained++;
        } else maxMi = Math.max(maxMi, dm);
        const scale = Math.max(Math.abs(want.cov[o]), si * std(rowsB[j], { ddof: 1 }));
        const dc = Math.abs(got.cov[o] - want.cov[o]) / scale;
        assert(
          dc <= 1e-5 || scale === 0,
          `${label}: cov(${i}, ${j}) ${got.cov[o]} vs ${want.cov[o]}`,
        );
        if (scale > 0) maxCov = Math.max(maxCov, dc);
      }
    }
  }
  assert(explained <= allowExplained, `${label}: ${explained} bin-edge pairs`);
  return { maxMi, maxCov, explained };
}

Deno.test("pairwise MI, covariance and cosine match the numpy golden fixture", opts, async () => {
  const gpu = await testGpu();
  const g = readGolden(FIXTURE);
  const X = g.get("X")!.data as Float32Array;
  const [N, D] = g.get("X")!.shape;
  const x = Tensor.from(gpu, X, [N, D]);
  const { mi, cov } = pairwiseMiCov(x, { bins: 15, outlierZ: 5 });
  const cos = pairwiseCosine(x);
  const [m, c, cs] = await gpu.read([mi.range, cov.range, cos.range]);
  const got = { mi: new Float32Array(m, 0, N * N), cov: new Float32Array(c, 0, N * N) };
  const rows = rowsOf(X, N, D);
  const want = { mi: g.get("mi")!.data, cov: g.get("cov")!.data };
  const r = checkMiCov("golden", got, want, rows, rows, 5, 15, 2);
  // Double-f32 entropy sums leave only MI's final f32 rounding (5.3e-8 seen on lavapipe); 9.6e-7
  // when the driver folded the two-sum error terms away (before kernels/exact_f32.wgsl).
  assert(r.maxMi <= 2.5e-7, `max |MI diff| ${r.maxMi}: double-f32 sums lost their low parts?`);
  // The lower triangle and diagonal are exactly 0, as in the seed.
  for (let i = 0; i < N; i++) {
    for (let j = 0; j <= i; j++) assert(got.mi[i * N + j] === 0 && got.cov[i * N + j] === 0);
  }
  const gc = g.get("cos")!.data;
  let maxCos = 0;
  const cosv = new Float32Array(cs, 0, N * N);
  for (let i = 0; i < N * N; i++) maxCos = Math.max(maxCos, Math.abs(cosv[i] - gc[i]));
  assert(maxCos <= 1e-5, `cos max diff ${maxCos}`);
  // The CPU reference reproduces the golden file exactly (same float64 algorithm).
  const ref = refMiCov(rowMatrix(X, N, D), { bins: 15, outlierThresh: 5 });
  for (let i = 0; i < N * N; i++) {
    assert(Math.abs(ref.mi[i] - want.mi[i]) <= 1e-12 && Math.abs(ref.cov[i] - want.cov[i]) <= 1e-9);
  }
  console.log(
    `golden: max |MI diff| ${r.maxMi.toExponential(2)}, max cov rel diff ` +
      `${r.maxCov.toExponential(2)}, max |cos diff| ${maxCos.toExponential(2)}, ` +
      `bin-edge pairs ${r.explained}`,
  );
  for (const t of [x, mi, cov, cos]) t.dispose();
});

/** Random rows with the awkward cases: constant, outliers, values on bin edges, tiny range. */
function awkwardRows(n: number, d: number, seed: number): Float32Array {
  const x = randn(n * d, seed, 2);
  const r = rng(seed + 1);
  for (let i = 0; i < n; i++) {
    const row = x.subarray(i * d, (i + 1) * d);
    const kind = i % 5;
    if (kind === 1) row.fill(0.75); // constant: std 0, nothing dropped, MI 0
    else if (kind === 2) {
      for (let k = 0; k < 3; k++) row[Math.floor(r() * d)] = 40 * (r() < 0.5 ? -1 : 1);
    } else if (kind === 3) {
      for (let k = 0; k < d; k++) row[k] = Math.floor(r() * 16); // integers 0..15: on edges
    } else if (kind === 4) {
      for (let k = 0; k < d; k++) row[k] = 1000 + row[k] * 1e-3; // large offset, small range
    }
  }
  return x;
}

Deno.test("pairwiseMiCov() matches mutInfoAndCov on awkward shapes and data", opts, async () => {
  const gpu = await testGpu();
  for (
    const [N, D, bins, thr, seed] of [[2, 33, 15, 5, 1], [11, 100, 7, 2, 2], [6, 257, 64, 0, 3]]
  ) {
    const X = awkwardRows(N, D, seed);
    const x = Tensor.from(gpu, X, [N, D]);
    const up = pairwiseMiCov(x, { bins, outlierZ: thr });
    const full = pairwiseMiCov(x, { bins, outlierZ: thr, triangle: "full" });
    const [a, b, c, d] = await gpu.read([up.mi.range, up.cov.range, full.mi.range, full.cov.range]);
    const rows = rowsOf(X, N, D);
    const ref = refMiCov(rowMatrix(X, N, D), { bins, outlierThresh: thr });
    const got = { mi: new Float32Array(a, 0, N * N), cov: new Float32Array(b, 0, N * N) };
    checkMiCov(`N=${N} D=${D}`, got, ref, rows, rows, thr, bins);
    // full: symmetric, the diagonal is MI(x, x) and var(x).
    const fm = new Float32Array(c, 0, N * N), fc = new Float32Array(d, 0, N * N);
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        const o = i < j ? i * N + j : j * N + i;
        if (i !== j) assert(fm[i * N + j] === got.mi[o] && fc[i * N + j] === got.cov[o]);
      }
      const self = mutInfoAndCov(rows[i], rows[i], { bins, outlierThresh: thr });
      assert(Math.abs(fm[i * N + i] - self.mi) <= 1e-5, `self MI ${fm[i * N + i]} vs ${self.mi}`);
      assert(Math.abs(fc[i * N + i] - self.cov) <= 1e-5 * Math.max(1, Math.abs(self.cov)));
    }
    for (const t of [x, up.mi, up.cov, full.mi, full.cov]) t.dispose();
  }
});

Deno.test("cosine and covariance matrices match the CPU, one stack and two", opts, async () => {
  const gpu = await testGpu();
  const N = 19, M = 5, D = 37;
  const X = awkwardRows(N, D, 7), Y = randn(M * D, 8);
  X.fill(0, 0, D); // a zero row: cosine 0
  const x = Tensor.from(gpu, X, [N, D]), y = Tensor.from(gpu, Y, [M, D]);
  const cos = pairwiseCosine(x);
  const cov = pairwiseCovariance(x, { triangle: "upper" });
  const cross = pairwiseCosine(x, { other: y });
  const crossCov = pairwiseCovariance(x, { other: y });
  const [a, b, c, d] = await gpu.read([cos.range, cov.range, cross.range, crossCov.range]);
  const rx = rowMatrix(X, N, D), ry = rowMatrix(Y, M, D);
  const wantCos = cosineMatrix(rx), wantCov = covarianceMatrix(rx);
  const gotCos = new Float32Array(a), gotCov = new Float32Array(b);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      const o = i * N + j;
      assert(Math.abs(gotCos[o] - wantCos[o]) <= 1e-5, `cos(${i},${j})`);
      const w = i < j ? wantCov[o] : 0;
      const scale = Math.max(1e-6, Math.sqrt(wantCov[i * N + i] * wantCov[j * N + j]));
      assert(Math.abs(gotCov[o] - w) <= 1e-5 * scale + 1e-7, `cov(${i},${j}) ${gotCov[o]} vs ${w}`);
    }
  }
  const wantCross = cosineMatrixAB(rx, ry);
  const gotCross = new Float32Array(c);
  for (let o = 0; o < N * M; o++) assert(Math.abs(gotCross[o] - wantCross[o]) <= 1e-5);
  const gotCrossCov = new Float32Array(d);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < M; j++) {
      const r = mutInfoAndCov(
        X.subarray(i * D, (i + 1) * D),
        Y.subarray(j * D, (j + 1) * D),
      );
      assert(Math.abs(gotCrossCov[i * M + j] - r.cov) <= 1e-5 * Math.max(1, Math.abs(r.cov)));
    }
  }
  for (const t of [x, y, cos, cov, cross, crossCov]) t.dispose();
});

Deno.test("multi-layer stacks and two groups: every layer in one submission", opts, async () => {
  const gpu = await testGpu();
  const L = 3, N = 9, M = 4, D = 70;
  const A = awkwardRows(L * N, D, 11), B = randn(L * M * D, 12, 3);
  const a = Tensor.from(gpu, A, [L, N, D]), b = Tensor.from(gpu, B, [L, M, D]);
  const self = pairwiseMiCov(a);
  const ab = pairwiseMiCov(a, { other: b });
  const lc = layerCosine(a, { token: 4 });
  const before = gpu.pending;
  assert(before >= 5, "launches are recorded, not run");
  const [m1, c1, m2, c2, l1] = await gpu.read([
    self.mi.range,
    self.cov.range,
    ab.mi.range,
    ab.cov.range,
    lc.range,
  ]);
  assertEquals(self.mi.shape, [L, N, N]);
  assertEquals(ab.mi.shape, [L, N, M]);
  for (let l = 0; l < L; l++) {
    const ra = rowsOf(A.subarray(l * N * D), N, D);
    const rb = rowsOf(B.subarray(l * M * D), M, D);
    const ref = refMiCov(rowMatrix(A.subarray(l * N * D, (l + 1) * N * D), N, D), {
      outlierThresh: 5,
    });
    checkMiCov(
      `layer ${l}`,
      {
        mi: new Float32Array(m1, 4 * l * N * N, N * N),
        cov: new Float32Array(c1, 4 * l * N * N, N * N),
      },
      ref,
      ra,
      ra,
      5,
      15,
    );
    const cross = { mi: new Float64Array(N * M), cov: new Float64Array(N * M) };
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < M; j++) {
        const r = mutInfoAndCov(ra[i], rb[j], { bins: 15, outlierThresh: 5 });
        cross.mi[i * M + j] = r.mi;
        cross.cov[i * M + j] = r.cov;
      }
    }
    checkMiCov(
      `layer ${l} A/B`,
      {
        mi: new Float32Array(m2, 4 * l * N * M, N * M),
        cov: new Float32Array(c2, 4 * l * N * M, N * M),
      },
      cross,
      ra,
      rb,
      5,
      15,
    );
  }
  // layer x layer cosine of token 4 (seed 003).
  const tok = new Float32Array(L * D);
  for (let l = 0; l < L; l++) tok.set(A.subarray((l * N + 4) * D, (l * N + 5) * D), l * D);
  const want = cosineMatrix(rowMatrix(tok, L, D));
  const got = new Float32Array(l1, 0, L * L);
  for (let i = 0; i < L * L; i++) assert(Math.abs(got[i] - want[i]) <= 1e-5);
  for (const t of [a, b, self.mi, self.cov, ab.mi, ab.cov, lc]) t.dispose();
});

Deno.test(
  "stacks larger than one storage binding run as layer chunks with the same numbers",
  opts,
  async () => {
    // 64 KiB bindings: a [7, 50, 100] stack (140 000 bytes) and its [7, 50, 50] matrices
    // (70 000 bytes) need several launches, and later chunks start at offsets that are not
    // multiples of 256; the per-layer summaries and joint moments read the matrices in chunks.
    const base = await testGpu();
    const small = new GpuContext(base.device, { ...base.caps, maxStorageBindingBytes: 64 * 1024 });
    const L = 7, N = 50, M = 20, D = 100;
    const A = awkwardRows(L * N, D, 21), B = randn(L * M * D, 22, 2);
    const run = async (gpu: Gpu) => {
      const a = Tensor.from(gpu, A, [L, N, D]), b = Tensor.from(gpu, B, [L, M, D]);
      const cos = pairwiseCosine(a);
      const covAB = pairwiseCovariance(a, { other: b });
      const { mi, cov } = pairwiseMiCov(a);
      const miAB = pairwiseMiCov(a, { other: b, triangle: undefined });
      const miFull = pairwiseMiCov(a, { triangle: "full" });
      const lc = layerCosine(a, { token: 3 }); // strided view of 72 400 bytes
      const ts = [cos, covAB, mi, cov, miAB.mi, miAB.cov, miFull.mi, lc];
      const sMi = recordSummary(mi, { upper: true });
      const edges = recordEdges([sMi], 40);
      const sMiH = recordSummary(mi, { edges, upper: true });
      const sCos = recordSummary(cos, { edges: linspace(-1, 1, 21), firstLayer: 2 });
      const jm = recordJointMoments(mi, cov, { upper: true });
      const [e, h1, h2, m, ...vals] = await readRecorded(
        gpu,
        [edges, sMiH, sCos, jm, ...ts.map(recordedTensor)] as const,
      );
      for (const t of [a, b, ...ts, miAB.cov, miFull.cov, sMi, edges, sMiH, sCos, jm]) {
        t.dispose();
      }
      const flat = (x: PairwiseSummaryLike[]) =>
        x.flatMap((v) => [v.count, v.nonFinite, v.mean, v.min, v.max, ...v.histogram]);
      return [
        ...vals,
        Float32Array.from(e),
        Float32Array.from(flat(h1)),
        Float32Array.from(flat(h2)),
        Float32Array.from(m.flatMap((v) => [v.count, v.meanX, v.meanY, v.varX, v.cov, v.r])),
      ];
    };
    const want = await run(base);
    const got = await run(small);
    assertEquals(want.length, 12);
    for (let k = 0; k < want.length; k++) {
      assertEquals(got[k].length, want[k].length);
      for (let i = 0; i < want[k].length; i++) {
        const [g, w] = [got[k][i], want[k][i]];
        assert(
          (Number.isNaN(g) && Number.isNaN(w)) ||
            Math.abs(g - w) <= 1e-6 * Math.max(1, Math.abs(w)),
          `output ${k}, element ${i}: ${g} vs ${w}`,
        );
      }
    }
    // And against the CPU: the last layer (second chunk) of the cosine matrix.
    const l = L - 1;
    const ref = cosineMatrix(rowMatrix(A.subarray(l * N * D, (l + 1) * N * D), N, D));
    for (let i = 0; i < N * N; i++) assert(Math.abs(got[0][l * N * N + i] - ref[i]) <= 1e-5);
  },
);

Deno.test(
  "cosine and covariance: the matmul path (CPU adapters) and the tile kernel agree with the CPU",
  opts,
  async () => {
    // isFallbackAdapter picks the path: true → rows prepared on the GPU, then one matmul per
    // layer (outputs at unaligned offsets go through a temporary and a copy; "upper" is masked
    // after); false → kernels/pairwise_gram.wgsl. Shapes with N, M, D not multiples of 4 or of
    // any tile, layers whose [N, N] blocks start at unaligned offsets, a caller's output at an
    // unaligned offset, and (last context) layer chunks of a 32 KiB binding limit.
    const base = await testGpu();
    const ctx = (fallback: boolean, maxStorageBindingBytes = base.caps.maxStorageBindingBytes) =>
      new GpuContext(base.device, {
        ...base.caps,
        isFallbackAdapter: fallback,
        maxStorageBindingBytes,
      });
    const paths: [string, Gpu][] = [
      ["matmul", ctx(true)],
      ["tile", ctx(false)],
      ["matmul, 32 KiB bindings", ctx(true, 32 * 1024)],
    ];
    const shapes = [[3, 7, 5, 33], [2, 13, 1, 2], [1, 37, 11, 130], [4, 2, 3, 9], [5, 35, 18, 67]];
    for (const [path, gpu] of paths) {
      for (const [L, N, M, D] of shapes) {
        const label = `${path} [${L}, ${N}|${M}, ${D}]`;
        const A = awkwardRows(L * N, D, L + N + D), B = randn(L * M * D, M + D, 2);
        A.fill(0, D, 2 * D); // a zero row (layer 0, row 1): cosine 0
        const a = Tensor.from(gpu, A, [L, N, D]), b = Tensor.from(gpu, B, [L, M, D]);
        // A caller's output 3 elements into a buffer: every layer starts unaligned.
        const big = Tensor.empty(gpu, [3 + L * N * N]);
        const outAt = new Tensor(gpu, big.buffer, [L, N, N], "f32", 12);
        const ts = [
          pairwiseCosine(a),
          pairwiseCosine(a, { triangle: "upper", out: outAt }),
          pairwiseCovariance(a),
          pairwiseCovariance(a, { triangle: "upper" }),
          pairwiseCosine(a, { other: b }),
          pairwiseCovariance(a, { other: b }),
          ...(L > 1 ? [layerCosine(a, { token: N - 1 })] : []),
        ];
        const got = (await readRecorded(gpu, ts.map(recordedTensor))).map((v) =>
          Float32Array.from(v)
        );
        for (let l = 0; l < L; l++) {
          const ra = rowMatrix(A.subarray(l * N * D, (l + 1) * N * D), N, D);
          const ab = A.slice(l * N * D, (l + 1) * N * D);
          const both = new Float32Array((N + M) * D);
          both.set(ab);
          both.set(B.subarray(l * M * D, (l + 1) * M * D), N * D);
          const cov = covarianceMatrix(rowMatrix(both, N + M, D)); // [N + M, N + M]
          const cos = cosineMatrix(ra);
          const crossCos = cosineMatrixAB(
            ra,
            rowMatrix(B.subarray(l * M * D, (l + 1) * M * D), M, D),
          );
          const K = N + M;
          const covTol = (i: number, j: number, w: number) =>
            1e-5 * Math.max(Math.abs(w), Math.sqrt(cov[i * K + i] * cov[j * K + j])) + 1e-7;
          for (let i = 0; i < N; i++) {
            for (let j = 0; j < N; j++) {
              const o = l * N * N + i * N + j;
              const w = cos[i * N + j];
              const wc = cov[i * K + j];
              assert(Math.abs(got[0][o] - w) <= 1e-5, `${label}: cos(${l}, ${i}, ${j})`);
              const up = i < j ? w : 0;
              assert(
                i < j ? Math.abs(got[1][o] - up) <= 1e-5 : got[1][o] === 0,
                `${label}: upper cos(${l}, ${i}, ${j}) ${got[1][o]} vs ${up}`,
              );
              assert(
                Math.abs(got[2][o] - wc) <= covTol(i, j, wc),
                `${label}: cov(${l}, ${i}, ${j})`,
              );
              assert(
                i < j ? Math.abs(got[3][o] - wc) <= covTol(i, j, wc) : got[3][o] === 0,
                `${label}: upper cov(${l}, ${i}, ${j})`,
              );
            }
            for (let j = 0; j < M; j++) {
              const o = l * N * M + i * M + j;
              assert(Math.abs(got[4][o] - crossCos[i * M + j]) <= 1e-5, `${label}: A/B cos`);
              const wc = cov[i * K + N + j];
              assert(Math.abs(got[5][o] - wc) <= covTol(i, N + j, wc), `${label}: A/B cov`);
            }
          }
        }
        for (const t of [a, b, big, ...ts]) t.dispose();
        if (L === 1) continue; // layerCosine needs 2 layers
        const tok = new Float32Array(L * D);
        for (let l = 0; l < L; l++) {
          tok.set(A.subarray((l * N + N - 1) * D, (l * N + N) * D), l * D);
        }
        const lc = cosineMatrix(rowMatrix(tok, L, D));
        for (let i = 0; i < L * L; i++) assert(Math.abs(got[6][i] - lc[i]) <= 1e-5, `${label}: lc`);
      }
    }
  },
);

Deno.test("per-layer summaries reduced on the GPU match CPU summaries", opts, async () => {
  const gpu = await testGpu();
  const L = 2, N = 12, D = 48;
  const A = randn(L * N * D, 21, 2);
  const a = Tensor.from(gpu, A, [L, N, D]);
  const edges = linspace(0, 1.5, 31);
  const sums = await pairwiseSummary(a, { metric: "mi", edges });
  const { values } = await computePairwise(a, { metric: "mi" });
  const cosSums = await pairwiseSummary(a, { metric: "cosine", edges: linspace(-1, 1, 11) });
  const cosM = await computePairwise(a, { metric: "cosine", triangle: "upper" });
  for (let l = 0; l < L; l++) {
    for (
      const [s, vals, e] of [[sums[l], values, edges], [
        cosSums[l],
        cosM.values,
        linspace(-1, 1, 11),
      ]] as const
    ) {
      const tri: number[] = [];
      for (let i = 0; i < N; i++) {
        for (let j = i + 1; j < N; j++) tri.push(vals[l * N * N + i * N + j]);
      }
      assertEquals(s.count, tri.length);
      assertEquals(s.nonFinite, 0);
      assert(Math.abs(s.mean - tri.reduce((p, q) => p + q, 0) / tri.length) <= 1e-6);
      assertEquals(s.min, Math.min(...tri));
      assertEquals(s.max, Math.max(...tri));
      assertEquals(Array.from(s.histogram), Array.from(histogram(tri, { bins: e }).counts));
    }
  }
  // Values exactly on edges, outside the range and on the closed last edge (numpy semantics).
  const v = Tensor.from(gpu, new Float32Array([0, 0.5, 1, 1, 0.25, 2, -1, 0.75, 1]), [3, 3]);
  const [s] = await summarizePairs(v, { edges: [0.25, 0.5, 1], upper: false });
  assertEquals(
    Array.from(s.histogram),
    Array.from(histogram([0, 0.5, 1, 1, 0.25, 2, -1, 0.75, 1], { bins: [0.25, 0.5, 1] }).counts),
  );
  a.dispose();
  v.dispose();
});

Deno.test("bad inputs throw typed errors with hints", opts, async () => {
  const gpu = await testGpu();
  const x = Tensor.from(gpu, randn(4 * 8, 1), [4, 8]);
  const y = Tensor.from(gpu, randn(3 * 7, 2), [3, 7]);
  assertThrows(() => pairwiseCosine(x, { other: y }), ShapeError, "Cannot pair");
  assertThrows(() => pairwiseMiCov(Tensor.from(gpu, randn(8, 3), [8])), ShapeError);
  assertThrows(() => pairwiseMiCov(x, { bins: 1 }), InvalidArgumentError, "bins");
  assertThrows(() => pairwiseMiCov(x, { bins: 65 }), InvalidArgumentError, "bins");
  assertThrows(() => pairwiseMiCov(x, { outlierZ: -1 }), InvalidArgumentError, "outlierZ");
  assertThrows(
    () => pairwiseCosine(Tensor.from(gpu, randn(8, 4), [1, 8])),
    InvalidArgumentError,
    "N =",
  );
  assertThrows(() => pairwiseCovariance(x, { other: x, triangle: "upper" }), InvalidArgumentError);
  const bad = randn(4 * 8, 5);
  bad[13] = NaN;
  bad[20] = Infinity;
  const b = Tensor.from(gpu, bad, [4, 8]);
  const e = await assertRejects(
    () => computePairwise(b, { metric: "mi" }),
    InvalidArgumentError,
    "2 NaN",
  );
  assert(e.hint.length > 0);
  await assertRejects(
    () => pairwiseSummary(b, { metric: "cosine", edges: [0, 1] }),
    InvalidArgumentError,
  );
  await assertRejects(() => checkFinite(b), InvalidArgumentError);
  await checkFinite(x);
  await assertRejects(
    () => pairwiseSummary(x, { metric: "mi", edges: [1, 0] }),
    InvalidArgumentError,
  );
  for (const t of [x, y, b]) t.dispose();
});

Deno.test("createPairwise() works on a caller's device and buffers", opts, async () => {
  const gpu = await testGpu();
  const device = gpu.device;
  const L = 2, N = 6, D = 40;
  const data = randn(L * N * D, 31);
  const input = device.createBuffer({
    size: data.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
  device.queue.writeBuffer(input, 0, data as Float32Array<ArrayBuffer>);
  const pw = createPairwise(device);
  const stack = { buffer: input, shape: [L, N, D] };
  const cos = await pw.cosine(stack);
  const { mi } = await pw.miCov(stack, { bins: 10, outlierZ: 0 });
  const sums = await pw.summary(stack, {
    metric: "mi",
    edges: linspace(0, 3, 7),
    bins: 10,
    outlierZ: 0,
  });
  const [c, m] = await pw.gpu.read([
    { buffer: cos, offset: 0, size: 4 * L * N * N },
    { buffer: mi, offset: 0, size: 4 * L * N * N },
  ]);
  const gotC = new Float32Array(c), gotM = new Float32Array(m);
  for (let l = 0; l < L; l++) {
    const slice = data.subarray(l * N * D, (l + 1) * N * D);
    const wc = cosineMatrix(rowMatrix(slice, N, D));
    const wm = refMiCov(rowMatrix(slice, N, D), { bins: 10 });
    for (let o = 0; o < N * N; o++) {
      assert(Math.abs(gotC[l * N * N + o] - wc[o]) <= 1e-5);
      assert(Math.abs(gotM[l * N * N + o] - wm.mi[o]) <= 1e-5);
    }
    assertEquals(sums[l].count, (N * (N - 1)) / 2);
  }
  const nanBuf = device.createBuffer({
    size: data.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(nanBuf, 0, new Float32Array(L * N * D).fill(NaN));
  await assertRejects(() => pw.cosine({ buffer: nanBuf, shape: [L, N, D] }), InvalidArgumentError);
  for (const bf of [input, cos, mi, nanBuf]) bf.destroy();
  pw.dispose();
});

Deno.test("CLI: pairwise round trip through safetensors", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const L = 2, N = 7, D = 30;
    const X = randn(L * N * D, 41, 2);
    const inPath = `${dir}/in.safetensors`;
    await writeSafetensors(inPath, {
      h: { dtype: "F64", shape: [L, N, D], data: Float64Array.from(X) },
      ids: { dtype: "I32", shape: [2], data: new Int32Array(2) },
    });
    for (const metric of ["mi", "covariance", "cosine"]) {
      const out = `${dir}/${metric}.safetensors`;
      const code = await pairwiseCommand([
        "--in",
        inPath,
        "--tensor",
        "h",
        "--metric",
        metric,
        "--bins",
        "12",
        "--out",
        out,
      ]);
      assertEquals(code, 0);
      const f = await readSafetensors(out);
      assertEquals(f.get("matrix").shape, [L, N, N]);
      const m = f.getF32("matrix");
      for (let l = 0; l < L; l++) {
        const rows = rowMatrix(X.subarray(l * N * D, (l + 1) * N * D), N, D);
        const ref = refMiCov(rows, { bins: 12, outlierThresh: 5 });
        const want = metric === "mi"
          ? ref.mi
          : metric === "covariance"
          ? ref.cov
          : cosineMatrix(rows);
        for (let o = 0; o < N * N; o++) {
          assert(
            Math.abs(m[l * N * N + o] - want[o]) <= 1e-5 * Math.max(1, Math.abs(want[o])),
            `${metric} ${o}`,
          );
        }
      }
    }
    // Errors: exit code 1 with a message, not a stack trace.
    const quiet = console.error;
    console.error = () => {};
    try {
      assertEquals(
        await pairwiseCommand([
          "--in",
          inPath,
          "--tensor",
          "ids",
          "--metric",
          "mi",
          "--out",
          `${dir}/x`,
        ]),
        1,
      );
      assertEquals(
        await pairwiseCommand([
          "--in",
          inPath,
          "--tensor",
          "h",
          "--metric",
          "nope",
          "--out",
          `${dir}/x`,
        ]),
        1,
      );
      assertEquals(
        await pairwiseCommand([
          "--in",
          inPath,
          "--tensor",
          "h",
          "--metric",
          "mi",
          "--bins",
          "1",
          "--out",
          `${dir}/x`,
        ]),
        1,
      );
      assertEquals(
        await pairwiseCommand([
          "--in",
          `${dir}/missing.safetensors`,
          "--tensor",
          "h",
          "--metric",
          "mi",
          "--out",
          `${dir}/x`,
        ]),
        1,
      );
      const nan = Float32Array.from(X);
      nan[5] = NaN;
      await writeSafetensors(`${dir}/nan.safetensors`, {
        h: { dtype: "F32", shape: [L, N, D], data: nan },
      });
      assertEquals(
        await pairwiseCommand([
          "--in",
          `${dir}/nan.safetensors`,
          "--tensor",
          "h",
          "--metric",
          "cosine",
          "--out",
          `${dir}/x`,
        ]),
        1,
      );
    } finally {
      console.error = quiet;
    }
    const log = console.log;
    let printed = "";
    console.log = (s: string) => printed += s;
    try {
      assertEquals(await pairwiseCommand(["--help"]), 0);
    } finally {
      console.log = log;
    }
    assert(printed.includes("--metric"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Count the readbacks (`gpu.read` calls) made while `fn` runs. */
async function countReads<T>(gpu: Gpu, fn: () => Promise<T>): Promise<{ value: T; reads: number }> {
  let reads = 0;
  const orig = gpu.read;
  gpu.read = (ranges) => (reads++, orig.call(gpu, ranges));
  try {
    return { value: await fn(), reads };
  } finally {
    gpu.read = orig;
  }
}

/** Finite (x, y) pairs of layer l (upper triangle i < j when `upper`). */
function pairsOf(
  x: Float32Array,
  y: Float32Array,
  l: number,
  n: number,
  m: number,
  upper: boolean,
) {
  const xs: number[] = [], ys: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = upper ? i + 1 : 0; j < m; j++) {
      const a = x[l * n * m + i * m + j], b = y[l * n * m + i * m + j];
      if (Number.isFinite(a) && Number.isFinite(b)) {
        xs.push(a);
        ys.push(b);
      }
    }
  }
  return { xs, ys };
}

Deno.test(
  "recordSummary + recordEdges + readRecorded: many summaries, one readback",
  opts,
  async () => {
    const gpu = await testGpu();
    const L = 3, N = 20, M = 20;
    const vals = randn(L * N * M, 31, 3);
    vals[1 * N * M + 2 * M + 7] = NaN; // layer 1, pair (2, 7): non-finite, left out
    vals[2 * N * M + 0 * M + 5] = Infinity;
    const v = Tensor.from(gpu, vals, [L, N, M]);
    const w = Tensor.from(gpu, randn(L * N * M, 32, 0.5), [L, N, M]);
    const fixed = linspace(-2, 2, 17);
    const { value, reads } = await countReads(gpu, async () => {
      const plain = recordSummary(v); // upper (square), no histogram
      const full = recordSummary(v, { upper: false, edges: fixed });
      const edges = recordEdges([plain, recordSummary(w)], 25); // range over both tensors
      const hist = recordSummary(v, { edges });
      const one = recordSummary(w, { firstLayer: 1, layerCount: 1 });
      const oneEdges = recordEdges([{ summary: one }], 7);
      const oneHist = recordSummary(w, { edges: oneEdges, firstLayer: 1, layerCount: 1 });
      const items = [plain, full, edges, hist, oneEdges, oneHist, recordedTensor(w)] as const;
      const out = await readRecorded(gpu, items);
      for (const it of items) it.dispose();
      return out;
    });
    assertEquals(reads, 1);
    const [plain, full, edges, hist, oneEdges, oneHist, wBack] = value;
    const W = new Float32Array(wBack);
    const fin = (a: number[]) => a.filter(Number.isFinite);
    const layerVals = (a: Float32Array, l: number, upper: boolean) => {
      const out: number[] = [];
      for (let i = 0; i < N; i++) {
        for (let j = upper ? i + 1 : 0; j < M; j++) {
          out.push(a[l * N * M + i * M + j]);
        }
      }
      return out;
    };
    // The common range is the min..max of both tensors' upper triangles (finite values).
    const all = [0, 1, 2].flatMap((
      l,
    ) => [...fin(layerVals(vals, l, true)), ...layerVals(W, l, true)]);
    assertEquals(edges.length, 26);
    assertEquals(edges[0], Math.min(...all));
    assertEquals(edges[25], Math.max(...all));
    const ref = linspace(edges[0], edges[25], 26);
    // f32 edges: within a few f32 roundings of numpy's float64 linspace.
    const scale = Math.max(Math.abs(ref[0]), Math.abs(ref[25]));
    for (let k = 0; k < 26; k++) assert(Math.abs(edges[k] - ref[k]) <= 2.4e-7 * scale);
    for (let l = 0; l < L; l++) {
      const up = layerVals(vals, l, true), f = fin(up);
      assertEquals(plain[l].count, f.length);
      assertEquals(plain[l].nonFinite, up.length - f.length);
      assertEquals(plain[l].histogram.length, 0);
      assert(Math.abs(plain[l].mean - mean(f)) <= 1e-6);
      assertEquals([plain[l].min, plain[l].max], [Math.min(...f), Math.max(...f)]);
      const fa = fin(layerVals(vals, l, false));
      assertEquals(full[l].count, fa.length);
      assertEquals(
        Array.from(full[l].histogram),
        Array.from(histogram(fa, { bins: fixed }).counts),
      );
      // GPU edges: exactly numpy's binning on the edges read back.
      assertEquals(Array.from(hist[l].histogram), Array.from(histogram(f, { bins: edges }).counts));
    }
    // One layer's own range: numpy's histogram(values, bins=7) up to f32 edges.
    const w1 = layerVals(W, 1, true);
    assertEquals(oneHist.length, 1);
    assertEquals(oneEdges[0], Math.min(...w1));
    assertEquals(oneEdges[7], Math.max(...w1));
    assertEquals(
      Array.from(oneHist[0].histogram),
      Array.from(histogram(w1, { bins: oneEdges }).counts),
    );
    assertEquals(oneHist[0].histogram.reduce((a, b) => a + b, 0), w1.length);

    // Degenerate ranges as numpy: one value → (v - 0.5, v + 0.5); no finite value → (0, 1).
    const c = Tensor.from(gpu, new Float32Array([7, 2, 2, 7]), [1, 2, 2]);
    const z = Tensor.from(gpu, new Float32Array([0, NaN, 0, 0]), [2, 2]);
    const sc = recordSummary(c), sz = recordSummary(z);
    const ec = recordEdges([sc], 4), ez = recordEdges([sz], 2);
    const hc = recordSummary(c, { edges: ec });
    const [e1, e2, h1] = await readRecorded(gpu, [ec, ez, hc] as const);
    assertEquals(e1, [1.5, 1.75, 2, 2.25, 2.5]);
    assertEquals(e2, [0, 0.5, 1]);
    assertEquals(Array.from(h1[0].histogram), [0, 0, 1, 0]);
    for (const t of [sc, sz, ec, ez, hc]) t.dispose();
    assertThrows(() => recordEdges([], 3), InvalidArgumentError);
    assertThrows(() => recordSummary(v, { firstLayer: 2, layerCount: 2 }), InvalidArgumentError);
    for (const t of [v, w, c, z]) t.dispose();
  },
);

Deno.test(
  "recordJointMoments(): Pearson r on the GPU matches float64 np.corrcoef",
  opts,
  async () => {
    const gpu = await testGpu();
    let worst = 0;
    const check = (
      got: JointMoments,
      xs: number[],
      ys: number[],
      label: string,
    ) => {
      assertEquals(got.count, xs.length, label);
      const r = pearson(xs, ys);
      const d = Math.abs(got.r - r);
      worst = Math.max(worst, d);
      assert(d <= 1e-6, `${label}: r ${got.r} vs ${r}`);
      const mx = mean(xs), my = mean(ys);
      assert(Math.abs(got.meanX - mx) <= 1e-6 * (Math.abs(mx) + 1), `${label} mean`);
      let sxy = 0, sxx = 0;
      for (let k = 0; k < xs.length; k++) {
        sxy += (xs[k] - mx) * (ys[k] - my);
        sxx += (xs[k] - mx) ** 2;
      }
      const vx = sxx / (xs.length - 1), cv = sxy / (xs.length - 1);
      assert(Math.abs(got.varX - vx) <= 1e-6 * vx, `${label} var ${got.varX} vs ${vx}`);
      assert(Math.abs(got.cov - cv) <= 1e-6 * Math.sqrt(vx * got.varY), `${label} cov`);
    };
    // Random matrices: correlated, a large offset (cancellation), NaNs, a constant layer.
    const L = 4, N = 150;
    const r = rng(77);
    const X = new Float32Array(L * N * N), Y = new Float32Array(L * N * N);
    for (let k = 0; k < X.length; k++) {
      const l = Math.floor(k / (N * N));
      const a = r() - 0.5, b = r() - 0.5;
      X[k] = l === 1 ? 1000 + a * 1e-2 : l === 3 ? 0.375 : a;
      Y[k] = l === 2 ? 50 * (0.8 * a + 0.2 * b) - 7 : 0.6 * a + 0.4 * b;
    }
    for (let k = 0; k < 40; k++) X[Math.floor(r() * X.length)] = NaN;
    const x = Tensor.from(gpu, X, [L, N, N]), y = Tensor.from(gpu, Y, [L, N, N]);
    const { value, reads } = await countReads(gpu, async () => {
      const up = recordJointMoments(x, y);
      const all = recordJointMoments(x, y, { upper: false, firstLayer: 1, layerCount: 2 });
      const out = await readRecorded(gpu, [up, all] as const);
      up.dispose();
      all.dispose();
      return out;
    });
    assertEquals(reads, 1);
    const [up, all] = value;
    for (let l = 0; l < 3; l++) {
      const p = pairsOf(X, Y, l, N, N, true);
      check(up[l], p.xs, p.ys, `upper layer ${l}`);
      assertEquals(up[l].count + up[l].nonFinite, (N * (N - 1)) / 2);
    }
    for (let l = 1; l < 3; l++) {
      const p = pairsOf(X, Y, l, N, N, false);
      check(all[l - 1], p.xs, p.ys, `full layer ${l}`);
    }
    // A constant x: variance exactly 0 and r undefined (np.corrcoef gives nan).
    assertEquals(up[3].varX, 0);
    assert(Number.isNaN(up[3].r));

    // The numpy fixture: r of the GPU MI and covariance matrices, and of the golden ones.
    const g = readGolden(FIXTURE);
    const GX = g.get("X")!.data as Float32Array;
    const [GN, GD] = g.get("X")!.shape;
    const gx = Tensor.from(gpu, GX, [GN, GD]);
    const { mi, cov } = pairwiseMiCov(gx, { bins: 15, outlierZ: 5 });
    const gmi = Float32Array.from(g.get("mi")!.data), gcov = Float32Array.from(g.get("cov")!.data);
    const tmi = Tensor.from(gpu, gmi, [GN, GN]), tcov = Tensor.from(gpu, gcov, [GN, GN]);
    const j1 = recordJointMoments(mi, cov), j2 = recordJointMoments(tmi, tcov);
    const [m1, m2, miV, covV] = await readRecorded(
      gpu,
      [j1, j2, recordedTensor(mi), recordedTensor(cov)] as const,
    );
    const p1 = pairsOf(miV, covV, 0, GN, GN, true);
    check(m1[0], p1.xs, p1.ys, "fixture (GPU MI, cov)");
    const gm = upperTriangle(g.get("mi")!.data, GN), gc = upperTriangle(g.get("cov")!.data, GN);
    check(
      m2[0],
      Array.from(upperTriangle(gmi, GN)),
      Array.from(upperTriangle(gcov, GN)),
      "fixture (golden f32)",
    );
    // Against the float64 golden values themselves (MI / cov rounding included).
    assert(
      Math.abs(m1[0].r - pearson(gm, gc)) <= 1e-4,
      `fixture r ${m1[0].r} vs ${pearson(gm, gc)}`,
    );
    // Double-f32 sums carry ~44 bits when the driver keeps their rounding steps
    // (kernels/exact_f32.wgsl); with plain f32 sums this was 1.1e-7 on lavapipe.
    assert(worst <= 3e-8, `max |r - float64 r| ${worst}: double-f32 sums lost their low parts?`);
    console.log(
      `joint moments: max |r - float64 r| ${worst.toExponential(2)}; fixture r ${
        m1[0].r.toFixed(6)
      } ` +
        `(golden ${pearson(gm, gc).toFixed(6)})`,
    );
    await assertRejects(() => jointMoments(x, gx), ShapeError);
    for (const t of [j1, j2, x, y, gx, mi, cov, tmi, tcov]) t.dispose();
  },
);
