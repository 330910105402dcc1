// Histogram edges from the data's range, on the GPU (numpy.histogram(values, bins) with an
// automatic range): ext[0..count) are per-layer (sum hi, sum lo, min, max) entries of
// kernels/pairwise_summary.wgsl (min = +FLT_MAX, max = -FLT_MAX for a layer without finite
// values), copied together from any number of summaries. lo = min of the mins, hi = max of the
// maxes; no finite value gives (0, 1) and lo == hi gives (lo - 0.5, hi + 0.5), as numpy.
// Output: edges[k] = min(lo + k * ((hi - lo) / bins), hi) for k < bins, edges[bins] = hi, all
// f32 (non-decreasing in k), and edges[bins + 1] = hi (the summary kernel's "last edge rounded
// down", exact here). The edges are the exact values the summary kernel compares with, and are
// read back as they are. One workgroup; launch (1).

struct Params {
  count: u32,
  nbins: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ext: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> edges: array<f32>;

const WG: u32 = 256u;
var<workgroup> r: array<vec2<f32>, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var lo = 3.40282347e38;
  var hi = -3.40282347e38;
  for (var t = lid; t < p.count; t = t + WG) {
    let e = ext[t];
    lo = min(lo, e.z);
    hi = max(hi, e.w);
  }
  r[lid] = vec2<f32>(lo, hi);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      r[lid] = vec2<f32>(min(r[lid].x, r[lid + s].x), max(r[lid].y, r[lid + s].y));
    }
    workgroupBarrier();
  }
  lo = r[0].x;
  hi = r[0].y;
  if (lo > hi) {
    lo = 0.0;
    hi = 1.0;
  } else if (lo == hi) {
    lo = lo - 0.5;
    hi = hi + 0.5;
  }
  let nb = p.nbins;
  let step = (hi - lo) / f32(nb);
  for (var k = lid; k < nb; k = k + WG) {
    edges[k] = select(min(lo + f32(k) * step, hi), lo, k == 0u);
  }
  if (lid == 0u) {
    edges[nb] = hi;
    edges[nb + 1u] = hi;
  }
}
