/**
 * Typed tensors on the GPU and the operations the model needs.
 * @module
 */
export * from "./tensor.ts";
export * from "./ops.ts";
export * from "./reference.ts";
export { grid, KERNELS, withF16Weights } from "./kernels.ts";
export * from "./f16.ts";
