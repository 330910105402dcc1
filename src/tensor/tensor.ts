/**
 * Tensor: a shape, a dtype and a range of a GPU buffer. Operations record kernel launches on the
 * tensor's {@linkcode Gpu}; nothing runs until a flush or a readback, so a chain of operations is
 * one submission.
 * @module
 */

import type { BufferRange, Gpu } from "../gpu/context.ts";
import { InvalidArgumentError, ShapeError } from "../errors.ts";
import { f32ToF16, packedF16Bytes, packF16Rows, unpackF16Rows } from "./f16.ts";

/**
 * Element types a tensor can hold on the GPU. "f16" is IEEE half precision stored packed, two per
 * u32 along the last dimension, each row padded to an even length (see `f16.ts`): a storage
 * format for weights that kernels read and widen to f32; its values read back as float32.
 */
export type DType = "f32" | "i32" | "u32" | "f16";

/** The typed array that holds elements of a dtype on the CPU ("f16" reads back as float32). */
export type ArrayOf<D extends DType> = D extends "f32" | "f16" ? Float32Array
  : D extends "i32" ? Int32Array
  : Uint32Array;

/** A shape: sizes of each dimension, outermost first. */
export type Shape = readonly number[];

/** Number of elements of a shape. */
export function numel(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bytes a tensor of this shape and dtype occupies (4 per element; packed rows for "f16"). */
export function byteSize(shape: Shape, dtype: DType): number {
  return dtype === "f16" ? packedF16Bytes(shape) : numel(shape) * 4;
}

function checkShape(shape: Shape): void {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) {
      throw new ShapeError(`Shape "[${shape.join(", ")}]" has a dimension that is not a size`);
    }
  }
}

/**
 * A dense, row-major tensor stored in a GPU buffer (possibly a range of a larger one).
 *
 * @example
 * ```ts
 * import { Gpu } from "../gpu/context.ts";
 * using gpu = await Gpu.create();
 * using x = Tensor.from(gpu, new Float32Array([1, 2, 3, 4]), [2, 2]);
 * console.log(await x.read()); // Float32Array [1, 2, 3, 4]
 * ```
 */
export class Tensor<D extends DType = "f32"> {
  /** The GPU context the tensor lives on. */
  readonly gpu: Gpu;
  /** Dimensions, outermost first. */
  readonly shape: Shape;
  /** Element type. */
  readonly dtype: D;
  /** The buffer holding the elements. */
  readonly buffer: GPUBuffer;
  /** Byte offset of element 0 in the buffer. */
  readonly offset: number;
  #release: (() => void) | null;

  /** Wrap a buffer range (for embedding laminar in other apps); `release` runs on dispose. */
  constructor(
    gpu: Gpu,
    buffer: GPUBuffer,
    shape: Shape,
    dtype: D,
    offset = 0,
    release: (() => void) | null = null,
  ) {
    checkShape(shape);
    if (offset + byteSize(shape, dtype) > buffer.size) {
      throw new ShapeError(
        `Shape "[${
          shape.join(", ")
        }]" at byte ${offset} does not fit a buffer of ${buffer.size} bytes`,
      );
    }
    this.gpu = gpu;
    this.buffer = buffer;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.offset = offset;
    this.#release = release;
  }

  /** Upload a typed array as a new tensor of the given shape. */
  static from<A extends Float32Array | Int32Array | Uint32Array>(
    gpu: Gpu,
    data: A,
    shape: Shape = [data.length],
  ): Tensor<A extends Float32Array ? "f32" : A extends Int32Array ? "i32" : "u32"> {
    checkShape(shape);
    if (numel(shape) !== data.length) {
      throw new ShapeError(
        `Shape "[${shape.join(", ")}]" needs ${numel(shape)} elements, the data has ${data.length}`,
      );
    }
    const dtype = data instanceof Float32Array ? "f32" : data instanceof Int32Array ? "i32" : "u32";
    const buffer = gpu.device.createBuffer({
      size: Math.max(256, Math.ceil(data.byteLength / 4) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      mappedAtCreation: true,
    });
    new Uint8Array(buffer.getMappedRange()).set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
    buffer.unmap();
    // deno-lint-ignore no-explicit-any
    return new Tensor(gpu, buffer, shape, dtype as any, 0, () => gpu.retire(buffer));
  }

  /**
   * Upload values as a half-precision ("f16") tensor: a Float32Array is rounded to the nearest
   * half (ties to even; beyond ±65504 to ±Infinity), a Uint16Array holds half bits already (e.g.
   * an F16 checkpoint tensor) and is uploaded unchanged. Rows of the last dimension are packed two
   * halves per u32, an odd row padded with +0.
   *
   * @example
   * ```ts
   * import { Gpu } from "../gpu/context.ts";
   * using gpu = await Gpu.create();
   * using w = Tensor.fromF16(gpu, new Float32Array([0.1, 2, 3]), [1, 3]);
   * console.log(w.bytes, await w.read()); // 8, Float32Array [0.0999755859375, 2, 3]
   * ```
   */
  static fromF16(
    gpu: Gpu,
    data: Float32Array | Uint16Array,
    shape: Shape = [data.length],
  ): Tensor<"f16"> {
    checkShape(shape);
    if (numel(shape) !== data.length) {
      throw new ShapeError(
        `Shape "[${shape.join(", ")}]" needs ${numel(shape)} elements, the data has ${data.length}`,
      );
    }
    const bits = data instanceof Uint16Array ? data : f32ToF16(data);
    const C = shape.length === 0 ? 1 : shape[shape.length - 1];
    const words = packF16Rows(bits, C);
    const uploaded = Tensor.from(gpu, words);
    return new Tensor(gpu, uploaded.buffer, shape, "f16", 0, () => uploaded.dispose());
  }

  /** A new tensor from the pool; its contents are undefined until a kernel writes them. */
  static empty<D extends DType = "f32">(gpu: Gpu, shape: Shape, dtype: D = "f32" as D): Tensor<D> {
    checkShape(shape);
    const buffer = gpu.pool.acquire(byteSize(shape, dtype));
    return new Tensor(gpu, buffer, shape, dtype, 0, () => gpu.pool.release(buffer));
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  /** Size in bytes (packed for "f16": rows x ceil(last dimension / 2) x 4). */
  get bytes(): number {
    return byteSize(this.shape, this.dtype);
  }

  /** The buffer range to bind. */
  get range(): BufferRange {
    return { buffer: this.buffer, offset: this.offset, size: Math.max(4, this.bytes) };
  }

  /**
   * A view with another shape of the same number of elements (no copy). An "f16" tensor keeps
   * its packed rows: the last dimension stays the same, or is even before and after.
   */
  reshape(shape: Shape): Tensor<D> {
    if (numel(shape) !== this.size || byteSize(shape, this.dtype) !== this.bytes) {
      throw new ShapeError(
        `Cannot reshape "[${this.shape.join(", ")}]" to "[${shape.join(", ")}]"`,
        this.dtype === "f16"
          ? "A packed f16 tensor keeps its last dimension unless both are even"
          : "",
      );
    }
    const last = (s: Shape) => s.length === 0 ? 1 : s[s.length - 1];
    if (this.dtype === "f16" && last(shape) !== last(this.shape) && last(shape) % 2 !== 0) {
      throw new ShapeError(
        `Cannot reshape the f16 tensor "[${this.shape.join(", ")}]" to "[${shape.join(", ")}]"`,
        "A packed f16 tensor keeps its last dimension unless both are even",
      );
    }
    return new Tensor(this.gpu, this.buffer, shape, this.dtype, this.offset);
  }

  /**
   * A view of rows `start .. start + count` of the outermost dimension (no copy). The byte
   * offset must meet the device's storage offset alignment to be bound by a kernel.
   */
  slice(start: number, count: number): Tensor<D> {
    const n = this.shape[0];
    if (!(start >= 0 && count >= 0 && start + count <= n)) {
      throw new InvalidArgumentError(
        `Rows "${start}..${start + count}" are outside "[0, ${n})"`,
      );
    }
    if (this.dtype === "f16" && this.shape.length < 2) {
      throw new InvalidArgumentError(
        `Cannot slice elements of the 1-D f16 tensor "[${n}]": its halves are packed in pairs`,
        "Slice rows of a tensor with at least two dimensions",
      );
    }
    const rowBytes = byteSize(this.shape.slice(1), this.dtype);
    return new Tensor(
      this.gpu,
      this.buffer,
      [count, ...this.shape.slice(1)],
      this.dtype,
      this.offset + start * rowBytes,
    );
  }

  /** Submit pending work and read the elements back (one map). */
  async read(): Promise<ArrayOf<D>> {
    const [buf] = await this.gpu.read([this.range]);
    return wrap(this.dtype, this.shape, buf.slice(0, this.bytes)) as ArrayOf<D>;
  }

  /** Release the buffer (to the pool for pooled tensors); views release nothing. */
  dispose(): void {
    this.#release?.();
    this.#release = null;
  }

  /** `using t = ...` disposes at the end of the scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

function wrap(
  dtype: DType,
  shape: Shape,
  buf: ArrayBuffer,
): Float32Array | Int32Array | Uint32Array {
  if (dtype === "f16") {
    return unpackF16Rows(new Uint32Array(buf), shape.length === 0 ? 1 : shape[shape.length - 1]);
  }
  return dtype === "f32"
    ? new Float32Array(buf)
    : dtype === "i32"
    ? new Int32Array(buf)
    : new Uint32Array(buf);
}

/** Read several tensors back with one submission and one map. */
export async function readAll<T extends readonly Tensor<DType>[]>(
  tensors: T,
): Promise<{ [K in keyof T]: T[K] extends Tensor<infer D> ? ArrayOf<D> : never }> {
  if (tensors.length === 0) return [] as never;
  const gpu = tensors[0].gpu;
  const bufs = await gpu.read(tensors.map((t) => t.range));
  return bufs.map((b, i) =>
    wrap(tensors[i].dtype, tensors[i].shape, b.slice(0, tensors[i].bytes))
  ) as never;
}
