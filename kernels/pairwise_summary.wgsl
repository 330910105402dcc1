// Per-layer summaries of pair values: for layer l of vals [layers, n, m] starting at element
// p.base (mode 0: every (i, j); 1: the upper triangle i < j only), count the finite values, their
// sum, min and max, the non-finite ones, and a histogram over edges with numpy.histogram
// semantics: bin k holds e_k <= v < e_{k+1}, the last bin also v == e_B, values outside
// [e_0, e_B] are not counted. edges[0..B] are the float64 edges rounded UP to f32 (so e <= v
// exactly iff edges[k] <= v for an f32 v); edges[B + 1] is e_B rounded DOWN (v <= e_B iff
// v <= edges[B + 1]). The edges come from the CPU or from kernels/pairwise_edges.wgsl (f32 edges,
// exact, so both roundings are the identity). B = 0: no histogram (edges is not read).
// Outputs: fstats[l] = (sum hi, sum lo, min, max), min = +FLT_MAX and max = -FLT_MAX when the
// layer has no finite value; ustats[l * (B + 2) + 0] = finite count, [.. + 1] = non-finite
// count, [.. + 2 + k] = histogram bin k.
// One workgroup of 256 per layer; launch (layers). B <= MAX_BINS.

struct Params {
  n: u32,
  m: u32,
  mode: u32,
  nbins: u32,
  base: u32,
  zero: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> vals: array<f32>;
@group(0) @binding(2) var<storage, read> edges: array<f32>;
@group(0) @binding(3) var<storage, read_write> fstats: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> ustats: array<u32>;

const WG: u32 = 256u;
const MAX_BINS: u32 = 1024u;
var<workgroup> hist: array<atomic<u32>, 1024>;
var<workgroup> rs: array<vec4<f32>, 256>;
var<workgroup> rc: array<vec2<u32>, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let l = wg.x;
  let nb = p.nbins;
  for (var t = lid; t < nb; t = t + WG) { atomicStore(&hist[t], 0u); }
  workgroupBarrier();
  let per = p.n * p.m;
  var sum = vec2<f32>(0.0);
  var lo = 3.40282347e38;
  var hi = -3.40282347e38;
  var finite = 0u;
  var bad = 0u;
  for (var t = lid; t < per; t = t + WG) {
    let i = t / p.m;
    let j = t % p.m;
    if (p.mode == 1u && i >= j) { continue; }
    let v = vals[p.base + l * per + t];
    if ((bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u) {
      bad = bad + 1u;
      continue;
    }
    finite = finite + 1u;
    sum = dd_add(sum, vec2<f32>(v, 0.0));
    lo = min(lo, v);
    hi = max(hi, v);
    if (nb == 0u) { continue; }
    // searchsorted(edges, v, "right"): the number of edges <= v.
    var a = 0u;
    var b = nb + 1u;
    while (a < b) {
      let mid = (a + b) / 2u;
      if (edges[mid] <= v) { a = mid + 1u; } else { b = mid; }
    }
    if (a == 0u) { continue; }
    var k = a - 1u;
    if (k == nb) {
      if (v > edges[nb + 1u]) { continue; }
      k = nb - 1u;
    }
    atomicAdd(&hist[k], 1u);
  }
  rs[lid] = vec4<f32>(sum, lo, hi);
  rc[lid] = vec2<u32>(finite, bad);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let u = rs[lid];
      let w = rs[lid + s];
      rs[lid] = vec4<f32>(dd_add(u.xy, w.xy), min(u.z, w.z), max(u.w, w.w));
      rc[lid] = rc[lid] + rc[lid + s];
    }
    workgroupBarrier();
  }
  let base = l * (nb + 2u);
  if (lid == 0u) {
    fstats[l] = rs[0];
    ustats[base] = rc[0].x;
    ustats[base + 1u] = rc[0].y;
  }
  for (var t = lid; t < nb; t = t + WG) { ustats[base + 2u + t] = atomicLoad(&hist[t]); }
}
