/**
 * Pairwise statistics between rows of a matrix `X [N, D]`: cosine similarity, covariance, and
 * the mutual information + covariance pair of `mutInfo_and_cov` (seed 004), all in float64.
 * @module
 */
import { InvalidArgumentError, ShapeError } from "../errors.ts";
import { assertIntegerInRange, assertSameLength } from "./_validate.ts";
import { pairwiseSum } from "./describe.ts";
import { binIndex, linspace } from "./histogram.ts";
import { checkMatrix, getRow, type RowMatrix } from "./matrix.ts";

/** Options of {@linkcode mutInfoAndCov} and {@linkcode pairwiseMiCov}. */
export interface MiCovOptions {
  /** Equal-width bins per axis of the joint histogram (default 15). */
  bins?: number;
  /**
   * Drop element k when `|z| > outlierThresh` in either vector (z-scores with ddof 1 over all
   * D elements); 0 (default) keeps everything.
   */
  outlierThresh?: number;
}

/** Mutual information (bits) and covariance (ddof 1) of one pair of vectors. */
export interface MiCov {
  /** Mutual information `Hx + Hy - Hxy` in bits. */
  mi: number;
  /** Covariance `sum((x - mean x)(y - mean y)) / (n - 1)` over the kept elements. */
  cov: number;
}

/** Result of {@linkcode pairwiseMiCov}: `[N, N]` matrices, upper triangle (i < j) filled. */
export interface PairwiseMiCov {
  /** Mutual information, `[N, N]` row-major, 0 on and below the diagonal. */
  mi: Float64Array;
  /** Covariance, `[N, N]` row-major, 0 on and below the diagonal. */
  cov: Float64Array;
}

function rowNorms(m: RowMatrix): Float64Array {
  const norms = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    let s = 0;
    for (let k = 0, o = i * m.cols; k < m.cols; k++) s += m.data[o + k] * m.data[o + k];
    norms[i] = Math.sqrt(s);
  }
  return norms;
}

/**
 * Cosine similarity between every row of `A [N, D]` and every row of `B [M, D]` →
 * Float64Array `[N, M]` row-major. A pair involving a zero-norm row gives 0 (not NaN).
 *
 * @example
 * ```ts
 * import { cosineMatrixAB, rowMatrix } from "./mod.ts";
 * const A = rowMatrix([1, 0, 0, 1], 2, 2);
 * const B = rowMatrix([1, 1], 1, 2);
 * cosineMatrixAB(A, B); // Float64Array [0.7071067811865475, 0.7071067811865475]
 * ```
 */
export function cosineMatrixAB(A: RowMatrix, B: RowMatrix): Float64Array {
  checkMatrix(A);
  checkMatrix(B);
  if (A.cols !== B.cols) {
    throw new ShapeError(
      `Both matrices need the same number of columns, got "${A.cols}" and "${B.cols}"`,
      "Compare vectors of the same dimension D",
    );
  }
  const na = rowNorms(A);
  const nb = A === B ? na : rowNorms(B);
  const d = A.cols;
  const out = new Float64Array(A.rows * B.rows);
  for (let i = 0; i < A.rows; i++) {
    for (let j = 0; j < B.rows; j++) {
      if (na[i] === 0 || nb[j] === 0) continue;
      let s = 0;
      for (let k = 0; k < d; k++) s += A.data[i * d + k] * B.data[j * d + k];
      out[i * B.rows + j] = s / (na[i] * nb[j]);
    }
  }
  return out;
}

/**
 * Cosine similarity between all rows of `X [N, D]` → Float64Array `[N, N]` row-major
 * (`Xn @ Xn.T` with unit-norm rows). Rows with zero norm give 0 everywhere, their own
 * diagonal entry included.
 *
 * @example
 * ```ts
 * import { cosineMatrix, rowMatrix } from "./mod.ts";
 * cosineMatrix(rowMatrix([1, 0, 1, 1], 2, 2)); // [1, 0.7071…, 0.7071…, 1]
 * ```
 */
export function cosineMatrix(X: RowMatrix): Float64Array {
  return cosineMatrixAB(X, X);
}

/**
 * Covariance (ddof 1) between every pair of rows of `X [N, D]` → Float64Array `[N, N]`,
 * like `np.cov(X)`: entry (i, j) is `sum((x_i - mean x_i)(x_j - mean x_j)) / (D - 1)`.
 * Needs D >= 2.
 */
export function covarianceMatrix(X: RowMatrix): Float64Array {
  checkMatrix(X);
  assertIntegerInRange("Cols", X.cols, 2);
  const { rows: n, cols: d } = X;
  const centered = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = getRow(X, i);
    const m = pairwiseSum(row) / d;
    for (let k = 0; k < d; k++) centered[i * d + k] = row[k] - m;
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += centered[i * d + k] * centered[j * d + k];
      out[i * n + j] = out[j * n + i] = s / (d - 1);
    }
  }
  return out;
}

/** `|z| > thresh` per element, z-scores with ddof 1 (`(x - x.mean()) / x.std(ddof=1)`). */
function outlierMask(x: Float64Array, thresh: number): Uint8Array {
  const n = x.length;
  const mask = new Uint8Array(n);
  if (!(thresh > 0)) return mask;
  const m = pairwiseSum(x) / n;
  const sq = new Float64Array(n);
  for (let k = 0; k < n; k++) sq[k] = (x[k] - m) * (x[k] - m);
  const s = Math.sqrt(pairwiseSum(sq) / (n - 1));
  // A constant vector has s = 0 and z = NaN; NaN > thresh is false, as in numpy.
  for (let k = 0; k < n; k++) mask[k] = Math.abs((x[k] - m) / s) > thresh ? 1 : 0;
  return mask;
}

/** -sum(p * log2(p + eps)) with numpy's pairwise summation. */
function entropyBits(p: Float64Array): number {
  const terms = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) terms[i] = p[i] * Math.log2(p[i] + 1e-12);
  return -pairwiseSum(terms);
}

/** Core of mutInfoAndCov once outlier masks are known; x and y are float64 `[D]`. */
function miCovMasked(
  x: Float64Array,
  y: Float64Array,
  maskX: Uint8Array,
  maskY: Uint8Array,
  bins: number,
): MiCov {
  const n = x.length;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  let m = 0;
  let finite = true;
  let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
  for (let k = 0; k < n; k++) {
    if (maskX[k] || maskY[k]) continue;
    const a = x[k];
    const b = y[k];
    xs[m] = a;
    ys[m] = b;
    m++;
    if (!Number.isFinite(a) || !Number.isFinite(b)) finite = false;
    if (a < xmin) xmin = a;
    if (a > xmax) xmax = a;
    if (b < ymin) ymin = b;
    if (b > ymax) ymax = b;
  }
  if (m < 2) return { mi: NaN, cov: NaN };
  if (!finite) {
    throw new InvalidArgumentError(
      `Inputs must be finite, got a non-finite value in "[${xmin}, ${xmax}]" x "[${ymin}, ${ymax}]"`,
      "Remove NaN and infinite values before computing mutual information",
    );
  }
  if (xmin === xmax) [xmin, xmax] = [xmin - 0.5, xmax + 0.5];
  if (ymin === ymax) [ymin, ymax] = [ymin - 0.5, ymax + 0.5];
  const xe = linspace(xmin, xmax, bins + 1);
  const ye = linspace(ymin, ymax, bins + 1);

  // Joint histogram Z [bins, bins] → pZ = Z / Z.sum(); every kept point lands in a bin.
  const pZ = new Float64Array(bins * bins);
  for (let k = 0; k < m; k++) pZ[binIndex(xe, xs[k]) * bins + binIndex(ye, ys[k])]++;
  for (let i = 0; i < pZ.length; i++) pZ[i] /= m;
  // px = pZ.sum(axis=1) (pairwise along a row); py = pZ.sum(axis=0) (row by row).
  const px = new Float64Array(bins);
  const py = new Float64Array(bins);
  for (let i = 0; i < bins; i++) {
    px[i] = pairwiseSum(pZ, i * bins, bins);
    for (let j = 0; j < bins; j++) py[j] += pZ[i * bins + j];
  }
  const mi = entropyBits(px) + entropyBits(py) - entropyBits(pZ);

  const xsK = xs.subarray(0, m);
  const ysK = ys.subarray(0, m);
  const mx = pairwiseSum(xsK) / m;
  const my = pairwiseSum(ysK) / m;
  let c = 0;
  for (let k = 0; k < m; k++) c += (xsK[k] - mx) * (ysK[k] - my);
  return { mi, cov: c / (m - 1) };
}

function miCovOptions(options: MiCovOptions): [number, number] {
  const bins = options.bins ?? 15;
  const thresh = options.outlierThresh ?? 0;
  assertIntegerInRange("Bin count", bins, 1);
  if (typeof thresh !== "number" || Number.isNaN(thresh)) {
    throw new InvalidArgumentError(
      `Outlier threshold must be a number, got "${thresh}"`,
      "Pass a z-score threshold such as 5, or 0 to keep every element",
    );
  }
  return [bins, thresh];
}

/**
 * Mutual information (bits) and covariance of two vectors `[D]`, exactly as seed 004's
 * `mutInfo_and_cov(x, y, outlierThresh)`:
 * 1. if `outlierThresh > 0`, drop element k when `|zx_k|` or `|zy_k|` exceeds it (z-scores
 *    with ddof 1 over all D elements);
 * 2. `Z = np.histogram2d(x, y, bins)` on the kept elements, `pZ = Z / Z.sum()`, marginals
 *    `px`, `py`;
 * 3. entropies `H = -sum(p * log2(p + 1e-12))`, `mi = Hx + Hy - Hxy`;
 * 4. `cov = sum((x - mean x)(y - mean y)) / (n - 1)` on the kept elements.
 *
 * Fewer than 2 kept elements give `{ mi: NaN, cov: NaN }` (numpy would warn and give NaN).
 *
 * @example
 * ```ts
 * import { mutInfoAndCov } from "./pairwise.ts";
 * const x = [1, 2, 3, 4, 5, 6];
 * mutInfoAndCov(x, x, { bins: 3 }); // { mi: ≈1.585 (log2 3), cov: 3.5 }
 * ```
 */
export function mutInfoAndCov(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  options: MiCovOptions = {},
): MiCov {
  assertSameLength(x, y);
  const [bins, thresh] = miCovOptions(options);
  const xf = Float64Array.from(x);
  const yf = Float64Array.from(y);
  return miCovMasked(xf, yf, outlierMask(xf, thresh), outlierMask(yf, thresh), bins);
}

/**
 * {@linkcode mutInfoAndCov} for every pair of rows i < j of `X [N, D]` → `{ mi, cov }`, each a
 * Float64Array `[N, N]` row-major with the upper triangle filled and zeros elsewhere (the
 * seed's layout). Outlier masks are computed once per row.
 *
 * @example
 * ```ts
 * import { pairwiseMiCov, rowMatrix, upperTriangle } from "./mod.ts";
 * const X = rowMatrix(new Float32Array(40 * 256).map(Math.random), 40, 256);
 * const { mi } = pairwiseMiCov(X, { bins: 15, outlierThresh: 5 });
 * const values = upperTriangle(mi, 40); // 780 pairs in np.triu_indices order
 * ```
 */
export function pairwiseMiCov(X: RowMatrix, options: MiCovOptions = {}): PairwiseMiCov {
  checkMatrix(X);
  const [bins, thresh] = miCovOptions(options);
  const n = X.rows;
  const rows = Array.from({ length: n }, (_, i) => getRow(X, i));
  const masks = rows.map((r) => outlierMask(r, thresh));
  const mi = new Float64Array(n * n);
  const cov = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const r = miCovMasked(rows[i], rows[j], masks[i], masks[j], bins);
      mi[i * n + j] = r.mi;
      cov[i * n + j] = r.cov;
    }
  }
  return { mi, cov };
}
