// Cosine-similarity or covariance (ddof 1) matrices between vectors: out[l, i, j] =
//   cosine:     a_i . b_j / (|a_i| |b_j|)           (0 when a norm is 0)
//   covariance: (a_i - mean a_i) . (b_j - mean b_j) / (d - 1)
// Vector a(l, i) starts at a_base + l * a_ls + i * a_vs, b(l, j) at b_base + l * b_ls + j * b_vs
// (contiguous along d); sa[l * n + i], sb[l * m + j] = (mean, std, norm, _) from
// pairwise_stats.wgsl. out: [layers, n, m] row-major, starting at element o_base of the binding
// (a launch may cover a chunk of the layers of a larger output, bound from an aligned offset).
// mode 0/2: every (i, j); 1: i < j filled, the rest 0.
// 16 x 16 output tile per workgroup (one output per invocation), d in chunks of 16 staged in
// workgroup memory; launch (ceil(m / 16), ceil(n / 16), layers).

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
  metric: u32,  // 0 cosine, 1 covariance
  mode: u32,
  o_base: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xa: array<f32>;
@group(0) @binding(2) var<storage, read> xb: array<f32>;
@group(0) @binding(3) var<storage, read> sa: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> sb: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

const T: u32 = 16u;
var<workgroup> ta: array<array<f32, 17>, 16>;
var<workgroup> tb: array<array<f32, 17>, 16>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let l = wg.z;
  let i0 = wg.y * T;
  let j0 = wg.x * T;
  let tx = lid.x;
  let ty = lid.y;
  let i = i0 + ty;
  let j = j0 + tx;
  let o = p.o_base + l * p.n * p.m + i * p.m + j;
  if (p.mode == 1u && i0 >= j0 + T - 1u) {  // the whole tile is on or below the diagonal
    if (i < p.n && j < p.m) { out[o] = 0.0; }
    return;
  }
  let centre = p.metric == 1u;
  // The rows this invocation loads: a row i0 + ty, b row j0 + ty.
  let ra = min(i0 + ty, p.n - 1u);
  let rb = min(j0 + ty, p.m - 1u);
  var mean_a = 0.0;
  var mean_b = 0.0;
  if (centre) {
    mean_a = sa[l * p.n + ra].x;
    mean_b = sb[l * p.m + rb].x;
  }
  let ao = p.a_base + l * p.a_ls + ra * p.a_vs;
  let bo = p.b_base + l * p.b_ls + rb * p.b_vs;
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.d; k0 = k0 + T) {
    let k = k0 + tx;
    var va = 0.0;
    var vb = 0.0;
    if (k < p.d) {
      va = xa[ao + k] - mean_a;
      vb = xb[bo + k] - mean_b;
    }
    ta[ty][tx] = va;
    tb[ty][tx] = vb;
    workgroupBarrier();
    for (var kk = 0u; kk < T; kk = kk + 1u) {
      acc = acc + ta[ty][kk] * tb[tx][kk];
    }
    workgroupBarrier();
  }
  if (i >= p.n || j >= p.m) { return; }
  var v = 0.0;
  if (p.mode == 1u && i >= j) {
    v = 0.0;
  } else if (centre) {
    v = acc / f32(p.d - 1u);
  } else {
    let na = sa[l * p.n + i].z;
    let nb = sb[l * p.m + j].z;
    if (na > 0.0 && nb > 0.0) { v = acc / (na * nb); }
  }
  out[o] = v;
}
