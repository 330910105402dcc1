/**
 * Softmax family in float64: stable softmax and log-softmax, a deliberately naive softmax that
 * overflows (optionally in emulated float32), entropy and top-k selection. Vectors are `[V]`.
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import { assertIntegerInRange, assertPositiveFinite } from "./_validate.ts";

/** Options shared by the softmax functions. */
export interface SoftmaxOptions {
  /** Divide the logits by this before the softmax (default 1); must be positive and finite. */
  temperature?: number;
}

/** Options of {@linkcode naiveSoftmax}. */
export interface NaiveSoftmaxOptions extends SoftmaxOptions {
  /** Round every operation to float32 with `Math.fround`, like numpy on a float32 array. */
  float32?: boolean;
}

/** Unit of an entropy: natural log (nats) or log base 2 (bits). */
export type EntropyUnit = "nats" | "bits";

/** Options of {@linkcode entropy}. */
export interface EntropyOptions {
  /** "nats" (default) or "bits". */
  unit?: EntropyUnit;
}

/** Result of {@linkcode topK}: `[k]` indices and their values, largest first. */
export interface TopK {
  /** Positions in the input, `[k]`. */
  indices: Uint32Array;
  /** The values at those positions, `[k]`, in descending order. */
  values: Float64Array;
}

function temperatureOf(options: SoftmaxOptions): number {
  const t = options.temperature ?? 1;
  assertPositiveFinite("Temperature", t);
  return t;
}

/**
 * Log-softmax `(x/T - max) - log(sum(exp(x/T - max)))`, `[V]` → `[V]`; never overflows.
 * All-`-Infinity` input gives NaN (as in PyTorch).
 *
 * @example
 * ```ts
 * import { logSoftmax } from "./softmax.ts";
 * logSoftmax([1000, 1000]); // Float64Array [-0.6931471805599453, -0.6931471805599453]
 * ```
 */
export function logSoftmax(logits: ArrayLike<number>, options: SoftmaxOptions = {}): Float64Array {
  const t = temperatureOf(options);
  const n = logits.length;
  const out = new Float64Array(n);
  let m = -Infinity;
  for (let i = 0; i < n; i++) {
    out[i] = logits[i] / t;
    if (out[i] > m) m = out[i];
  }
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(out[i] - m);
  // (x - max) - log(s), not x - (max + log s): the latter loses digits for huge logits.
  const logS = Math.log(s);
  for (let i = 0; i < n; i++) out[i] = out[i] - m - logS;
  return out;
}

/**
 * Numerically stable softmax of `logits / temperature`, `[V]` → `[V]` (max subtracted first).
 *
 * @example
 * ```ts
 * import { softmax } from "./softmax.ts";
 * softmax([1000, 1000]); // Float64Array [0.5, 0.5]
 * softmax([0, Math.log(3)], { temperature: 1 }); // ≈ [0.25, 0.75]
 * ```
 */
export function softmax(logits: ArrayLike<number>, options: SoftmaxOptions = {}): Float64Array {
  const t = temperatureOf(options);
  const n = logits.length;
  const out = new Float64Array(n);
  let m = -Infinity;
  for (let i = 0; i < n; i++) {
    out[i] = logits[i] / t;
    if (out[i] > m) m = out[i];
  }
  let s = 0;
  for (let i = 0; i < n; i++) {
    out[i] = Math.exp(out[i] - m);
    s += out[i];
  }
  for (let i = 0; i < n; i++) out[i] /= s;
  return out;
}

/**
 * Textbook softmax `exp(x/T) / sum(exp(x/T))` WITHOUT subtracting the max, `[V]` → `[V]`,
 * kept to demonstrate overflow: large logits give `Infinity / Infinity = NaN`, very negative
 * ones `0 / 0 = NaN`. With `float32: true` every operation is rounded to float32, so overflow
 * starts near `x/T ≈ 88.7` as in numpy on a float32 array (float64 overflows past ≈ 709.8).
 *
 * @example
 * ```ts
 * import { naiveSoftmax } from "./softmax.ts";
 * naiveSoftmax([100, 100]); // Float64Array [0.5, 0.5]
 * naiveSoftmax([100, 100], { float32: true }); // Float64Array [NaN, NaN]
 * ```
 */
export function naiveSoftmax(
  logits: ArrayLike<number>,
  options: NaiveSoftmaxOptions = {},
): Float64Array {
  const t = temperatureOf(options);
  const r = options.float32 ? Math.fround : (x: number) => x;
  const n = logits.length;
  const out = new Float64Array(n);
  const tr = r(t);
  let s = 0;
  for (let i = 0; i < n; i++) {
    out[i] = r(Math.exp(r(r(logits[i]) / tr)));
    s = r(s + out[i]);
  }
  for (let i = 0; i < n; i++) out[i] = r(out[i] / s);
  return out;
}

function unitOf(options: EntropyOptions): EntropyUnit {
  const unit = options.unit ?? "nats";
  if (unit !== "nats" && unit !== "bits") {
    throw new InvalidArgumentError(
      `Entropy unit must be "nats" or "bits", got "${unit}"`,
      'Pass { unit: "nats" } or { unit: "bits" }',
    );
  }
  return unit;
}

/**
 * Shannon entropy `-sum(p * log p)` of a probability vector `[V]`, with `0 * log 0 = 0`.
 * The input is used as given (not renormalised).
 *
 * @example
 * ```ts
 * import { entropy } from "./softmax.ts";
 * entropy([0.5, 0.5], { unit: "bits" }); // 1
 * entropy([0.5, 0.5]); // 0.6931471805599453 (ln 2 nats)
 * ```
 */
export function entropy(probs: ArrayLike<number>, options: EntropyOptions = {}): number {
  const unit = unitOf(options);
  let h = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (p !== 0) h -= p * Math.log(p);
  }
  return unit === "bits" ? h / Math.LN2 : h;
}

/**
 * Entropy of `softmax(logits / temperature)` computed from the log-softmax, so it stays
 * finite for huge logits. `[V]` → scalar.
 */
export function entropyFromLogits(
  logits: ArrayLike<number>,
  options: SoftmaxOptions & EntropyOptions = {},
): number {
  const unit = unitOf(options);
  const lp = logSoftmax(logits, options);
  let h = 0;
  for (let i = 0; i < lp.length; i++) {
    if (lp[i] !== -Infinity) h -= Math.exp(lp[i]) * lp[i];
  }
  return unit === "bits" ? h / Math.LN2 : h;
}

/** True when a (value a, index ia) ranks before (value b, index ib): larger first, NaN largest. */
function before(a: number, ia: number, b: number, ib: number): boolean {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return an && (!bn || ia < ib);
  return a > b || (a === b && ia < ib);
}

/**
 * The `k` largest values of `[V]` and their indices, sorted descending; ties go to the lower
 * index and NaN counts as larger than everything (as in `torch.topk`). Small `k` uses an
 * insertion buffer (O(V·k)), larger `k` a full sort.
 *
 * @example
 * ```ts
 * import { topK } from "./softmax.ts";
 * topK([0.1, 0.7, 0.2, 0.7], 2); // { indices: [1, 3], values: [0.7, 0.7] }
 * ```
 */
export function topK(values: ArrayLike<number>, k: number): TopK {
  assertIntegerInRange("K", k, 0, values.length);
  if (k > 64) {
    const order = Array.from({ length: values.length }, (_, i) => i);
    order.sort((a, b) => before(values[a], a, values[b], b) ? -1 : 1);
    const indices = Uint32Array.from(order.slice(0, k));
    return { indices, values: Float64Array.from(indices, (i) => values[i]) };
  }
  const idx = new Uint32Array(k);
  const val = new Float64Array(k);
  let filled = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (filled === k && (k === 0 || !before(v, i, val[k - 1], idx[k - 1]))) continue;
    // Insertion into the sorted buffer; the buffer stays small when k is small.
    let j = filled < k ? filled++ : k - 1;
    while (j > 0 && before(v, i, val[j - 1], idx[j - 1])) {
      val[j] = val[j - 1];
      idx[j] = idx[j - 1];
      j--;
    }
    val[j] = v;
    idx[j] = i;
  }
  return { indices: idx, values: val };
}
