// Per-vector statistics for the pairwise kernels. Input: V = layers * n vectors of d f32, vector
// (l, i) starting at element base + l * layer_stride + i * vec_stride (contiguous along d).
// Output: stats[l * n + i] = (mean, std ddof=1, L2 norm, z-limit) where z-limit = thr * std is
// the largest |x - mean| kept by the outlier rule (3.4e38 when thr <= 0 or std == 0, so nothing
// is dropped: numpy's z is NaN for a constant vector and NaN > thr is false).
// bad[0] += number of NaN / Inf elements (a cheap validation reduction read with the results).
// Two passes over each vector (mean, then centred squares). One workgroup of 64 per vector;
// launch (min(V, nx), ceil(V / nx)).

struct Params {
  n: u32,
  layers: u32,
  d: u32,
  layer_stride: u32,
  vec_stride: u32,
  base: u32,
  nx: u32,
  thr: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> bad: array<atomic<u32>>;

const WG: u32 = 64u;
var<workgroup> red: array<vec2<f32>, 64>;

fn reduce2(lid: u32, v: vec2<f32>) -> vec2<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

fn is_finite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let v = wg.y * p.nx + wg.x;
  if (v >= p.n * p.layers) { return; }  // uniform per workgroup
  let l = v / p.n;
  let i = v % p.n;
  let o = p.base + l * p.layer_stride + i * p.vec_stride;
  // Sums shifted by the first element keep the mean accurate when |x| >> its spread.
  let shift = x[o];
  var s = 0.0;
  var nonfinite = 0u;
  for (var k = lid; k < p.d; k = k + WG) {
    let a = x[o + k];
    s = s + (a - shift);
    if (!is_finite(a)) { nonfinite = nonfinite + 1u; }
  }
  if (nonfinite > 0u) { atomicAdd(&bad[0], nonfinite); }
  let mean = shift + reduce2(lid, vec2<f32>(s, 0.0)).x / f32(p.d);
  var q = vec2<f32>(0.0);
  for (var k = lid; k < p.d; k = k + WG) {
    let a = x[o + k];
    let c = a - mean;
    q = q + vec2<f32>(c * c, a * a);
  }
  let t = reduce2(lid, q);
  if (lid == 0u) {
    let sd = sqrt(t.x / f32(max(p.d, 2u) - 1u));
    var lim = 3.4e38;
    if (p.thr > 0.0 && sd > 0.0) { lim = p.thr * sd; }
    stats[v] = vec4<f32>(mean, sd, sqrt(t.y), lim);
  }
}
