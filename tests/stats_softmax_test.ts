import assert from "node:assert/strict";
import {
  entropy,
  entropyFromLogits,
  logSoftmax,
  naiveSoftmax,
  softmax,
  topK,
} from "../src/stats/mod.ts";
import { InvalidArgumentError } from "../src/errors.ts";

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-15) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
  }
};

Deno.test("softmax is stable for huge logits", () => {
  assert.deepEqual(Array.from(softmax([1000, 1000])), [0.5, 0.5]);
  close(logSoftmax([1000, 1000]), [-Math.LN2, -Math.LN2]);
  close(softmax([-1000, -1000]), [0.5, 0.5]);
  close(softmax([0, Math.log(3)]), [0.25, 0.75]);
  const p = softmax([1, 2, 3, 4]);
  close(logSoftmax([1, 2, 3, 4]), Array.from(p, Math.log), 1e-15);
  assert.equal(softmax([]).length, 0);
});

Deno.test("naive softmax overflows: Inf/Inf and 0/0 give NaN", () => {
  // float64 overflows past x ≈ 709.8, float32 past x ≈ 88.7.
  assert.ok(Array.from(naiveSoftmax([1000, 1000])).every(Number.isNaN));
  assert.ok(Array.from(naiveSoftmax([1000, 1000], { float32: true })).every(Number.isNaN));
  assert.deepEqual(Array.from(naiveSoftmax([100, 100])), [0.5, 0.5]);
  assert.ok(Array.from(naiveSoftmax([100, 100], { float32: true })).every(Number.isNaN));
  assert.ok(Array.from(naiveSoftmax([-1000, -1000])).every(Number.isNaN)); // underflow: 0/0
  // Small logits: naive float32 agrees with the stable float64 softmax to float32 precision.
  close(naiveSoftmax([0.1, -2, 3.5], { float32: true }), softmax([0.1, -2, 3.5]), 1e-7);
  const f = naiveSoftmax([0.1, -2, 3.5], { float32: true });
  f.forEach((v) => assert.equal(v, Math.fround(v)));
});

Deno.test("temperature divides the logits", () => {
  // T = 2 on [0, ln 3] is softmax([0, ln(3)/2]) = [1, √3] / (1 + √3)
  const s3 = Math.sqrt(3);
  close(softmax([0, Math.log(3)], { temperature: 2 }), [1 / (1 + s3), s3 / (1 + s3)]);
  close(logSoftmax([0, Math.log(3)], { temperature: 2 }), [
    -Math.log(1 + s3),
    Math.log(s3 / (1 + s3)),
  ]);
  close(naiveSoftmax([0, Math.log(3)], { temperature: 2 }), [1 / (1 + s3), s3 / (1 + s3)]);
  // Hot temperature flattens towards uniform, cold sharpens towards one-hot.
  assert.ok(Math.abs(softmax([1, 5], { temperature: 1e6 })[0] - 0.5) < 1e-5);
  assert.ok(softmax([1, 5], { temperature: 0.01 })[1] > 1 - 1e-15);
  // No max subtraction: naive with T = 10 on [1000, 1000] is fine, T = 1 is not.
  close(naiveSoftmax([1000, 1000], { temperature: 10 }), [0.5, 0.5]);
  for (const t of [0, -1, NaN, Infinity]) {
    assert.throws(
      () => softmax([1, 2], { temperature: t }),
      (e: Error) =>
        e instanceof InvalidArgumentError && e.message.includes(`"${t}"`) && e.hint !== "",
    );
  }
});

Deno.test("entropy in nats and bits", () => {
  assert.equal(entropy([0.25, 0.25, 0.25, 0.25], { unit: "bits" }), 2);
  close([entropy([0.25, 0.25, 0.25, 0.25])], [Math.log(4)]);
  assert.equal(entropy([1, 0, 0]), 0);
  close([entropy([0.5, 0.5], { unit: "bits" })], [1]);
  close([entropyFromLogits([1000, 1000], { unit: "bits" })], [1]);
  close([entropyFromLogits([0, Math.log(3)])], [entropy([0.25, 0.75])]);
  close([entropyFromLogits([0, -Infinity])], [0]);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => entropy([1], { unit: "dits" as any }), InvalidArgumentError);
});

Deno.test("topK: descending, ties by lower index, NaN first", () => {
  const r = topK([0.1, 0.7, 0.2, 0.7], 2);
  assert.deepEqual(Array.from(r.indices), [1, 3]);
  assert.deepEqual(Array.from(r.values), [0.7, 0.7]);
  assert.deepEqual(Array.from(topK([3, 1, 2], 3).indices), [0, 2, 1]);
  assert.deepEqual(Array.from(topK([1, NaN, 5], 2).indices), [1, 2]);
  assert.equal(topK([1, 2], 0).indices.length, 0);
  assert.throws(() => topK([1, 2], 3), InvalidArgumentError);
  assert.throws(() => topK([1, 2], -1), InvalidArgumentError);
  // Large k takes the sort path; same ordering rules.
  const v = Array.from({ length: 500 }, (_, i) => i % 7);
  const big = topK(v, 100);
  const want = Array.from({ length: 500 }, (_, i) => i)
    .sort((a, b) => v[b] - v[a] || a - b)
    .slice(0, 100);
  assert.deepEqual(Array.from(big.indices), want);
  assert.deepEqual(Array.from(topK(v, 60).indices), want.slice(0, 60));
});
