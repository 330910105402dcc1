/**
 * CPU references (float64 accumulation) of the model kernels, for tests and small data.
 * Same shapes and layouts as the GPU operations in ops.ts.
 * @module
 */

import { roundToF16 } from "./f16.ts";

/** y [M, N] = x [M, K] @ w [K, N] (or w [N, K] when transposeW) + bias [N], optional gelu_new. */
export function matmulRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  M: number,
  K: number,
  N: number,
  options: { bias?: ArrayLike<number>; gelu?: boolean; transposeW?: boolean } = {},
): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        s += x[m * K + k] * (options.transposeW ? w[n * K + k] : w[k * N + n]);
      }
      if (options.bias) s += options.bias[n];
      y[m * N + n] = options.gelu ? geluNewRef(s) : s;
    }
  }
  return y;
}

/** gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluNewRef(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** Layer norm over rows of width D (biased variance). */
export function layerNormRef(
  x: ArrayLike<number>,
  g: ArrayLike<number>,
  b: ArrayLike<number>,
  D: number,
  eps = 1e-5,
): Float64Array {
  const rows = x.length / D;
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += x[r * D + i];
    mean /= D;
    let v = 0;
    for (let i = 0; i < D; i++) v += (x[r * D + i] - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / D + eps);
    for (let i = 0; i < D; i++) y[r * D + i] = (x[r * D + i] - mean) * rstd * g[i] + b[i];
  }
  return y;
}

/**
 * Causal attention from qkv [B, T, 3D]: returns z [B, T, D] and pattern [B, H, T, T].
 */
export function attentionRef(
  qkv: ArrayLike<number>,
  B: number,
  T: number,
  D: number,
  H: number,
  scale: number = 1 / Math.sqrt(D / H),
): { z: Float64Array; pattern: Float64Array } {
  const dh = D / H;
  const z = new Float64Array(B * T * D);
  const pattern = new Float64Array(B * H * T * T);
  const at = (b: number, t: number, c: number) => qkv[(b * T + t) * 3 * D + c];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const s = new Float64Array(i + 1);
        let m = -Infinity;
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += at(b, i, h * dh + d) * at(b, j, D + h * dh + d);
          s[j] = dot * scale;
          m = Math.max(m, s[j]);
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) sum += s[j] = Math.exp(s[j] - m);
        for (let j = 0; j <= i; j++) pattern[((b * H + h) * T + i) * T + j] = s[j] / sum;
        for (let d = 0; d < dh; d++) {
          let acc = 0;
          for (let j = 0; j <= i; j++) acc += (s[j] / sum) * at(b, j, 2 * D + h * dh + d);
          z[(b * T + i) * D + h * dh + d] = acc;
        }
      }
    }
  }
  return { z, pattern };
}

/**
 * {@linkcode matmulRef} on the weights as f16 storage holds them: `w` rounded to the nearest half
 * (ties to even) first. The reference of matmul() with a `Tensor.fromF16` weight.
 */
export function matmulF16Ref(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  M: number,
  K: number,
  N: number,
  options: { bias?: ArrayLike<number>; gelu?: boolean; transposeW?: boolean } = {},
): Float64Array {
  return matmulRef(x, roundToF16(w), M, K, N, options);
}
