// Per-vector preparation of the prebinned MI path (pairwise_mi_fast.wgsl): for vector (l, i) of a
// stack (element k at base + l * layer_stride + i * vec_stride + k) with statistics
// stats[v] = (mean, std, norm, z-limit) from pairwise_stats.wgsl, v = l * n + i, one u32 buffer
// `prep` of V * (4 + mw + bins * mw) words, V = layers * n:
//   info[v]           prep[4 v ..]: (index of a kept minimum, index of a kept maximum, kept
//                     count, bits of the f32 mean of the kept elements: the covariance shift, so
//                     dropped huge activations do not make the one-pass sums cancel).
//   mask              prep[4 V + v * mw + q], bit b: element 32 q + b is kept by the vector's own
//                     outlier rule (|x - mean| <= z-limit, the complement of pairwise_micov.wgsl's
//                     drop test); bits past d are 0. mw >= ceil(d / 32) (the fast kernel
//                     pads it to a multiple of 4).
//   bin masks         prep[(4 + mw) V + (v * bins + a) * mw + q], bit b: element 32 q + b is
//                     kept and lies in bin a of `bins` equal-width bins over the kept range
//                     [min, max] (numpy histogram2d edges: kept_edges() and bin_of() of
//                     pairwise_bins.wgsl, so identical to what pairwise_micov.wgsl computes for
//                     a pair whose kept range is this one). A pair's joint histogram is then
//                     H[a][b] = sum_q popcount(xmask[a][q] & ymask[b][q]).
// A pair (x, y) keeps the elements kept by both; its x range is x's own range exactly when the
// minimum and maximum recorded here are kept by y (and the same for y), which
// pairwise_mi_fast.wgsl checks before using these bins.
// One workgroup of 64 per vector; launch (min(V, nx), ceil(V / nx)), V = layers * n.

struct Params {
  n: u32,
  layers: u32,
  d: u32,
  layer_stride: u32,
  vec_stride: u32,
  base: u32,
  nx: u32,
  bins: u32,
  mw: u32,
  zero: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> prep: array<atomic<u32>>;

const WG: u32 = 64u;
// (min, max, sum) of the kept values and (argmin, argmax, count) of each thread, reduced in place.
var<workgroup> rv: array<vec3<f32>, 64>;
var<workgroup> ri: array<vec3<u32>, 64>;

fn kept(v: f32, s: vec4<f32>) -> bool {
  return !(abs(v - s.x) > s.w);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let v = wg.y * p.nx + wg.x;
  if (v >= p.layers * p.n) { return; }  // uniform per workgroup
  let l = v / p.n;
  let i = v % p.n;
  let vs = p.layers * p.n;
  let xo = p.base + l * p.layer_stride + i * p.vec_stride;
  let s = stats[v];

  // Kept range and where it is attained (first index among this thread's elements).
  var lo = 3.4e38;
  var hi = -3.4e38;
  var ilo = 0u;
  var ihi = 0u;
  var cnt = 0u;
  var sum = 0.0;
  for (var k = lid; k < p.d; k = k + WG) {
    let e = x[xo + k];
    if (!kept(e, s)) { continue; }
    cnt = cnt + 1u;
    sum = sum + (e - s.x);
    if (e < lo) {
      lo = e;
      ilo = k;
    }
    if (e > hi) {
      hi = e;
      ihi = k;
    }
  }
  rv[lid] = vec3<f32>(lo, hi, sum);
  ri[lid] = vec3<u32>(ilo, ihi, cnt);
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st = st >> 1u) {
    if (lid < st) {
      let a = rv[lid];
      let b = rv[lid + st];
      var ia = ri[lid];
      let ib = ri[lid + st];
      if (b.x < a.x) { ia.x = ib.x; }
      if (b.y > a.y) { ia.y = ib.y; }
      rv[lid] = vec3<f32>(min(a.x, b.x), max(a.y, b.y), a.z + b.z);
      ri[lid] = vec3<u32>(ia.x, ia.y, ia.z + ib.z);
    }
    workgroupBarrier();
  }
  let range = rv[0];
  let idx = ri[0];
  let e = kept_edges(range.x, range.y, f32(idx.z), p.bins);

  let bm = (4u + p.mw) * vs + v * p.bins * p.mw;
  for (var q = lid; q < p.bins * p.mw; q = q + WG) { atomicStore(&prep[bm + q], 0u); }
  for (var q = lid; q < p.mw; q = q + WG) {
    var word = 0u;
    for (var b = 0u; b < 32u; b = b + 1u) {
      let k = 32u * q + b;
      if (k < p.d && kept(x[xo + k], s)) { word = word | (1u << b); }
    }
    atomicStore(&prep[4u * vs + v * p.mw + q], word);
  }
  storageBarrier();  // bin masks cleared
  for (var k = lid; k < p.d; k = k + WG) {
    let val = x[xo + k];
    if (kept(val, s)) {
      atomicOr(&prep[bm + bin_of(val, e, p.bins) * p.mw + k / 32u], 1u << (k % 32u));
    }
  }
  if (lid == 0u) {
    atomicStore(&prep[4u * v], idx.x);
    atomicStore(&prep[4u * v + 1u], idx.y);
    atomicStore(&prep[4u * v + 2u], idx.z);
    // Kept mean, summed relative to the whole-vector mean (small terms).
    atomicStore(&prep[4u * v + 3u], bitcast<u32>(s.x + range.z / max(f32(idx.z), 1.0)));
  }
}
