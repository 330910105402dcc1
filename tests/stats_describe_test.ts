import assert from "node:assert/strict";
import {
  max,
  mean,
  min,
  pairwiseSum,
  pearson,
  quantile,
  std,
  upperTriangle,
  variance,
} from "../src/stats/mod.ts";
import { InvalidArgumentError, ShapeError } from "../src/errors.ts";

Deno.test("mean, variance, std", () => {
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  assert.equal(variance([1, 2, 3, 4]), 1.25);
  assert.equal(variance([1, 2, 3, 4, 5], { ddof: 1 }), 2.5);
  assert.equal(std([1, 2, 3, 4]), Math.sqrt(1.25));
  assert.ok(Number.isNaN(variance([1], { ddof: 1 })));
  assert.throws(() => variance([1, 2], { ddof: -1 }), InvalidArgumentError);
  assert.ok(Number.isNaN(mean([])));
});

Deno.test("pairwiseSum uses numpy's blocking", () => {
  // 0.1 summed 8 times: sequential gives 0.7999999999999999, the 8-accumulator tree 0.8.
  assert.equal(pairwiseSum(new Array(8).fill(0.1)), 0.8);
  let seq = 0;
  for (let i = 0; i < 8; i++) seq += 0.1;
  assert.equal(seq, 0.7999999999999999);
  assert.equal(pairwiseSum(new Array(7).fill(0.1)), 0.7);
  const big = Float64Array.from({ length: 1000 }, (_, i) => (i % 10) / 10);
  assert.ok(Math.abs(pairwiseSum(big) - 450) < 1e-10);
  assert.equal(pairwiseSum([]), 0);
});

Deno.test("pearson like np.corrcoef(a, b)[0, 1]", () => {
  assert.equal(pearson([1, 2, 3], [2, 4, 7]), 0.9933992677987828);
  assert.equal(pearson([1, 2, 3], [3, 2, 1]), -1);
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
  assert.throws(() => pearson([1, 2], [1, 2, 3]), ShapeError);
});

Deno.test("min, max, quantile", () => {
  assert.equal(min([3, -1, 2]), -1);
  assert.equal(max([3, -1, 2]), 3);
  assert.ok(Number.isNaN(max([1, NaN])));
  assert.throws(() => min([]), InvalidArgumentError);
  // sorted [1, 1, 2, 3, 4, 5, 6, 9]; position 0.3·7 = 2.1 → 2 + 0.1·(3 − 2)
  assert.equal(quantile([3, 1, 4, 1, 5, 9, 2, 6], 0.3), 2.1);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([5], 0.9), 5);
  assert.equal(quantile([1, 2, 3], 1), 3);
  assert.throws(() => quantile([1, 2], 1.5), InvalidArgumentError);
});

Deno.test("upperTriangle follows np.triu_indices order", () => {
  const m = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  assert.deepEqual(Array.from(upperTriangle(m, 3)), [2, 3, 6]);
  assert.deepEqual(Array.from(upperTriangle(m, 3, 0)), [1, 2, 3, 5, 6, 9]);
  assert.deepEqual(Array.from(upperTriangle(m, 3, 2)), [3]);
  assert.deepEqual(Array.from(upperTriangle(m, 3, -1)), [1, 2, 3, 4, 5, 6, 8, 9]);
  assert.throws(() => upperTriangle(m, 2), ShapeError);
});
