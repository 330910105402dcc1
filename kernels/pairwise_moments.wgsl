// Joint moments of two pair-value matrices of the same shape, per layer (for the Pearson r of,
// e.g., MI and covariance over the pairs): layer l of x and y [layers, n, m] starting at elements
// p.base_x and p.base_y (mode 0: every (i, j); 1: the upper triangle i < j only). A pair counts
// when both values are finite.
// Two passes over the layer in one workgroup:
//   1. count, double-f32 sums of x and y (-> shifts mx, my, the f32 means), min and max of each;
//   2. with dx = x - mx, dy = y - my (one f32 rounding each): double-f32 sums of dx, dy, dx^2,
//      dy^2 and dx * dy (each product one f32 rounding; the sums carry ~44 bits).
// The CPU finishes in float64: var_x = (Sxx - Sx^2 / n) / (n - 1), cov = (Sxy - Sx Sy / n) /
// (n - 1), r = cov / sqrt(var_x var_y). Centring on the mean keeps the sums free of
// cancellation; the only errors are the roundings of dx, dy and the products, each relative
// 2^-24 per term, so |error of r| <= ~4 * 2^-24 whatever n.
// Output per layer: out (5 vec4) = (mx, my, 0, 0), (min x, max x, min y, max y),
// (Sx hi, Sx lo, Sy hi, Sy lo), (Sxx hi, Sxx lo, Syy hi, Syy lo), (Sxy hi, Sxy lo, 0, 0);
// counts (2 u32) = (pairs counted, pairs with a non-finite value). One workgroup of 256 per
// layer; launch (layers).

struct Params {
  n: u32,
  m: u32,
  mode: u32,
  base_x: u32,
  base_y: u32,
  zero: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> ys: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> counts: array<u32>;

const WG: u32 = 256u;
var<workgroup> ra: array<vec4<f32>, 256>;
var<workgroup> rb: array<vec4<f32>, 256>;
var<workgroup> rc: array<vec2<u32>, 256>;
var<workgroup> shift: vec2<f32>;

fn dd_add4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(dd_add(a.xy, b.xy), dd_add(a.zw, b.zw));
}

fn finite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let l = wg.x;
  let per = p.n * p.m;
  let ox = p.base_x + l * per;
  let oy = p.base_y + l * per;

  // Pass 1: count, sums, extremes.
  var s = vec4<f32>(0.0);
  var ext = vec4<f32>(3.40282347e38, -3.40282347e38, 3.40282347e38, -3.40282347e38);
  var good = 0u;
  var bad = 0u;
  for (var t = lid; t < per; t = t + WG) {
    if (p.mode == 1u && t / p.m >= t % p.m) { continue; }
    let x = xs[ox + t];
    let y = ys[oy + t];
    if (!finite(x) || !finite(y)) {
      bad = bad + 1u;
      continue;
    }
    good = good + 1u;
    s = dd_add4(s, vec4<f32>(x, 0.0, y, 0.0));
    ext = vec4<f32>(min(ext.x, x), max(ext.y, x), min(ext.z, y), max(ext.w, y));
  }
  ra[lid] = s;
  rb[lid] = ext;
  rc[lid] = vec2<u32>(good, bad);
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h >> 1u) {
    if (lid < h) {
      ra[lid] = dd_add4(ra[lid], ra[lid + h]);
      let u = rb[lid];
      let w = rb[lid + h];
      rb[lid] = vec4<f32>(min(u.x, w.x), max(u.y, w.y), min(u.z, w.z), max(u.w, w.w));
      rc[lid] = rc[lid] + rc[lid + h];
    }
    workgroupBarrier();
  }
  let cnt = rc[0].x;
  if (lid == 0u) {
    let c = f32(max(cnt, 1u));
    let tot = ra[0];
    shift = vec2<f32>((tot.x + tot.y) / c, (tot.z + tot.w) / c);
    out[5u * l] = vec4<f32>(shift, 0.0, 0.0);
    counts[2u * l] = cnt;
    counts[2u * l + 1u] = rc[0].y;
    out[5u * l + 1u] = rb[0];
  }
  workgroupBarrier();
  let mx = shift.x;
  let my = shift.y;

  // Pass 2: centred sums.
  var s1 = vec4<f32>(0.0); // Sx, Sy
  var s2 = vec4<f32>(0.0); // Sxx, Syy
  var s3 = vec2<f32>(0.0); // Sxy
  for (var t = lid; t < per; t = t + WG) {
    if (p.mode == 1u && t / p.m >= t % p.m) { continue; }
    let x = xs[ox + t];
    let y = ys[oy + t];
    if (!finite(x) || !finite(y)) { continue; }
    let dx = x - mx;
    let dy = y - my;
    s1 = dd_add4(s1, vec4<f32>(dx, 0.0, dy, 0.0));
    s2 = dd_add4(s2, vec4<f32>(dx * dx, 0.0, dy * dy, 0.0));
    s3 = dd_add(s3, vec2<f32>(dx * dy, 0.0));
  }
  workgroupBarrier();
  ra[lid] = s1;
  rb[lid] = s2;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h >> 1u) {
    if (lid < h) {
      ra[lid] = dd_add4(ra[lid], ra[lid + h]);
      rb[lid] = dd_add4(rb[lid], rb[lid + h]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[5u * l + 2u] = ra[0];
    out[5u * l + 3u] = rb[0];
  }
  workgroupBarrier();
  ra[lid] = vec4<f32>(s3, 0.0, 0.0);
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h >> 1u) {
    if (lid < h) { ra[lid] = vec4<f32>(dd_add(ra[lid].xy, ra[lid + h].xy), 0.0, 0.0); }
    workgroupBarrier();
  }
  if (lid == 0u) { out[5u * l + 4u] = ra[0]; }
}
