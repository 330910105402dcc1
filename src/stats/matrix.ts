/**
 * A minimal row-major matrix view used by the pairwise statistics.
 * @module
 */
import { ShapeError } from "../errors.ts";
import { assertIntegerInRange } from "./_validate.ts";

/** Row-major matrix `[rows, cols]`: element `(i, j)` is `data[i * cols + j]`. */
export interface RowMatrix {
  /** `rows * cols` values, row-major (Float32Array and Float64Array both work). */
  data: ArrayLike<number>;
  /** Number of rows (observations, e.g. tokens), N. */
  rows: number;
  /** Number of columns (features, e.g. embedding dimensions), D. */
  cols: number;
}

/**
 * Wrap row-major data as a {@linkcode RowMatrix} `[rows, cols]`, checking the size.
 *
 * @example
 * ```ts
 * import { rowMatrix } from "./matrix.ts";
 * const X = rowMatrix(new Float32Array(6), 2, 3); // 2 rows of 3 values
 * ```
 */
export function rowMatrix(data: ArrayLike<number>, rows: number, cols: number): RowMatrix {
  const m = { data, rows, cols };
  checkMatrix(m);
  return m;
}

/** Throw a ShapeError unless `data.length === rows * cols` with non-negative integer sizes. */
export function checkMatrix(m: RowMatrix): void {
  assertIntegerInRange("Rows", m.rows, 0);
  assertIntegerInRange("Cols", m.cols, 0);
  if (m.data.length !== m.rows * m.cols) {
    throw new ShapeError(
      `Matrix data must hold rows * cols = ${m.rows * m.cols} values, got "${m.data.length}"`,
      "Pass row-major data with exactly rows * cols elements",
    );
  }
}

/** Row `i` of `m` as a new Float64Array `[cols]`. */
export function getRow(m: RowMatrix, i: number): Float64Array {
  const out = new Float64Array(m.cols);
  const off = i * m.cols;
  for (let j = 0; j < m.cols; j++) out[j] = m.data[off + j];
  return out;
}
