// The two MI + covariance paths (src/pairwise/mi_kernels.ts) against each other and the float64
// reference: "prebinned" (per-vector bins, pairs counted from bin bytes, pairs whose kept range
// is not their vectors' own finished by the direct kernel in an indirect launch) and "direct".
// Both build the same joint histograms; the entropy sums run in a different order, so MI agrees
// to f32 rounding (2e-6 absolute; one count in another bin moves MI by ~1/n, over 1e-3 here).
// Covariance is summed differently (one pass over values shifted by the vector means vs two
// passes), so it agrees to f32 rounding: |diff| <= 1e-5 * max(|cov|, std_i * std_j).
import { assert } from "./helpers/assert.ts";
import { randn, rng, testGpu } from "./helpers/gpu.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { pairwiseMiCov } from "../src/kernels.ts";
import type { Gpu } from "../src/gpu/context.ts";
import { fastPairs } from "../src/pairwise/mi_kernels.ts";
import { mutInfoAndCov, std } from "../src/stats/mod.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/**
 * Rows where some pairs must take the direct path: row 3k + 1 has an outlier exactly where row
 * 3k has its maximum (so the pair drops row 3k's maximum), row 3k + 2 is ordinary. Plus rows
 * with own outliers, constant rows and integer rows (values on bin edges).
 */
function rows(n: number, d: number, seed: number): Float32Array {
  const x = randn(n * d, seed, 1.5);
  const r = rng(seed + 7);
  for (let i = 0; i < n; i++) {
    const row = x.subarray(i * d, (i + 1) * d);
    if (i % 3 === 1) {
      const prev = x.subarray((i - 1) * d, i * d);
      let am = 0;
      for (let k = 1; k < d; k++) if (prev[k] > prev[am]) am = k;
      row[am] = 60; // an outlier of this row at the previous row's maximum
    }
    if (i % 7 === 5) row.fill(-2.5);
    if (i % 11 === 4) { for (let k = 0; k < d; k++) row[k] = Math.floor(r() * 9); }
    if (i % 13 === 6) row[Math.floor(r() * d)] = -80;
  }
  return x;
}

async function both(
  gpu: Gpu,
  x: Tensor,
  o: Parameters<typeof pairwiseMiCov>[1],
): Promise<{ p: Float32Array[]; q: Float32Array[] }> {
  const a = pairwiseMiCov(x, { ...o, algorithm: "prebinned" });
  const b = pairwiseMiCov(x, { ...o, algorithm: "direct" });
  const bufs = await gpu.read([a.mi.range, a.cov.range, b.mi.range, b.cov.range]);
  const size = a.mi.size;
  const out = bufs.map((buf) => new Float32Array(buf, 0, size));
  for (const t of [a.mi, a.cov, b.mi, b.cov]) t.dispose();
  return { p: out.slice(0, 2), q: out.slice(2) };
}

function sameMi(label: string, p: Float32Array, q: Float32Array): void {
  for (let k = 0; k < p.length; k++) {
    assert(
      Math.abs(p[k] - q[k]) <= 2e-6 || (Number.isNaN(p[k]) && Number.isNaN(q[k])),
      `${label}: MI[${k}] prebinned ${p[k]} vs direct ${q[k]}`,
    );
  }
}

/** Std (ddof 1) of x and y over the elements a pair keeps (seed 004's outlier rule). */
function keptStds(x: Float32Array, y: Float32Array, thr: number): [number, number] {
  const z = (v: Float32Array) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    const s = std(Float64Array.from(v), { ddof: 1 });
    return (e: number) => thr > 0 && s > 0 && Math.abs(e - m) > thr * s;
  };
  const dx = z(x), dy = z(y);
  const kx: number[] = [], ky: number[] = [];
  for (let k = 0; k < x.length; k++) {
    if (!dx(x[k]) && !dy(y[k])) {
      kx.push(x[k]);
      ky.push(y[k]);
    }
  }
  if (kx.length < 2) return [0, 0];
  return [std(Float64Array.from(kx), { ddof: 1 }), std(Float64Array.from(ky), { ddof: 1 })];
}

/**
 * |p - q| <= tol * max(|q|, kept std_i * kept std_j): the scale of an f32 covariance's rounding
 * is the spread of the elements it sums, not of the dropped outliers. p, q: [N, M] for rows
 * A [N, d] and B [M, d]. Returns the worst ratio.
 */
function closeCov(
  label: string,
  p: Float32Array,
  q: Float32Array,
  A: Float32Array,
  B: Float32Array,
  d: number,
  thr: number,
  tol = 1e-5,
): number {
  const m = B.length / d;
  let worst = 0;
  for (let k = 0; k < p.length; k++) {
    if (Number.isNaN(q[k])) {
      assert(Number.isNaN(p[k]), `${label}: cov[${k}] ${p[k]} should be NaN`);
      continue;
    }
    const i = Math.floor(k / m), j = k % m;
    const [si, sj] = keptStds(A.subarray(i * d, (i + 1) * d), B.subarray(j * d, (j + 1) * d), thr);
    const scale = Math.max(Math.abs(q[k]), si * sj);
    if (scale === 0) continue;
    const e = Math.abs(p[k] - q[k]) / scale;
    worst = Math.max(worst, e);
    assert(e <= tol, `${label}: cov[${k}] prebinned ${p[k]} vs ${q[k]} (${e.toExponential(2)})`);
  }
  return worst;
}

Deno.test("prebinned MI equals the direct kernel, any shape and bin count", opts, async () => {
  const gpu = await testGpu();
  const cases: [number, number, number, number, number][] = [
    // N, D, bins, outlierZ, seed
    [9, 37, 15, 5, 1],
    [13, 100, 2, 2, 2],
    [6, 300, 64, 3, 3], // one pair per workgroup
    [10, 31, 23, 0, 4], // nothing dropped; 7 pairs per workgroup
    [17, 1024, 15, 2.5, 5],
  ];
  for (const [N, D, bins, thr, seed] of cases) {
    const X = rows(N, D, seed);
    const x = Tensor.from(gpu, X, [N, D]);
    for (const triangle of ["upper", "full"] as const) {
      const { p, q } = await both(gpu, x, { bins, outlierZ: thr, triangle });
      const label = `N=${N} D=${D} bins=${bins} z=${thr} ${triangle}`;
      sameMi(label, p[0], q[0]);
      closeCov(label, p[1], q[1], X, X, D, thr);
      if (triangle === "upper") {
        for (let i = 0; i < N; i++) {
          for (let j = 0; j <= i; j++) assert(p[0][i * N + j] === 0 && p[1][i * N + j] === 0);
        }
      }
    }
    x.dispose();
  }
  assert(fastPairs(15) === 17 && fastPairs(2) === 32 && fastPairs(64) === 4);
});

Deno.test("prebinned MI: layers and two groups match the float64 reference", opts, async () => {
  const gpu = await testGpu();
  const [L, N, M, D] = [3, 7, 5, 130];
  const A = rows(L * N, D, 11);
  const B = rows(L * M, D, 12);
  // Group B's row j of layer l: an outlier at A's (l, j) maximum, forcing direct pairs.
  for (let l = 0; l < L; l++) {
    for (let j = 0; j < Math.min(N, M); j++) {
      const a = A.subarray((l * N + j) * D, (l * N + j + 1) * D);
      let am = 0;
      for (let k = 1; k < D; k++) if (a[k] > a[am]) am = k;
      B[(l * M + j) * D + am] = -70;
    }
  }
  const a = Tensor.from(gpu, A, [L, N, D]);
  const b = Tensor.from(gpu, B, [L, M, D]);
  const { p, q } = await both(gpu, a, { other: b, bins: 15, outlierZ: 3 });
  sameMi("two groups", p[0], q[0]);
  let maxMi = 0;
  for (let l = 0; l < L; l++) {
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < M; j++) {
        const x = Float64Array.from(A.subarray((l * N + i) * D, (l * N + i + 1) * D));
        const y = Float64Array.from(B.subarray((l * M + j) * D, (l * M + j + 1) * D));
        const want = mutInfoAndCov(x, y, { bins: 15, outlierThresh: 3 });
        const o = (l * N + i) * M + j;
        maxMi = Math.max(maxMi, Math.abs(p[0][o] - want.mi));
        const [si, sj] = keptStds(Float32Array.from(x), Float32Array.from(y), 3);
        const scale = Math.max(Math.abs(want.cov), si * sj);
        assert(Math.abs(p[1][o] - want.cov) <= 1e-5 * scale, `cov (${l}, ${i}, ${j})`);
      }
    }
  }
  assert(maxMi <= 1e-5, `max |MI - float64| ${maxMi}`);
  a.dispose();
  b.dispose();
});

Deno.test(
  "prebinned MI: per-vector bin masks larger than a binding run in layer chunks",
  opts,
  async () => {
    // 64 bins of D 100: 1 056 bytes of masks per vector, 370 KB for [7, 50, 100], while the
    // stack (140 KB) and the matrices (70 KB) fit a 256 KiB binding.
    const base = await testGpu();
    const { Gpu: GpuContext } = await import("../src/gpu/context.ts");
    const small = new GpuContext(base.device, { ...base.caps, maxStorageBindingBytes: 256 * 1024 });
    const [L, N, D] = [7, 50, 100];
    const X = rows(L * N, D, 31);
    const run = async (gpu: Gpu) => {
      const x = Tensor.from(gpu, X, [L, N, D]);
      const r = pairwiseMiCov(x, { bins: 64, outlierZ: 3 });
      const [m, c] = await gpu.read([r.mi.range, r.cov.range]);
      for (const t of [x, r.mi, r.cov]) t.dispose();
      return [new Float32Array(m, 0, L * N * N), new Float32Array(c, 0, L * N * N)];
    };
    const [m1, c1] = await run(base);
    const [m2, c2] = await run(small);
    for (let k = 0; k < m1.length; k++) {
      assert(Object.is(m1[k], m2[k]) && Object.is(c1[k], c2[k]), `entry ${k}`);
    }
  },
);

Deno.test(
  "prebinned covariance stays f32-accurate when huge activations are dropped",
  opts,
  async () => {
    // GPT-2 hidden states have a few dimensions thousands of times larger than the rest; the
    // outlier rule drops them, and the covariance of the kept elements must not cancel.
    const gpu = await testGpu();
    const [N, D] = [24, 768];
    const X = randn(N * D, 41);
    for (let i = 0; i < N; i++) {
      X[i * D + 138] = 3000 * (1 + 0.01 * i);
      X[i * D + 447] = 2500 * (1 + 0.02 * i);
    }
    const x = Tensor.from(gpu, X, [N, D]);
    const { p, q } = await both(gpu, x, { bins: 15, outlierZ: 5 });
    const want = new Float32Array(N * N);
    for (let i = 0; i < N; i++) {
      for (let j = i + 1; j < N; j++) {
        want[i * N + j] = mutInfoAndCov(
          X.subarray(i * D, (i + 1) * D),
          X.subarray(j * D, (j + 1) * D),
          { bins: 15, outlierThresh: 5 },
        ).cov;
      }
    }
    // Seen on lavapipe: prebinned 1.1e-5 with whole-vector shifts, ~1e-7 with kept-mean shifts.
    const ep = closeCov("prebinned vs float64", p[1], want, X, X, D, 5, 1e-6);
    const eq = closeCov("direct vs float64", q[1], want, X, X, D, 5, 1e-6);
    console.log(
      `cov error / (kept std_i std_j): prebinned ${ep.toExponential(2)}, direct ${
        eq.toExponential(2)
      }`,
    );
    x.dispose();
  },
);
