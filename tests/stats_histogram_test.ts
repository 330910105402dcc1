// numpy-exact histograms; expected values worked out by hand from numpy's rules
// (edges = linspace(min, max, bins + 1), bin i = [e_i, e_{i+1}), last bin closed).
import assert from "node:assert/strict";
import {
  binIndex,
  histogram,
  histogram2d,
  histogram2dDensity,
  histogramDensity,
  histogramEdges,
  linspace,
} from "../src/stats/mod.ts";
import { InvalidArgumentError, ShapeError } from "../src/errors.ts";

const arr = (h: Float64Array) => Array.from(h);

Deno.test("histogram: last bin closed, values on inner edges go up", () => {
  const h = histogram([0, 1, 2, 3, 4], { bins: 4 });
  assert.deepEqual(arr(h.edges), [0, 1, 2, 3, 4]);
  assert.deepEqual(arr(h.counts), [1, 1, 1, 2]);
  assert.deepEqual(arr(histogram([0, 0.5, 1], { bins: 2 }).counts), [1, 2]);
});

Deno.test("histogram: constant input uses (min - 0.5, max + 0.5)", () => {
  const h2 = histogram([3, 3, 3], { bins: 2 });
  assert.deepEqual(arr(h2.edges), [2.5, 3, 3.5]);
  assert.deepEqual(arr(h2.counts), [0, 3]); // 3 is on the inner edge → upper bin
  assert.deepEqual(arr(histogram([3, 3, 3], { bins: 3 }).counts), [0, 3, 0]);
  assert.deepEqual(arr(histogramEdges([], { bins: 2 })), [0, 0.5, 1]);
});

Deno.test("histogram: floating-point edges are reproduced exactly", () => {
  // edges are i * 0.1: 3 * 0.1 = 0.30000000000000004 > 0.3, likewise 6 and 7, so 0.3, 0.6
  // and 0.7 fall one bin lower than their "nominal" bin (numpy gives the same counts).
  const v = Array.from({ length: 11 }, (_, k) => k / 10);
  const h = histogram(v, { bins: 10 });
  assert.equal(h.edges[3], 0.30000000000000004);
  assert.deepEqual(arr(h.counts), [1, 1, 2, 0, 1, 2, 1, 0, 1, 2]);
});

Deno.test("histogram: range and explicit edges", () => {
  const h = histogram([-1, 0, 0.25, 1, 2], { bins: 4, range: [0, 1] });
  assert.deepEqual(arr(h.edges), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(arr(h.counts), [1, 1, 0, 1]);
  assert.deepEqual(arr(histogram([1, 2, 2.5, 10], { bins: [0, 2, 5, 10] }).counts), [1, 2, 1]);
  assert.deepEqual(arr(histogram([NaN, 0.5], { bins: 1, range: [0, 1] }).counts), [1]);
});

Deno.test("histogram: density integrates to 1", () => {
  assert.deepEqual(arr(histogramDensity(histogram([0, 1, 2, 3, 4], { bins: 4 }))), [
    0.2,
    0.2,
    0.2,
    0.4,
  ]);
});

Deno.test("histogram: bad arguments throw typed errors", () => {
  assert.throws(() => histogram([1, NaN]), InvalidArgumentError);
  assert.throws(() => histogram([1, Infinity]), InvalidArgumentError);
  assert.throws(() => histogram([1, 2], { bins: 0 }), InvalidArgumentError);
  assert.throws(() => histogram([1, 2], { bins: 2.5 }), InvalidArgumentError);
  assert.throws(() => histogram([1, 2], { bins: [0, 2, 1] }), InvalidArgumentError);
  assert.throws(() => histogram([1, 2], { range: [2, 1] }), InvalidArgumentError);
  assert.throws(
    () => histogram([1, 2], { bins: -1 }),
    (e: Error) => e.message.includes('"-1"') && !e.message.endsWith("."),
  );
});

Deno.test("linspace and binIndex follow numpy", () => {
  assert.deepEqual(arr(linspace(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(arr(linspace(2, 2, 3)), [2, 2, 2]);
  const e = [0, 1, 2];
  assert.deepEqual([-0.1, 0, 0.5, 1, 2, 2.1, NaN].map((v) => binIndex(e, v)), [
    -1,
    0,
    0,
    1,
    1,
    -1,
    -1,
  ]);
});

Deno.test("histogram2d: integer bins like numpy", () => {
  const h = histogram2d([0, 1, 2], [0, 0, 1], 2);
  assert.deepEqual(arr(h.xEdges), [0, 1, 2]);
  assert.deepEqual(arr(h.yEdges), [0, 0.5, 1]);
  assert.deepEqual(arr(h.counts), [1, 0, 1, 1]); // x = 1 sits on the inner edge → x bin 1
  const d = histogram2dDensity(h); // bin area 0.5, 3 points
  assert.deepEqual(arr(d).map((v) => Math.round(v * 1e12) / 1e12), [
    0.666666666667,
    0,
    0.666666666667,
    0.666666666667,
  ]);
});

Deno.test("histogram2d: constant axis, uneven bins, range", () => {
  const c = histogram2d([0, 1, 2, 3], [5, 5, 5, 5], 2);
  assert.deepEqual(arr(c.yEdges), [4.5, 5, 5.5]);
  assert.deepEqual(arr(c.xEdges), [0, 1.5, 3]);
  assert.deepEqual(arr(c.counts), [0, 2, 0, 2]);

  const r = histogram2d([0, 1, 2, 3, 10], [0, 1, 2, 3, -5], [2, 3], {
    range: [[0, 3], [0, 3]],
  });
  assert.deepEqual(arr(r.counts), [1, 1, 0, 0, 0, 2]); // (10, −5) is outside and dropped

  const d = histogram2dDensity(histogram2d([0, 1, 2, 3], [0, 1, 2, 3], [2, 3]));
  const want = [1 / 6, 1 / 6, 0, 0, 0, 1 / 3]; // areas 1.5, 4 points
  d.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-15));
});

Deno.test("histogram2d: float edges on both axes match numpy", () => {
  const x = Array.from({ length: 11 }, (_, k) => k / 10);
  const y = x.toReversed();
  const h = histogram2d(x, y, [10, 2]);
  // numpy.histogram2d(arange(11)/10, arange(11)[::-1]/10, bins=[10, 2])
  assert.deepEqual(arr(h.counts), [0, 1, 0, 1, 0, 2, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 2, 0]);
  assert.throws(() => histogram2d([1, 2], [1]), ShapeError);
  assert.throws(() => histogram2d([1, NaN], [1, 2]), InvalidArgumentError);
});
