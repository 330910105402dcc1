/**
 * IEEE half-precision (binary16) on the CPU: float32 → half conversion with round-to-nearest-even,
 * and the packed layout the GPU kernels read (two halves per u32, rows padded to an even length).
 *
 * Packed layout of a half tensor `[..., C]`: every row of C halves starts at a u32 boundary and
 * holds ceil(C / 2) words; element c of a row sits in word c / 2, low 16 bits when c is even (what
 * WGSL's `unpack2x16float` returns as component 0). A row of odd length ends with one padding half
 * of value +0 (bits 0x0000). A 1-D tensor is one row.
 * @module
 */

import { f16BitsToF32 } from "../io/safetensors.ts";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The half-precision bits nearest to `x` after rounding `x` to float32 (ties to even): values
 * beyond the largest half (65504, plus half a step) become ±Infinity, values below half the
 * smallest subnormal (2^-25) become ±0, NaN stays NaN (quiet, sign and top payload bits kept).
 *
 * @example
 * ```ts
 * import { f32ToF16Bits } from "./f16.ts";
 * f32ToF16Bits(1); // 0x3c00
 * f32ToF16Bits(65520); // 0x7c00 (Infinity: ties to even rounds up past 65504)
 * ```
 */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  return halfFromF32Bits(u32[0]);
}

/** The half bits nearest to the float32 with bits `f` (see {@linkcode f32ToF16Bits}). */
function halfFromF32Bits(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  const mant = f & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // the half's biased exponent (127 - 15)
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // subnormal half (or zero): the float32 significand with its implicit 1, shifted right by
    // 14 - e bits; below 2^-25 (e < -10) even rounding up cannot reach the smallest subnormal
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    return sign | roundShift(m, shift);
  }
  // normal half: rounding may carry into the exponent (up to 0x7c00, Infinity: correct)
  return sign | roundShift((e << 23) | mant, 13);
}

/** v >> shift rounded to nearest, ties to even (shift in 1..24). */
function roundShift(v: number, shift: number): number {
  const q = v >>> shift;
  const rem = v - q * 2 ** shift;
  const half = 2 ** (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

/** Half bits of every value (each rounded to float32 first, then to half, ties to even). */
export function f32ToF16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  if (values instanceof Float32Array) {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < bits.length; i++) out[i] = halfFromF32Bits(bits[i]);
  } else {
    for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]);
  }
  return out;
}

/**
 * The values as the GPU reads them from half storage: each rounded to the nearest half (ties to
 * even) and back to float32. The CPU references of half-weight kernels run on these.
 *
 * @example
 * ```ts
 * import { roundToF16 } from "./f16.ts";
 * roundToF16([0.1, 1e-8, 1e5]); // Float32Array [0.0999755859375, 0, Infinity]
 * ```
 */
export function roundToF16(values: ArrayLike<number>): Float32Array {
  return f16BitsToF32(f32ToF16(values));
}

/** Bytes of a packed half tensor of this shape: rows x ceil(C / 2) u32 words. */
export function packedF16Bytes(shape: readonly number[]): number {
  const C = shape.length === 0 ? 1 : shape[shape.length - 1];
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return rows * Math.ceil(C / 2) * 4;
}

/**
 * Pack half bits `[rows, C]` (row-major, `rows * C` of them) into the GPU layout: two per u32,
 * rows padded to an even length with +0.
 */
export function packF16Rows(bits: Uint16Array, C: number): Uint32Array {
  const rows = C === 0 ? 0 : bits.length / C;
  const wordsPerRow = Math.ceil(C / 2);
  const out = new Uint32Array(rows * wordsPerRow);
  for (let r = 0; r < rows; r++) {
    const src = r * C, dst = r * wordsPerRow;
    for (let w = 0; w < wordsPerRow; w++) {
      const c = 2 * w;
      const hi = c + 1 < C ? bits[src + c + 1] : 0;
      out[dst + w] = (bits[src + c] | (hi << 16)) >>> 0;
    }
  }
  return out;
}

/** Unpack the GPU layout back to float32 values `[rows, C]` (padding dropped). */
export function unpackF16Rows(words: Uint32Array, C: number): Float32Array {
  const wordsPerRow = Math.ceil(C / 2);
  const rows = wordsPerRow === 0 ? 0 : words.length / wordsPerRow;
  const bits = new Uint16Array(rows * C);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < C; c++) {
      const w = words[r * wordsPerRow + (c >> 1)];
      bits[r * C + c] = c & 1 ? w >>> 16 : w & 0xffff;
    }
  }
  return f16BitsToF32(bits);
}
