/**
 * Student t distribution and the two-sample t-test of `scipy.stats.ttest_ind`.
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import { assertMinLength } from "./_validate.ts";
import { mean, variance } from "./describe.ts";
import { regularizedIncompleteBeta } from "./special.ts";

/** Options of {@linkcode ttestInd}. */
export interface TTestOptions {
  /** true (default): Student's test with pooled variance; false: Welch's test. */
  equalVar?: boolean;
}

/** Result of {@linkcode ttestInd}. */
export interface TTestResult {
  /** t statistic, `(mean a - mean b) / standard error`. */
  t: number;
  /** Degrees of freedom (`na + nb - 2`, or Welch–Satterthwaite). */
  df: number;
  /** Two-sided p-value. */
  p: number;
}

function checkDf(df: number): void {
  if (!(df > 0)) {
    throw new InvalidArgumentError(
      `Degrees of freedom must be positive, got "${df}"`,
      "Pass df > 0",
    );
  }
}

/**
 * Two-sided p-value `P(|T| >= |t|)` of the Student t distribution with `df` degrees of
 * freedom: `I_{df/(df+t²)}(df/2, 1/2)`. `t = 0` gives 1, `|t| = Infinity` gives 0, NaN gives NaN.
 *
 * @example
 * ```ts
 * import { studentTTwoSidedP } from "./ttest.ts";
 * studentTTwoSidedP(2, 10); // ≈ 0.07338803477
 * ```
 */
export function studentTTwoSidedP(t: number, df: number): number {
  checkDf(df);
  if (Number.isNaN(t)) return NaN;
  const t2 = t * t;
  if (t2 === Infinity) return 0;
  if (df === Infinity) {
    throw new InvalidArgumentError(
      `Degrees of freedom must be finite, got "${df}"`,
      "Use a normal approximation for infinite degrees of freedom",
    );
  }
  return regularizedIncompleteBeta(df / (df + t2), df / 2, 0.5, t2 / (df + t2));
}

/**
 * Cumulative distribution `P(T <= t)` of the Student t distribution.
 *
 * @example
 * ```ts
 * import { studentTCdf } from "./ttest.ts";
 * studentTCdf(0, 5); // 0.5
 * ```
 */
export function studentTCdf(t: number, df: number): number {
  const half = studentTTwoSidedP(t, df) / 2;
  return t > 0 ? 1 - half : half;
}

/**
 * Independent two-sample t-test, like `scipy.stats.ttest_ind(a, b, equal_var=...)`:
 * Student's test with pooled variance by default, Welch's test with Welch–Satterthwaite df
 * when `equalVar` is false. Variances use ddof 1; each sample needs at least 2 values.
 * As in scipy, zero variance in both samples gives `t = ±Infinity, p = 0` (or NaN when the
 * means are equal too), and an undefined Welch df is replaced by 1.
 *
 * @example
 * ```ts
 * import { ttestInd } from "./ttest.ts";
 * ttestInd([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]);
 * // { t: -1.8973665961010275, df: 8, p: ≈0.0943 }
 * ```
 */
export function ttestInd(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: TTestOptions = {},
): TTestResult {
  assertMinLength("Sample a", a, 2);
  assertMinLength("Sample b", b, 2);
  const n1 = a.length;
  const n2 = b.length;
  const v1 = variance(a, { ddof: 1 });
  const v2 = variance(b, { ddof: 1 });
  let df: number;
  let denom: number;
  if (options.equalVar ?? true) {
    df = n1 + n2 - 2;
    const svar = ((n1 - 1) * v1 + (n2 - 1) * v2) / df;
    denom = Math.sqrt(svar * (1 / n1 + 1 / n2));
  } else {
    const vn1 = v1 / n1;
    const vn2 = v2 / n2;
    df = (vn1 + vn2) ** 2 / (vn1 ** 2 / (n1 - 1) + vn2 ** 2 / (n2 - 1));
    if (Number.isNaN(df)) df = 1;
    denom = Math.sqrt(vn1 + vn2);
  }
  const t = (mean(a) - mean(b)) / denom;
  return { t, df, p: studentTTwoSidedP(t, df) };
}
