// Pairwise statistics against the numpy golden fixture (seed 004's mutInfo_and_cov).
import assert from "node:assert/strict";
import { readGolden } from "./helpers/golden.ts";
import {
  cosineMatrix,
  cosineMatrixAB,
  covarianceMatrix,
  mean,
  mutInfoAndCov,
  pairwiseMiCov,
  rowMatrix,
  std,
  upperTriangle,
} from "../src/stats/mod.ts";
import { InvalidArgumentError, ShapeError } from "../src/errors.ts";

const golden = readGolden(
  new URL("./fixtures/pairwise-golden.safetensors", import.meta.url).pathname,
);
const N = 40;
const D = 256;
const X = rowMatrix(golden.get("X")!.data, N, D);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; over: number } {
  assert.equal(a.length, b.length);
  let max = 0;
  let over = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= max)) max = e; // NaN propagates
    if (!(e <= 1e-9)) over++;
  }
  return { max, over };
}

Deno.test("golden fixture has the documented shapes", () => {
  assert.deepEqual(golden.get("X")!.shape, [N, D]);
  assert.equal(golden.get("X")!.dtype, "F32");
  for (const name of ["mi", "cov"]) {
    assert.deepEqual(golden.get(name)!.shape, [N, N]);
    assert.equal(golden.get(name)!.dtype, "F64");
  }
  assert.deepEqual(golden.get("cos")!.shape, [N, N]);
});

Deno.test("pairwiseMiCov matches numpy mutInfo_and_cov (bins 15, outlierThresh 5) to 1e-9", () => {
  const { mi, cov } = pairwiseMiCov(X, { bins: 15, outlierThresh: 5 });
  const dMi = maxAbsDiff(mi, golden.get("mi")!.data);
  const dCov = maxAbsDiff(cov, golden.get("cov")!.data);
  // Measured: both 0 (bit-exact), thanks to numpy's pairwise summation order and exact edges.
  assert.ok(dMi.max <= 1e-9, `mi max diff ${dMi.max}, ${dMi.over} entries over 1e-9`);
  assert.ok(dCov.max <= 1e-9, `cov max diff ${dCov.max}, ${dCov.over} entries over 1e-9`);
  // Seed layout: only i < j is filled.
  for (let i = 0; i < N; i++) {
    for (let j = 0; j <= i; j++) {
      assert.equal(mi[i * N + j], 0);
      assert.equal(cov[i * N + j], 0);
    }
  }
  assert.equal(upperTriangle(mi, N).length, (N * (N - 1)) / 2);
});

Deno.test("mutInfoAndCov on single rows agrees with pairwiseMiCov", () => {
  const { mi, cov } = pairwiseMiCov(X, { bins: 15, outlierThresh: 5 });
  for (const [i, j] of [[0, 1], [3, 17], [38, 39]]) {
    const xi = X.data as Float32Array;
    const r = mutInfoAndCov(xi.subarray(i * D, (i + 1) * D), xi.subarray(j * D, (j + 1) * D), {
      bins: 15,
      outlierThresh: 5,
    });
    assert.equal(r.mi, mi[i * N + j]);
    assert.equal(r.cov, cov[i * N + j]);
  }
});

Deno.test("cosineMatrix matches the float32 fixture to 1e-6", () => {
  // The fixture was computed in float32 (its diagonal is 1 + 6 ulp = 1.0000007); we compute
  // in float64, so the bound covers float32 accumulation error over D = 256 (measured 7.2e-7).
  const cos = cosineMatrix(X);
  const d = maxAbsDiff(cos, golden.get("cos")!.data);
  assert.ok(d.max <= 1e-6, `cos max diff ${d.max}`);
  for (let i = 0; i < N; i++) assert.ok(Math.abs(cos[i * N + i] - 1) < 1e-14);
});

Deno.test("covarianceMatrix equals the fixture's cov wherever no outlier was dropped", () => {
  const full = covarianceMatrix(X);
  const gcov = golden.get("cov")!.data;
  const clean: boolean[] = [];
  for (let i = 0; i < N; i++) {
    const row = Float64Array.from((X.data as Float32Array).subarray(i * D, (i + 1) * D));
    const m = mean(row);
    const s = std(row, { ddof: 1 });
    clean.push(row.every((v) => Math.abs((v - m) / s) <= 5));
  }
  let checked = 0;
  for (let i = 0; i < N; i++) {
    for (let j = i + 1; j < N; j++) {
      assert.ok(Math.abs(full[i * N + j] - full[j * N + i]) === 0);
      if (clean[i] && clean[j]) {
        assert.ok(Math.abs(full[i * N + j] - gcov[i * N + j]) <= 1e-12);
        checked++;
      }
    }
  }
  assert.ok(checked > 0, "expected some outlier-free pairs");
});

Deno.test("covarianceMatrix of a hand-worked example", () => {
  // rows [1,2,3] and [2,4,7]: var 1 and 19/3, cov (−1·−7/3 + 0 + 1·8/3) / 2 = 2.5
  const c = covarianceMatrix(rowMatrix([1, 2, 3, 2, 4, 7], 2, 3));
  const want = [1, 2.5, 2.5, 19 / 3];
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(c[i] - want[i]) < 1e-14);
});

Deno.test("cosine: zero rows give 0 and cross-group shape is [N, M]", () => {
  const A = rowMatrix(new Float64Array([1, 0, 0, 0, 3, 4]), 3, 2);
  const B = rowMatrix(new Float32Array([1, 1, 0, 2]), 2, 2);
  const c = cosineMatrixAB(A, B);
  assert.equal(c.length, 6);
  assert.ok(Math.abs(c[0] - Math.SQRT1_2) < 1e-15);
  assert.equal(c[1], 0);
  assert.deepEqual([c[2], c[3]], [0, 0]);
  assert.ok(Math.abs(c[4] - 7 / (5 * Math.SQRT2)) < 1e-15);
  assert.ok(Math.abs(c[5] - 0.8) < 1e-15);
  assert.equal(cosineMatrix(A)[1 * 3 + 1], 0); // zero-norm row, diagonal included
  assert.throws(() => cosineMatrixAB(A, rowMatrix([1, 2, 3], 1, 3)), ShapeError);
  assert.throws(() => rowMatrix([1, 2, 3], 2, 2), ShapeError);
});

Deno.test("mutInfoAndCov: identical vectors give log2(bins), outliers are dropped", () => {
  const x = [1, 2, 3, 4, 5, 6];
  const r = mutInfoAndCov(x, x, { bins: 3 });
  assert.ok(Math.abs(r.mi - Math.log2(3)) < 1e-10); // eps = 1e-12 shifts it by ~1e-11
  assert.ok(Math.abs(r.cov - 3.5) < 1e-15);

  // 29 zeros and one 100: z(100) = 5.29 > 5, so element 29 is dropped from both vectors.
  const a = [...new Array(29).fill(0), 100];
  const b = Array.from({ length: 30 }, (_, k) => Math.sin(k));
  const kept = mutInfoAndCov(a.slice(0, 29), b.slice(0, 29));
  assert.deepEqual(mutInfoAndCov(a, b, { outlierThresh: 5 }), kept);
  assert.notDeepEqual(mutInfoAndCov(a, b), kept);
  // Constant x after dropping: histogram range (−0.5, 0.5), so MI is 0 up to eps effects.
  assert.ok(Math.abs(kept.mi) < 1e-10);
  assert.equal(kept.cov, 0);

  assert.throws(() => mutInfoAndCov([1, 2], [1, 2, 3]), ShapeError);
  assert.throws(() => mutInfoAndCov([1, NaN, 3], [1, 2, 3]), InvalidArgumentError);
  assert.throws(() => mutInfoAndCov([1, 2, 3], [1, 2, 3], { bins: 0 }), InvalidArgumentError);
});
