/**
 * A tiny, self-contained safetensors reader for golden fixtures in tests (F32 and F64 only).
 * Layout: 8-byte little-endian u64 header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [start, end]}}`, then the data section the offsets
 * are relative to. The project's real reader lives in src/io; this one only serves tests.
 * @module
 */

/** One tensor of a golden file. */
export interface GoldenTensor {
  /** "F32" or "F64". */
  dtype: string;
  /** Shape, e.g. `[40, 256]`. */
  shape: number[];
  /** Values, row-major. */
  data: Float32Array | Float64Array;
}

/** Read every F32/F64 tensor of a safetensors file into a Map by name. */
export function readGolden(path: string): Map<string, GoldenTensor> {
  const bytes = Deno.readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  const base = 8 + headerLen;
  const out = new Map<string, GoldenTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, shape, data_offsets: [start, end] } = info as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    // slice() copies into a fresh, aligned buffer (offsets need not be multiples of 8).
    const buf = bytes.slice(base + start, base + end).buffer;
    let data: Float32Array | Float64Array;
    if (dtype === "F32") data = new Float32Array(buf);
    else if (dtype === "F64") data = new Float64Array(buf);
    else throw new Error(`Unsupported dtype "${dtype}" for tensor "${name}"`);
    out.set(name, { dtype, shape, data });
  }
  return out;
}
