/**
 * Embed laminar's kernels in your app: the GPU runtime (bring your own GPUDevice with
 * `new Gpu(device)`), tensors and their operations, and the all-pairs statistics
 * ({@linkcode createPairwise} works on your GPUDevice and GPUBuffers directly).
 *
 * @example
 * ```ts
 * import { createPairwise } from "./kernels.ts";
 * const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
 * const pw = createPairwise(device);
 * const input = device.createBuffer({ size: 4 * 8 * 32 * 4, usage: GPUBufferUsage.STORAGE });
 * const cos = await pw.cosine({ buffer: input, shape: [4, 8, 32] }, { validate: false });
 * cos.destroy();
 * pw.dispose();
 * ```
 * @module
 */
export * from "./gpu/mod.ts";
export * from "./tensor/mod.ts";
export * from "./pairwise/mod.ts";
