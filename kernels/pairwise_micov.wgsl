// Mutual information (bits) and covariance (ddof 1) of vector pairs, exactly as seed 004's
// mutInfo_and_cov(x, y, thr): a pair drops element k when |x_k - mean x| > thr * std x or the
// same for y (limits from pairwise_stats.wgsl); on the kept elements, a BINS x BINS joint
// histogram with numpy histogram2d edges (linspace(min, max, BINS + 1) per axis, min - 0.5 ..
// max + 0.5 when min == max, a value on an inner edge goes up, the max into the last bin),
// H = -sum p log2 p, MI = Hx + Hy - Hxy, and cov = sum((x - mx)(y - my)) / (n - 1).
//
// Vector a(l, i) starts at a_base + l * a_ls + i * a_vs, b(l, j) at b_base + l * b_ls + j * b_vs;
// stats sa[l * n + i], sb[l * m + j]. Outputs mi, cov: [layers, n, m] row-major, starting at
// element o_base of their bindings (a launch may cover a chunk of the layers of a larger output).
// mode 0: every (i, j) (two groups); 1: i < j filled, the rest 0; 2: i <= j computed and mirrored.
// Fewer than 2 kept elements give NaN.
//
// Bin edges are compared exactly: edge k = lo + k * (hi - lo) / BINS is carried as lo plus
// k * (q1h + q1l + q2), where q1h + q1l + q2 = (hi - lo) / BINS to ~2^-46 relative (q1h has 12
// significant bits so k * q1h is exact); v - edge is evaluated with an exact two-difference, so
// the bin of v matches numpy's float64 searchsorted except when v is within ~2^-36 of an edge.
// Entropies use a table tab[c] = c * log2(c) as a (hi, lo) float pair, summed as double-f32:
// n * MI = tab[n] + sum tab[joint] - sum tab[row sums] - sum tab[column sums].
//
// One workgroup of 64 per (layer, i, j); launch (min(W, nx), ceil(W / nx)), W = layers * n * m.
// HIST_SIZE (>= BINS^2) is substituted into the source before compilation.

struct Params {
  n: u32,
  m: u32,
  layers: u32,
  d: u32,
  a_ls: u32,
  a_vs: u32,
  a_base: u32,
  b_ls: u32,
  b_vs: u32,
  b_base: u32,
  bins: u32,
  mode: u32,
  nx: u32,
  o_base: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xa: array<f32>;
@group(0) @binding(2) var<storage, read> xb: array<f32>;
@group(0) @binding(3) var<storage, read> sa: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> sb: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> tab: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read_write> mi_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> cov_out: array<f32>;

const WG: u32 = 64u;
var<workgroup> hist: array<atomic<u32>, HIST_SIZE>;
var<workgroup> ra: array<vec4<f32>, 64>;
var<workgroup> rb: array<vec4<f32>, 64>;

struct Edges {
  lo: f32,
  q1h: f32,
  q1l: f32,
  q2: f32,
  inv: f32,
}

// Keep the top 12 significant bits (exact products with integers < 128).
fn split_hi(a: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(a) & 0xfffff000u);
}

fn make_edges(lo: f32, hi: f32, bins: u32) -> Edges {
  let b = f32(bins);
  let dh = hi - lo;  // d = dh + dl exactly (two-difference)
  let bb = dh - hi;
  let dl = (hi - (dh - bb)) + (-lo - bb);
  let q1 = dh / b;
  let q1h = split_hi(q1);
  let q1l = q1 - q1h;
  let r = ((dh - q1h * b) - q1l * b) + dl;
  return Edges(lo, q1h, q1l, r / b, b / dh);
}

// v >= edge k, i.e. the sign of (v - lo) - k * step evaluated almost exactly.
fn at_or_above(v: f32, e: Edges, k: u32) -> bool {
  let a = v - e.lo;
  let bb = a - v;
  let ae = (v - (a - bb)) + (-e.lo - bb);
  let kf = f32(k);
  let t = a - kf * e.q1h;
  return ((t - kf * e.q1l) + ae) - kf * e.q2 >= 0.0;
}

// numpy: searchsorted(edges, v, "right") - 1, with v == max in the last bin.
fn bin_of(v: f32, e: Edges, bins: u32) -> u32 {
  var k = u32(clamp(floor((v - e.lo) * e.inv), 0.0, f32(bins - 1u)));
  for (var it = 0u; it < 2u; it = it + 1u) {
    if (k > 0u && !at_or_above(v, e, k)) {
      k = k - 1u;
    } else if (k + 1u < bins && at_or_above(v, e, k + 1u)) {
      k = k + 1u;
    }
  }
  return k;
}

// Double-f32 addition (two-sum), (hi, lo).
fn dd_add(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let s = a.x + b.x;
  let bb = s - a.x;
  let e = (a.x - (s - bb)) + (b.x - bb) + a.y + b.y;
  let h = s + e;
  return vec2<f32>(h, e - (h - s));
}

fn nan() -> f32 {
  return bitcast<f32>(0x7fc00000u);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = wg.y * p.nx + wg.x;
  let per = p.n * p.m;
  if (w >= p.layers * per) { return; }  // uniform per workgroup
  let l = w / per;
  let r = w % per;
  let i = r / p.m;
  let j = r % p.m;
  if (p.mode == 1u && i >= j) {
    if (lid == 0u) {
      mi_out[p.o_base + w] = 0.0;
      cov_out[p.o_base + w] = 0.0;
    }
    return;
  }
  if (p.mode == 2u && i > j) { return; }  // written by the mirror (j, i)

  let xo = p.a_base + l * p.a_ls + i * p.a_vs;
  let yo = p.b_base + l * p.b_ls + j * p.b_vs;
  let sx = sa[l * p.n + i];
  let sy = sb[l * p.m + j];
  let bins = p.bins;

  // Pass 1: count, sums, min and max of the kept elements.
  var acc = vec4<f32>(0.0);
  var mm = vec4<f32>(3.4e38);
  for (var k = lid; k < p.d; k = k + WG) {
    let x = xa[xo + k];
    let y = xb[yo + k];
    if (abs(x - sx.x) > sx.w || abs(y - sy.x) > sy.w) { continue; }
    acc = acc + vec4<f32>(x - sx.x, y - sy.x, 1.0, 0.0);  // shifted: exact-ish for x >> spread
    mm = min(mm, vec4<f32>(x, -x, y, -y));
  }
  ra[lid] = acc;
  rb[lid] = mm;
  for (var t = lid; t < bins * bins; t = t + WG) { atomicStore(&hist[t], 0u); }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      ra[lid] = ra[lid] + ra[lid + s];
      rb[lid] = min(rb[lid], rb[lid + s]);
    }
    workgroupBarrier();
  }
  let tot = ra[0];
  let ext = rb[0];
  let cnt = tot.z;
  var lx = ext.x;
  var ux = -ext.y;
  var ly = ext.z;
  var uy = -ext.w;
  if (cnt < 1.0) {
    lx = 0.0;
    ux = 1.0;
    ly = 0.0;
    uy = 1.0;
  }
  // numpy widens an empty range by 0.5 each side (the bin of a constant vector does not change
  // MI: all its mass is in one bin whichever it is).
  if (lx == ux) {
    let h = max(0.5, abs(lx) * 1e-6);
    lx = lx - h;
    ux = ux + h;
  }
  if (ly == uy) {
    let h = max(0.5, abs(ly) * 1e-6);
    ly = ly - h;
    uy = uy + h;
  }
  let ex = make_edges(lx, ux, bins);
  let ey = make_edges(ly, uy, bins);
  // Kept means relative to the whole-vector means.
  let mx = tot.x / max(cnt, 1.0);
  let my = tot.y / max(cnt, 1.0);
  workgroupBarrier();

  // Pass 2: joint histogram and centred cross products.
  var c = 0.0;
  for (var k = lid; k < p.d; k = k + WG) {
    let x = xa[xo + k];
    let y = xb[yo + k];
    if (abs(x - sx.x) > sx.w || abs(y - sy.x) > sy.w) { continue; }
    c = c + ((x - sx.x) - mx) * ((y - sy.x) - my);
    atomicAdd(&hist[bin_of(x, ex, bins) * bins + bin_of(y, ey, bins)], 1u);
  }
  workgroupBarrier();

  // Pass 3: sum c log2 c over the joint (+) and the marginals (-), as double-f32.
  var e = vec2<f32>(0.0);
  for (var t = lid; t < bins * bins; t = t + WG) {
    let h = atomicLoad(&hist[t]);
    if (h > 1u) { e = dd_add(e, tab[h]); }
  }
  if (lid < bins) {
    var rx = 0u;
    var cy = 0u;
    for (var q = 0u; q < bins; q = q + 1u) {
      rx = rx + atomicLoad(&hist[lid * bins + q]);
      cy = cy + atomicLoad(&hist[q * bins + lid]);
    }
    e = dd_add(e, -tab[rx]);
    e = dd_add(e, -tab[cy]);
  }
  ra[lid] = vec4<f32>(e, c, 0.0);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let u = ra[lid];
      let v = ra[lid + s];
      ra[lid] = vec4<f32>(dd_add(u.xy, v.xy), u.z + v.z, 0.0);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let n = u32(cnt);
    let f = ra[0];
    let nmi = dd_add(tab[n], f.xy);
    var mi = (nmi.x + nmi.y) / cnt;
    var cv = f.z / (cnt - 1.0);
    if (n < 2u) {
      mi = nan();
      cv = nan();
    }
    mi_out[p.o_base + w] = mi;
    cov_out[p.o_base + w] = cv;
    if (p.mode == 2u && i != j) {
      let o2 = p.o_base + l * per + j * p.m + i;
      mi_out[o2] = mi;
      cov_out[o2] = cv;
    }
  }
}
