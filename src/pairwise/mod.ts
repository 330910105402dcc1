/**
 * All-pairs statistics on the GPU (cosine, covariance, seed 004's mutual information) for
 * laminar tensors, and {@linkcode createPairwise} for apps that bring their own GPUDevice.
 * @module
 */
export * from "./pairwise.ts";
export * from "./embed.ts";
export type { MiAlgorithm } from "./mi_kernels.ts";
