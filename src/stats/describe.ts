/**
 * Descriptive statistics in float64 with numpy's summation order: mean, variance, standard
 * deviation, Pearson correlation, extrema, quantiles and upper-triangle extraction.
 *
 * Sums use {@linkcode pairwiseSum}, the same pairwise summation numpy uses for contiguous
 * float64 reductions, so results agree with numpy bit for bit on float64 input.
 * @module
 */
import { InvalidArgumentError, ShapeError } from "../errors.ts";
import { assertIntegerInRange, assertMinLength, assertSameLength } from "./_validate.ts";

/** Options of {@linkcode variance} and {@linkcode std}. */
export interface VarianceOptions {
  /** Delta degrees of freedom: the divisor is `n - ddof` (numpy default 0). */
  ddof?: number;
}

/**
 * Sum with numpy's pairwise algorithm (blocks of 128, eight accumulators), `[n]` → scalar.
 * Matches `np.sum` on a contiguous float64 array exactly. Empty input sums to 0.
 *
 * @example
 * ```ts
 * import { pairwiseSum } from "./describe.ts";
 * pairwiseSum([0.1, 0.2, 0.3]); // 0.6000000000000001, like np.sum
 * ```
 */
export function pairwiseSum(
  values: ArrayLike<number>,
  start = 0,
  n = values.length - start,
): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += values[start + i];
    return res;
  }
  if (n <= 128) {
    const r = new Float64Array(8);
    for (let j = 0; j < 8; j++) r[j] = values[start + j];
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] += values[start + i + j];
    }
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += values[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(values, start, n2) + pairwiseSum(values, start + n2, n - n2);
}

/**
 * Arithmetic mean, `[n]` → scalar, like `np.mean`. Empty input gives NaN.
 *
 * @example
 * ```ts
 * import { mean } from "./describe.ts";
 * mean([1, 2, 3, 4]); // 2.5
 * ```
 */
export function mean(values: ArrayLike<number>): number {
  return pairwiseSum(values) / values.length;
}

/**
 * Variance `sum((x - mean)^2) / (n - ddof)`, like `np.var(x, ddof=ddof)` (default ddof 0).
 * Gives NaN when `n - ddof <= 0`, where numpy warns and returns NaN or Inf.
 *
 * @example
 * ```ts
 * import { variance } from "./describe.ts";
 * variance([1, 2, 3, 4, 5], { ddof: 1 }); // 2.5
 * ```
 */
export function variance(values: ArrayLike<number>, options: VarianceOptions = {}): number {
  const ddof = options.ddof ?? 0;
  assertIntegerInRange("Ddof", ddof, 0);
  const n = values.length;
  if (n - ddof <= 0) return NaN;
  const m = mean(values);
  const sq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = values[i] - m;
    sq[i] = d * d;
  }
  return pairwiseSum(sq) / (n - ddof);
}

/** Standard deviation `sqrt(variance(x, {ddof}))`, like `np.std` (default ddof 0). */
export function std(values: ArrayLike<number>, options: VarianceOptions = {}): number {
  return Math.sqrt(variance(values, options));
}

/**
 * Pearson correlation of two equally long vectors, like `np.corrcoef(a, b)[0, 1]`
 * (clipped to [-1, 1]). A constant vector gives NaN, as in numpy.
 *
 * @example
 * ```ts
 * import { pearson } from "./describe.ts";
 * pearson([1, 2, 3], [2, 4, 7]); // 0.9933992677987828
 * ```
 */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertSameLength(a, b);
  assertMinLength("Input", a, 2);
  const n = a.length;
  const ma = mean(a);
  const mb = mean(b);
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    saa += da * da;
    sbb += db * db;
    sab += da * db;
  }
  const f = n - 1;
  const r = sab / f / Math.sqrt(saa / f) / Math.sqrt(sbb / f);
  return Number.isNaN(r) ? r : Math.min(1, Math.max(-1, r));
}

/** Smallest value; NaN if any value is NaN (like `np.min`). Throws on empty input. */
export function min(values: ArrayLike<number>): number {
  assertMinLength("Input", values, 1);
  let m = Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) return NaN;
    if (v < m) m = v;
  }
  return m;
}

/** Largest value; NaN if any value is NaN (like `np.max`). Throws on empty input. */
export function max(values: ArrayLike<number>): number {
  assertMinLength("Input", values, 1);
  let m = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) return NaN;
    if (v > m) m = v;
  }
  return m;
}

/**
 * Quantile with numpy's default "linear" method (`np.quantile(x, q)`), `q` in [0, 1].
 *
 * @example
 * ```ts
 * import { quantile } from "./describe.ts";
 * quantile([1, 2, 3, 4], 0.5); // 2.5
 * ```
 */
export function quantile(values: ArrayLike<number>, q: number): number {
  assertMinLength("Input", values, 1);
  if (!(q >= 0 && q <= 1)) {
    throw new InvalidArgumentError(
      `Quantile must be between 0 and 1, got "${q}"`,
      "Pass q = 0.5 for the median, 0.25 and 0.75 for the quartiles",
    );
  }
  const sorted = Float64Array.from(values).sort();
  if (Number.isNaN(sorted[sorted.length - 1])) return NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const t = pos - lo;
  const a = sorted[lo];
  const d = sorted[hi] - a;
  // numpy's _lerp: interpolate from whichever end is closer.
  return t >= 0.5 ? sorted[hi] - d * (1 - t) : a + d * t;
}

/**
 * Values of a row-major `[n, n]` matrix above diagonal offset `k`, in the order of
 * `np.triu_indices(n, k)` (row by row): `matrix[np.triu_indices(n, k)]`.
 *
 * @example
 * ```ts
 * import { upperTriangle } from "./describe.ts";
 * upperTriangle([1, 2, 3, 4, 5, 6, 7, 8, 9], 3); // Float64Array [2, 3, 6]
 * ```
 */
export function upperTriangle(matrix: ArrayLike<number>, n: number, k = 1): Float64Array {
  assertIntegerInRange("Matrix size", n, 0);
  assertIntegerInRange("Diagonal offset", k, -Number.MAX_SAFE_INTEGER);
  if (matrix.length !== n * n) {
    throw new ShapeError(
      `Matrix must hold n * n = ${n * n} values, got "${matrix.length}"`,
      "Pass a row-major square matrix and its side length",
    );
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = Math.max(0, i + k); j < n; j++) out.push(matrix[i * n + j]);
  }
  return Float64Array.from(out);
}
