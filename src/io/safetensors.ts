/**
 * Reader and writer for the safetensors format
 * (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N, N bytes of
 * JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {k: v}}`,
 * then the raw little-endian tensor bytes (offsets are relative to the end of the header).
 *
 * Reading loads the whole file into memory (`Deno.readFile`) and hands out zero-copy views into
 * it. This is fine for GPT-2 small/medium/large (0.5-3 GB); gpt2-xl (6 GB) is read the same
 * way and needs that much free RAM, plus the float32 copies made by {@linkcode SafetensorsFile.getF32}.
 * @module
 */

import { FileNotFoundError, FormatError, InvalidArgumentError } from "../errors.ts";
import { writeFileAtomic } from "./atomic_write.ts";

/** Element types this module reads. */
export type SafetensorsDtype = "F32" | "F16" | "BF16" | "F64" | "I32" | "I64";

/** Element types {@linkcode encodeSafetensors} writes (F16/BF16 take raw bits in a Uint16Array). */
export type WritableDtype = "F32" | "F64" | "I32" | "I64" | "F16" | "BF16";

/** Bytes per element of each supported dtype. */
export const DTYPE_SIZES: Readonly<Record<SafetensorsDtype, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I32: 4,
  I64: 8,
};

/** One tensor of a parsed file. */
export interface SafetensorsTensor {
  /** Element type. */
  readonly dtype: SafetensorsDtype;
  /** Dimensions, outermost first (row-major); `[]` is a scalar. */
  readonly shape: readonly number[];
  /** The tensor's raw little-endian bytes: a view into the file's bytes, not a copy. */
  readonly data: Uint8Array;
}

/** Data accepted by {@linkcode encodeSafetensors} for one tensor. */
export interface TensorToWrite {
  /** Element type; the data's array type must match (F32: Float32Array, F64: Float64Array, I32: Int32Array, I64: BigInt64Array, F16/BF16: Uint16Array of raw bits). */
  dtype: WritableDtype;
  /** Dimensions; their product must equal `data.length`. */
  shape: readonly number[];
  /** Elements in row-major order. */
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint16Array;
}

/** Largest header accepted, in bytes (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

const TRUNCATED_HINT = "The file is truncated or not a safetensors file; re-download it";
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A parsed safetensors file: tensor views plus conversion helpers. */
export class SafetensorsFile {
  /** Tensors by name, in header order. */
  readonly tensors: Map<string, SafetensorsTensor>;
  /** The `__metadata__` string map (empty when absent). */
  readonly metadata: Record<string, string>;
  /** Where the bytes came from (a path or "<bytes>"), used in error messages. */
  readonly source: string;

  /** Wrap already validated tensors; use {@linkcode parseSafetensors} to build one. */
  constructor(
    tensors: Map<string, SafetensorsTensor>,
    metadata: Record<string, string>,
    source: string,
  ) {
    this.tensors = tensors;
    this.metadata = metadata;
    this.source = source;
  }

  /** Whether a tensor called `name` exists. */
  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /**
   * The tensor called `name`.
   * @throws {FormatError} When there is no such tensor.
   */
  get(name: string): SafetensorsTensor {
    const tensor = this.tensors.get(name);
    if (!tensor) {
      const names = [...this.tensors.keys()];
      const shown = names.slice(0, 8).map((n) => `"${n}"`).join(", ");
      throw new FormatError(
        `Tensor "${name}" is not in "${this.source}"`,
        `Check the file holds the expected checkpoint; it has ${names.length} tensors` +
          (names.length ? ` (${shown}${names.length > 8 ? ", ..." : ""})` : ""),
      );
    }
    return tensor;
  }

  /**
   * A new Float32Array holding tensor `name` converted from F32, F16, BF16 or F64.
   * @throws {FormatError} When the tensor is missing or holds integers.
   *
   * @example
   * ```ts ignore
   * const st = await readSafetensors("models/sotu-gpt2-mini/model.safetensors");
   * const wte = st.getF32("transformer.wte.weight"); // [vocab, d_model]
   * ```
   */
  getF32(name: string): Float32Array {
    const { dtype, data } = this.get(name);
    switch (dtype) {
      case "F32":
        return f32FromBytes(data);
      case "F16":
        return f16BitsToF32(u16FromBytes(data));
      case "BF16":
        return bf16BitsToF32(u16FromBytes(data));
      case "F64":
        return Float32Array.from(f64FromBytes(data));
      default:
        throw new FormatError(
          `Tensor "${name}" in "${this.source}" has dtype "${dtype}", not a float type`,
          "Use getI32 for integer tensors",
        );
    }
  }

  /**
   * A new Int32Array holding tensor `name` converted from I32 or I64 (e.g. token ids).
   * @throws {FormatError} When the tensor is missing, is not an integer tensor, or an I64 value
   * does not fit in 32 bits.
   */
  getI32(name: string): Int32Array {
    const { dtype, data } = this.get(name);
    if (dtype === "I32") {
      return new Int32Array(u8Copy(data, 4).buffer);
    }
    if (dtype === "I64") {
      const words = new Int32Array(u8Copy(data, 8).buffer);
      const out = new Int32Array(words.length / 2);
      for (let i = 0; i < out.length; i++) {
        const lo = LITTLE_ENDIAN ? words[2 * i] : swap32(words[2 * i]);
        const hi = LITTLE_ENDIAN ? words[2 * i + 1] : swap32(words[2 * i + 1]);
        if (hi !== (lo >> 31)) {
          throw new FormatError(
            `Tensor "${name}" in "${this.source}" holds an I64 value at index ${i} that does not fit in 32 bits`,
            "Store ids as I32 or I64 values below 2^31",
          );
        }
        out[i] = lo;
      }
      return out;
    }
    throw new FormatError(
      `Tensor "${name}" in "${this.source}" has dtype "${dtype}", not an integer type`,
      "Use getF32 for float tensors",
    );
  }
}

function swap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | ((x >>> 24) & 0xff);
}

/** Copy `data` into a fresh, aligned buffer; byte-swap `elemSize` groups on big-endian hosts. */
function u8Copy(data: Uint8Array, elemSize: number): Uint8Array {
  const copy = data.slice();
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < copy.length; i += elemSize) copy.subarray(i, i + elemSize).reverse();
  }
  return copy;
}

function f32FromBytes(data: Uint8Array): Float32Array {
  return new Float32Array(u8Copy(data, 4).buffer);
}

function f64FromBytes(data: Uint8Array): Float64Array {
  return new Float64Array(u8Copy(data, 8).buffer);
}

function u16FromBytes(data: Uint8Array): Uint16Array {
  return new Uint16Array(u8Copy(data, 2).buffer);
}

/** Convert one IEEE half-precision bit pattern to a number (exact). */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero or subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

let f16Table: Float32Array | undefined;

/** Lookup table of all 65536 half-precision values (256 KiB), built on first use. */
function f16LookupTable(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToNumber(h);
  }
  return f16Table;
}

/**
 * Convert IEEE half-precision bit patterns to float32 (exact, including subnormals, ±0, ±inf
 * and NaN) via a 65536-entry lookup table.
 * @example
 * ```ts
 * import { f16BitsToF32 } from "./safetensors.ts";
 * f16BitsToF32(new Uint16Array([0x3c00, 0xc000])); // Float32Array [1, -2]
 * ```
 */
export function f16BitsToF32(bits: Uint16Array): Float32Array {
  const table = f16LookupTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/**
 * Convert bfloat16 bit patterns to float32: a bfloat16 is the upper 16 bits of a float32, so
 * this is exact for every value including NaN payloads.
 */
export function bf16BitsToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isNonNegativeInt(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Parse safetensors bytes. Tensor `data` fields are views into `bytes` (no copy), so keep
 * `bytes` unchanged while the result is in use. Overlapping tensors are not rejected.
 *
 * @param bytes The whole file.
 * @param source Name used in error messages (a path).
 * @throws {FormatError} For anything malformed: short file, bad header length, header that is not
 * a JSON object, tensor entries without dtype/shape/data_offsets, unsupported dtypes, offsets that
 * do not match the shape or point past the end of the file.
 *
 * @example
 * ```ts
 * import { encodeSafetensors, parseSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ x: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } });
 * const st = parseSafetensors(bytes);
 * st.getF32("x"); // Float32Array [1, 2]
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, source = "<bytes>"): SafetensorsFile {
  if (bytes.length < 8) {
    throw new FormatError(
      `Safetensors file "${source}" is ${bytes.length} bytes long, shorter than the 8-byte header length`,
      TRUNCATED_HINT,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenLo = view.getUint32(0, true);
  const lenHi = view.getUint32(4, true);
  const headerLen = lenHi * 2 ** 32 + lenLo;
  if (headerLen > MAX_HEADER_BYTES) {
    throw new FormatError(
      `Safetensors file "${source}" declares a header of "${headerLen}" bytes, more than the ${MAX_HEADER_BYTES} allowed`,
      TRUNCATED_HINT,
    );
  }
  if (8 + headerLen > bytes.length) {
    throw new FormatError(
      `Safetensors file "${source}" declares a header of "${headerLen}" bytes but has only ${
        bytes.length - 8
      } after the length`,
      TRUNCATED_HINT,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLen),
    ));
  } catch (error) {
    throw new FormatError(
      `Safetensors file "${source}" has a header that is not valid JSON`,
      TRUNCATED_HINT,
      { cause: error },
    );
  }
  if (!isRecord(header)) {
    throw new FormatError(
      `Safetensors file "${source}" has a header that is not a JSON object`,
      TRUNCATED_HINT,
    );
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!isRecord(entry)) {
        throw new FormatError(
          `Safetensors file "${source}" has a "__metadata__" entry that is not an object`,
          TRUNCATED_HINT,
        );
      }
      for (const [k, v] of Object.entries(entry)) {
        metadata[k] = typeof v === "string" ? v : JSON.stringify(v);
      }
      continue;
    }
    tensors.set(name, parseEntry(name, entry, source, bytes, dataStart, dataLen));
  }
  return new SafetensorsFile(tensors, metadata, source);
}

function parseEntry(
  name: string,
  entry: unknown,
  source: string,
  bytes: Uint8Array,
  dataStart: number,
  dataLen: number,
): SafetensorsTensor {
  const where = `Tensor "${name}" in safetensors file "${source}"`;
  if (!isRecord(entry)) {
    throw new FormatError(`${where} is not described by a JSON object`, TRUNCATED_HINT);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  for (const [key, value] of [["dtype", dtype], ["shape", shape], ["data_offsets", offsets]]) {
    if (value === undefined) throw new FormatError(`${where} has no "${key}"`, TRUNCATED_HINT);
  }
  if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_SIZES, dtype)) {
    throw new FormatError(
      `${where} has unsupported dtype "${String(dtype)}"`,
      `Convert the checkpoint to one of ${Object.keys(DTYPE_SIZES).join(", ")}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) {
    throw new FormatError(
      `${where} has shape "${JSON.stringify(shape)}", not a list of non-negative integers`,
      TRUNCATED_HINT,
    );
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt) ||
    offsets[0] > offsets[1]
  ) {
    throw new FormatError(
      `${where} has data_offsets "${JSON.stringify(offsets)}", not [begin, end] with begin <= end`,
      TRUNCATED_HINT,
    );
  }
  const [begin, end] = offsets as [number, number];
  const size = DTYPE_SIZES[dtype as SafetensorsDtype];
  const expected = shape.reduce((a: number, b: number) => a * b, 1) * size;
  if (end - begin !== expected) {
    throw new FormatError(
      `${where} has data_offsets "${JSON.stringify(offsets)}" spanning ${
        end - begin
      } bytes, but dtype ${dtype} and shape ${JSON.stringify(shape)} need ${expected}`,
      TRUNCATED_HINT,
    );
  }
  if (end > dataLen) {
    throw new FormatError(
      `${where} ends at byte "${end}" of the data section, which has only ${dataLen} bytes`,
      TRUNCATED_HINT,
    );
  }
  return {
    dtype: dtype as SafetensorsDtype,
    shape: shape as number[],
    data: bytes.subarray(dataStart + begin, dataStart + end),
  };
}

/**
 * Read and parse a safetensors file (the whole file is loaded into memory, see the module doc).
 * @throws {FileNotFoundError} When the file does not exist or cannot be read.
 * @throws {FormatError} When it is not a valid safetensors file.
 *
 * @example
 * ```ts ignore
 * const st = await readSafetensors("tests/fixtures/tiny-gpt2/model.safetensors");
 * st.get("transformer.wte.weight").shape; // [2048, 64]
 * ```
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new FileNotFoundError(
        `Safetensors file "${path}" does not exist`,
        "Check the path, or pass a model folder that holds model.safetensors",
        { cause: error },
      );
    }
    throw new FileNotFoundError(
      `Safetensors file "${path}" cannot be read: ${(error as Error).message}`,
      "Check that the path is a readable file",
      { cause: error },
    );
  }
  return parseSafetensors(bytes, path);
}

const WRITE_TYPES: Record<WritableDtype, { size: number; ctor: string }> = {
  F32: { size: 4, ctor: "Float32Array" },
  F64: { size: 8, ctor: "Float64Array" },
  I32: { size: 4, ctor: "Int32Array" },
  I64: { size: 8, ctor: "BigInt64Array" },
  F16: { size: 2, ctor: "Uint16Array" },
  BF16: { size: 2, ctor: "Uint16Array" },
};

/**
 * Encode tensors as safetensors bytes. Data is laid out in the key order of `tensors`, and the
 * header is padded with spaces to a multiple of 8 bytes so tensor data stays 8-byte aligned.
 *
 * @param tensors Tensors by name; `data.length` must equal the product of `shape`.
 * @param metadata Optional `__metadata__` string map.
 * @throws {InvalidArgumentError} When a tensor's data type or length does not match its dtype
 * and shape, or a name is "__metadata__".
 *
 * @example
 * ```ts
 * import { encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(
 *   { ids: { dtype: "I32", shape: [3], data: new Int32Array([1, 2, 3]) } },
 *   { note: "example" },
 * );
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (name === "__metadata__") {
      throw new InvalidArgumentError(
        `Tensor name "${name}" is reserved`,
        "Pass metadata as the second argument instead",
      );
    }
    const spec = WRITE_TYPES[t.dtype];
    if (!spec) {
      throw new InvalidArgumentError(
        `Tensor "${name}" has unsupported dtype "${String(t.dtype)}" for writing`,
        `Use one of ${Object.keys(WRITE_TYPES).join(", ")}`,
      );
    }
    if (t.data?.constructor?.name !== spec.ctor) {
      throw new InvalidArgumentError(
        `Tensor "${name}" has dtype ${t.dtype} but its data is a "${t.data?.constructor?.name}"`,
        `Pass a ${spec.ctor} for dtype ${t.dtype}`,
      );
    }
    if (!t.shape.every(isNonNegativeInt)) {
      throw new InvalidArgumentError(
        `Tensor "${name}" has shape "${
          JSON.stringify(t.shape)
        }", not a list of non-negative integers`,
        "Pass the dimensions as integers",
      );
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new InvalidArgumentError(
        `Tensor "${name}" has shape ${
          JSON.stringify(t.shape)
        } (${count} elements) but "${t.data.length}" values`,
        "Make the shape's product equal the data length",
      );
    }
    const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    parts.push(LITTLE_ENDIAN ? raw : u8Copy(raw, spec.size));
    header[name] = {
      dtype: t.dtype,
      shape: [...t.shape],
      data_offsets: [offset, offset + raw.length],
    };
    offset += raw.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLen / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

/**
 * Encode tensors (see {@linkcode encodeSafetensors}) and write them to `path` atomically
 * (temporary file in the same folder, then rename).
 *
 * @example
 * ```ts ignore
 * await writeSafetensors("out/acts.safetensors", {
 *   resid: { dtype: "F32", shape: [2, 3], data: new Float32Array(6) },
 * });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
