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
// Bins: kernels/pairwise_bins.wgsl (prepended before compilation) evaluates numpy's edges almost
// exactly.
// Entropies use a table tab[c] = c * log2(c) as a (hi, lo) float pair, summed as double-f32:
// n * MI = tab[n] + sum tab[joint] - sum tab[row sums] - sum tab[column sums].
//
// One workgroup of 64 per (layer, i, j); launch (min(W, nx), ceil(W / nx)), W = layers * n * m.
// listed = 1: the pairs are those listed by pairwise_mi_fast.wgsl (list[0] of them, pair index
// w = l * n * m + i * m + j at list[4 + q]), for pairs its prebinned path cannot take; the
// launch is indirect (pairwise_mi_args.wgsl) with nx fixed. HIST_SIZE (>= BINS^2) is
// substituted into the source before compilation.

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
  listed: u32,
  zero: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xa: array<f32>;
@group(0) @binding(2) var<storage, read> xb: array<f32>;
@group(0) @binding(3) var<storage, read> sa: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> sb: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> tab: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read_write> mi_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> cov_out: array<f32>;
@group(0) @binding(8) var<storage, read> list: array<u32>;

const WG: u32 = 64u;
var<workgroup> hist: array<atomic<u32>, HIST_SIZE>;
var<workgroup> ra: array<vec4<f32>, 64>;
var<workgroup> rb: array<vec4<f32>, 64>;
var<workgroup> listed_w: u32;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var w = wg.y * p.nx + wg.x;
  let per = p.n * p.m;
  if (p.listed == 1u) {
    if (lid == 0u) {
      listed_w = 0xffffffffu;
      if (w < list[0]) { listed_w = list[4u + w]; }
    }
    w = workgroupUniformLoad(&listed_w);  // a storage read made uniform for the barriers below
  }
  if (w >= p.layers * per) { return; }
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
  let ex = kept_edges(ext.x, -ext.y, cnt, bins);
  let ey = kept_edges(ext.z, -ext.w, cnt, bins);
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
