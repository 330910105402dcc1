import assert from "node:assert/strict";
import {
  logGamma,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTTwoSidedP,
  ttestInd,
} from "../src/stats/mod.ts";
import { InvalidArgumentError } from "../src/errors.ts";

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

/**
 * Independent oracle: closed forms of the two-sided Student t p-value for integer df, with
 * θ = atan(|t| / √df). Even df: 1 − sin θ · Σ_{j<df/2} c_j cos^{2j} θ, c_0 = 1,
 * c_j = c_{j−1}(2j − 1)/(2j). Odd df: 1 − (2/π)(θ + sin θ cos θ Σ_{j<(df−1)/2} d_j cos^{2j} θ),
 * d_0 = 1, d_j = d_{j−1}(2j)/(2j + 1).
 */
function closedFormP(t: number, df: number): number {
  const th = Math.atan(Math.abs(t) / Math.sqrt(df));
  const c2 = Math.cos(th) ** 2;
  let sum = 0;
  let term = 1;
  if (df % 2 === 0) {
    for (let j = 0; j < df / 2; j++) {
      if (j > 0) term *= (2 * j - 1) / (2 * j);
      sum += term * c2 ** j;
    }
    return 1 - Math.sin(th) * sum;
  }
  for (let j = 0; j < (df - 1) / 2; j++) {
    if (j > 0) term *= (2 * j) / (2 * j + 1);
    sum += term * c2 ** j;
  }
  return 1 - (2 / Math.PI) * (th + Math.sin(th) * Math.cos(th) * sum);
}

Deno.test("log-gamma matches factorials and Γ(1/2)", () => {
  let f = 1;
  for (let n = 1; n <= 30; n++) {
    if (n > 1) f *= n - 1;
    assert.ok(Math.abs(logGamma(n) - Math.log(f)) < 1e-13 * Math.max(1, Math.log(f)));
  }
  assert.ok(Math.abs(logGamma(0.5) - 0.5 * Math.log(Math.PI)) < 1e-14);
  // Γ(−2.5) = −8√π/15 → log|Γ| = log(8√π/15)
  assert.ok(Math.abs(logGamma(-2.5) - Math.log((8 * Math.sqrt(Math.PI)) / 15)) < 1e-13);
  assert.equal(logGamma(0), Infinity);
});

Deno.test("regularized incomplete beta: closed forms", () => {
  for (const x of [0, 0.1, 0.3, 0.77, 1]) {
    assert.ok(Math.abs(regularizedIncompleteBeta(x, 1, 1) - x) < 1e-15);
    // I_x(a, 1) = x^a ; I_x(2, 2) = 3x² − 2x³
    assert.ok(Math.abs(regularizedIncompleteBeta(x, 3.5, 1) - x ** 3.5) < 1e-14);
    assert.ok(Math.abs(regularizedIncompleteBeta(x, 2, 2) - (3 * x * x - 2 * x ** 3)) < 1e-14);
  }
  assert.throws(() => regularizedIncompleteBeta(1.5, 1, 1), InvalidArgumentError);
  assert.throws(() => regularizedIncompleteBeta(0.5, 0, 1), InvalidArgumentError);
});

Deno.test("Student t p-values: t = 2, df = 10 and closed forms", () => {
  const p = studentTTwoSidedP(2, 10);
  assert.ok(Math.abs(p - 0.07338803477) < 1e-11, `${p}`);
  assert.ok(rel(p, closedFormP(2, 10)) < 1e-12);
  assert.equal(studentTTwoSidedP(0, 10), 1);
  assert.equal(studentTTwoSidedP(0, 3.7), 1);
  for (const df of [1, 2, 3, 4, 5, 8, 9, 30]) {
    for (const t of [0.1, 0.5, 1, 2.5, 4, 10]) {
      // The closed form computes 1 − (something near 1), so compare absolutely.
      const d = Math.abs(studentTTwoSidedP(t, df) - closedFormP(t, df));
      assert.ok(d < 1e-14, `t=${t} df=${df}: ${d}`);
      assert.equal(studentTTwoSidedP(-t, df), studentTTwoSidedP(t, df));
    }
  }
  // Cauchy (df = 1): p = 1 − 2 atan(t)/π; df = 2: p = 1 − t/√(2 + t²)
  assert.ok(rel(studentTTwoSidedP(3, 1), 1 - (2 * Math.atan(3)) / Math.PI) < 1e-13);
  assert.ok(rel(studentTTwoSidedP(3, 2), 1 - 3 / Math.sqrt(11)) < 1e-13);
  assert.equal(studentTCdf(0, 5), 0.5);
  assert.ok(Math.abs(studentTCdf(2, 10) - (1 - 0.07338803477 / 2)) < 1e-11);
  assert.ok(Math.abs(studentTCdf(-2, 10) - 0.07338803477 / 2) < 1e-11);
});

Deno.test("Student t p-values: huge |t| is tiny but not negative, and accurate", () => {
  // In the tail the closed forms cancel, so the references are scipy 1.17.1's 2 * t.sf(t, df).
  const scipy: [number, number, number][] = [
    [10, 8, 8.488181527628489e-06],
    [40, 8, 1.6785718879145792e-10],
    [50, 3, 1.761715204127197e-05],
    [1e3, 20, 1.803913399589147e-48],
    [10, 30, 4.575251408229618e-11],
    [1e6, 30, 2.0729069296087578e-159],
  ];
  for (const [t, df, want] of scipy) {
    const p = studentTTwoSidedP(t, df);
    assert.ok(p > 0, `${p}`);
    assert.ok(rel(p, want) < 1e-12, `t=${t} df=${df}: ${p} vs ${want}`);
  }
  assert.equal(studentTTwoSidedP(1e300, 3), 0); // t² overflows to Infinity
  assert.equal(studentTTwoSidedP(Infinity, 5), 0);
  assert.ok(Number.isNaN(studentTTwoSidedP(NaN, 5)));
  assert.throws(() => studentTTwoSidedP(1, 0), InvalidArgumentError);
});

Deno.test("ttestInd (Student) matches scipy.stats.ttest_ind", () => {
  // means 3 and 6, variances 2.5 and 10, pooled (4·2.5 + 4·10)/8 = 6.25,
  // se = √(6.25·(1/5 + 1/5)) = √2.5, t = −3/√2.5 = −6/√10, df = 8.
  const r = ttestInd([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]);
  assert.equal(r.df, 8);
  assert.ok(Math.abs(r.t - -1.8973665961010275) < 1e-15);
  assert.ok(Math.abs(r.t - -6 / Math.sqrt(10)) < 1e-15);
  assert.ok(rel(r.p, closedFormP(r.t, 8)) < 1e-12);
  assert.ok(Math.abs(r.p - 0.0943497728424) < 1e-12); // scipy: 0.09434977284243762
});

Deno.test("ttestInd (Welch) matches scipy.stats.ttest_ind(equal_var=False)", () => {
  // se = √(2.5/5 + 10/5) = √2.5 (same t); df = 2.5² / (0.5²/4 + 2²/4) = 6.25/1.0625 = 100/17
  const r = ttestInd([1, 2, 3, 4, 5], [2, 4, 6, 8, 10], { equalVar: false });
  assert.ok(Math.abs(r.t - -6 / Math.sqrt(10)) < 1e-15);
  assert.ok(Math.abs(r.df - 100 / 17) < 1e-14);
  assert.ok(rel(r.p, 0.10753119493062728) < 1e-12); // scipy 1.17.1
  // Unequal sizes: scipy gives t = −2.060342481002735, df = 9.396813593725634,
  // p = 0.06813438052195663
  const u = ttestInd([1.1, 2.3, 2.9, 4.2, 5.5, 3.3], [2, 4.4, 6, 8, 10.1, 3, 7], {
    equalVar: false,
  });
  assert.ok(Math.abs(u.t - -2.060342481002735) < 1e-14);
  assert.ok(Math.abs(u.df - 9.396813593725634) < 1e-12);
  assert.ok(rel(u.p, 0.06813438052195663) < 1e-12);
});

Deno.test("ttestInd edge cases", () => {
  const same = ttestInd([1, 2, 3], [1, 2, 3]);
  assert.equal(same.t, 0);
  assert.equal(same.p, 1);
  const flat = ttestInd([1, 1, 1], [2, 2, 2]);
  assert.equal(flat.t, -Infinity);
  assert.equal(flat.p, 0);
  const welchFlat = ttestInd([1, 1], [1, 1], { equalVar: false });
  assert.equal(welchFlat.df, 1); // scipy replaces an undefined Welch df with 1
  assert.ok(Number.isNaN(welchFlat.p));
  assert.throws(
    () => ttestInd([1], [1, 2]),
    (e: Error) => e instanceof InvalidArgumentError && e.message.includes('"1"'),
  );
});
