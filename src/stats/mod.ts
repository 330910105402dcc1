/**
 * CPU reference statistics in float64, used to test GPU kernels and to analyse activations:
 * softmax and entropy, numpy-exact histograms, pairwise cosine / covariance / mutual
 * information, t-tests and descriptive statistics.
 *
 * @example
 * ```ts
 * import { pairwiseMiCov, rowMatrix, softmax, ttestInd } from "./mod.ts";
 * softmax([1000, 1000]); // Float64Array [0.5, 0.5]
 * ttestInd([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]).p; // ≈ 0.0943
 * const X = rowMatrix(new Float64Array(3 * 4).map(Math.random), 3, 4);
 * pairwiseMiCov(X, { bins: 2 }).mi; // [3, 3], upper triangle filled
 * ```
 * @module
 */
export * from "./describe.ts";
export * from "./histogram.ts";
export * from "./matrix.ts";
export * from "./pairwise.ts";
export * from "./softmax.ts";
export * from "./special.ts";
export * from "./ttest.ts";
