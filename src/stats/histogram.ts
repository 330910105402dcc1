/**
 * Histograms that reproduce numpy exactly: {@linkcode histogram} (`np.histogram`),
 * {@linkcode histogram2d} (`np.histogram2d`) and the `density=True` normalisations.
 *
 * Binning rule (both functions): bin `i` holds `edges[i] <= v < edges[i + 1]`, except the last
 * bin, which also holds `v == edges[last]`; a value exactly on an inner edge goes to the upper
 * bin. Values outside the edges (and NaN) are not counted. Automatic edges are
 * `linspace(min, max, bins + 1)` of the data; when `min == max` numpy uses
 * `(min - 0.5, max + 0.5)`. Computations are float64: results equal numpy's on float64 input.
 * @module
 */
import { InvalidArgumentError, ShapeError } from "../errors.ts";
import { assertIntegerInRange, assertSameLength } from "./_validate.ts";

/** Lower and upper edge of a histogram range. */
export type Range = readonly [number, number];

/** Options of {@linkcode histogram} and {@linkcode histogramEdges}. */
export interface HistogramOptions {
  /** Number of equal-width bins (default 10) or explicit increasing edges `[bins + 1]`. */
  bins?: number | ArrayLike<number>;
  /** Range of the equal-width bins; default the data's min and max. Ignored with explicit edges. */
  range?: Range;
}

/** Result of {@linkcode histogram}. */
export interface Histogram {
  /** Counts per bin, `[bins]`. */
  counts: Float64Array;
  /** Bin edges, `[bins + 1]`. */
  edges: Float64Array;
}

/** Options of {@linkcode histogram2d}. */
export interface Histogram2dOptions {
  /** Per-axis ranges `[[xmin, xmax], [ymin, ymax]]`; default each axis' data min and max. */
  range?: readonly [Range, Range];
}

/** Result of {@linkcode histogram2d}. */
export interface Histogram2d {
  /** Counts, row-major `[xBins, yBins]`: `counts[i * yBins + j]` is x bin i and y bin j. */
  counts: Float64Array;
  /** Edges along x, `[xBins + 1]`. */
  xEdges: Float64Array;
  /** Edges along y, `[yBins + 1]`. */
  yEdges: Float64Array;
}

/**
 * `np.linspace(start, stop, num)` bit for bit: `i * step + start` with the last value set to
 * `stop`.
 *
 * @example
 * ```ts
 * import { linspace } from "./histogram.ts";
 * linspace(0, 1, 5); // Float64Array [0, 0.25, 0.5, 0.75, 1]
 * ```
 */
export function linspace(start: number, stop: number, num: number): Float64Array {
  assertIntegerInRange("Number of points", num, 0);
  const out = new Float64Array(num);
  const div = num - 1;
  const delta = stop - start;
  const step = delta / div;
  for (let i = 0; i < num; i++) {
    out[i] = step === 0 ? (i / div) * delta + start : i * step + start;
  }
  if (num > 1) out[num - 1] = stop;
  else if (num === 1) out[0] = start;
  return out;
}

/** numpy's `_get_outer_edges`: the range to split into equal bins. */
function outerEdges(values: ArrayLike<number>, range?: Range): [number, number] {
  let lo: number;
  let hi: number;
  if (range !== undefined) {
    [lo, hi] = range;
    if (!(lo <= hi)) {
      throw new InvalidArgumentError(
        `Histogram range must satisfy min <= max, got "[${lo}, ${hi}]"`,
        "Pass range as [min, max] with min <= max",
      );
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
      throw new InvalidArgumentError(
        `Histogram range must be finite, got "[${lo}, ${hi}]"`,
        "Pass finite range bounds",
      );
    }
  } else if (values.length === 0) {
    [lo, hi] = [0, 1];
  } else {
    lo = Infinity;
    hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) {
        throw new InvalidArgumentError(
          `Autodetected histogram range is not finite: value "${v}" at index ${i}`,
          "Remove NaN and infinite values or pass an explicit range",
        );
      }
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  return [lo, hi];
}

/**
 * The bin edges numpy would use, `[bins + 1]`: explicit edges are validated and copied,
 * an integer gives `linspace(lo, hi, bins + 1)` over `range` or the data's min..max.
 *
 * @example
 * ```ts
 * import { histogramEdges } from "./histogram.ts";
 * histogramEdges([0, 1, 2, 3, 4], { bins: 4 }); // Float64Array [0, 1, 2, 3, 4]
 * histogramEdges([5, 5], { bins: 2 }); // Float64Array [4.5, 5, 5.5]
 * ```
 */
export function histogramEdges(
  values: ArrayLike<number>,
  options: HistogramOptions = {},
): Float64Array {
  const bins = options.bins ?? 10;
  if (typeof bins !== "number") {
    if (bins.length < 2) {
      throw new InvalidArgumentError(
        `Explicit bin edges need at least 2 values, got "${bins.length}"`,
        "Pass bins + 1 increasing edges, or a bin count",
      );
    }
    for (let i = 0; i < bins.length; i++) {
      if (!Number.isFinite(bins[i]) || (i > 0 && bins[i] < bins[i - 1])) {
        throw new InvalidArgumentError(
          `Bin edges must be finite and increase monotonically, got "${bins[i]}" at index ${i}`,
          "Sort the edges in increasing order",
        );
      }
    }
    return Float64Array.from(bins);
  }
  assertIntegerInRange("Bin count", bins, 1);
  const [lo, hi] = outerEdges(values, options.range);
  return linspace(lo, hi, bins + 1);
}

/**
 * Bin of `v` for increasing `edges` `[B + 1]`, or -1 when `v` is outside `[edges[0], edges[B]]`
 * or NaN. Same as numpy's `searchsorted(edges, v, side="right") - 1` with `v == edges[B]`
 * moved into the last bin, so a value on an inner edge lands in the upper bin.
 */
export function binIndex(edges: ArrayLike<number>, v: number): number {
  const last = edges.length - 1;
  if (!(v >= edges[0] && v <= edges[last])) return -1;
  if (v === edges[last]) {
    // searchsorted(side="right") gives last + 1 for v == edges[last]; numpy subtracts one.
    return last - 1;
  }
  let lo = 0;
  let hi = last + 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * `np.histogram(values, bins, range)`: counts per bin and the edges.
 *
 * @example
 * ```ts
 * import { histogram } from "./histogram.ts";
 * const { counts, edges } = histogram([0, 1, 2, 3, 4], { bins: 4 });
 * // counts [1, 1, 1, 2] (4 sits on the closed last edge), edges [0, 1, 2, 3, 4]
 * ```
 */
export function histogram(values: ArrayLike<number>, options: HistogramOptions = {}): Histogram {
  const edges = histogramEdges(values, options);
  const counts = new Float64Array(edges.length - 1);
  for (let i = 0; i < values.length; i++) {
    const b = binIndex(edges, values[i]);
    if (b >= 0) counts[b]++;
  }
  return { counts, edges };
}

/**
 * `np.histogram(..., density=True)`: `counts / width / sum(counts)`, `[bins]`, so the
 * histogram integrates to 1. All-zero counts give NaN, as in numpy.
 */
export function histogramDensity(hist: Histogram): Float64Array {
  const { counts, edges } = hist;
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  return counts.map((c, i) => c / (edges[i + 1] - edges[i]) / total);
}

/**
 * `np.histogram2d(x, y, bins, range)` with integer bins (one count for both axes or
 * `[xBins, yBins]`): counts `[xBins, yBins]` row-major and per-axis edges.
 *
 * @example
 * ```ts
 * import { histogram2d } from "./histogram.ts";
 * const h = histogram2d([0, 1, 2], [0, 0, 1], 2);
 * // xEdges [0, 1, 2], yEdges [0, 0.5, 1], counts [[1, 0], [1, 1]] → [1, 0, 1, 1]
 * ```
 */
export function histogram2d(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  bins: number | readonly [number, number] = 10,
  options: Histogram2dOptions = {},
): Histogram2d {
  assertSameLength(x, y);
  const [bx, by] = typeof bins === "number" ? [bins, bins] : bins;
  const xEdges = histogramEdges(x, { bins: bx, range: options.range?.[0] });
  const yEdges = histogramEdges(y, { bins: by, range: options.range?.[1] });
  const counts = new Float64Array(bx * by);
  for (let k = 0; k < x.length; k++) {
    const i = binIndex(xEdges, x[k]);
    const j = binIndex(yEdges, y[k]);
    if (i >= 0 && j >= 0) counts[i * by + j]++;
  }
  return { counts, xEdges, yEdges };
}

/**
 * `np.histogram2d(..., density=True)`: counts divided by bin area and by the total count,
 * `[xBins, yBins]`, so the histogram integrates to 1.
 */
export function histogram2dDensity(hist: Histogram2d): Float64Array {
  const { counts, xEdges, yEdges } = hist;
  const by = yEdges.length - 1;
  if (counts.length !== (xEdges.length - 1) * by) {
    throw new ShapeError(
      `Counts must hold xBins * yBins values, got "${counts.length}"`,
      "Pass a result of histogram2d",
    );
  }
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  return counts.map((c, k) => {
    const i = Math.floor(k / by);
    const j = k % by;
    return c / (xEdges[i + 1] - xEdges[i]) / (yEdges[j + 1] - yEdges[j]) / total;
  });
}
