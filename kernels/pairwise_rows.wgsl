// Rows prepared for the cosine / covariance matrices as matrix products (CPU adapters: the Gram
// matrix of prepared rows is matmul(P_a, P_b, transposeW), src/pairwise/pairwise.ts):
//   cosine:     row / |row|                  (0 when the norm is 0)
//   covariance: (row - mean row) * scale     (scale = 1 / sqrt(d - 1) on both sides)
// Input: vector (l, i) of d f32 at element base + l * layer_stride + i * vec_stride (contiguous
// along d); stats[l * n + i] = (mean, std, norm, _) from pairwise_stats.wgsl.
// Output: out[l * out_ls + i * dp + k], k < dp (dp = d rounded up to a multiple of 4, the
// columns k >= d are 0 so the product can load vec4s; out_ls keeps every layer's rows at an
// aligned binding offset).
// One workgroup of 64 per vector; launch (min(V, nx), ceil(V / nx)), V = layers * n.

struct Params {
  n: u32,
  layers: u32,
  d: u32,
  layer_stride: u32,
  vec_stride: u32,
  base: u32,
  dp: u32,
  out_ls: u32,
  metric: u32,  // 0 cosine, 1 covariance
  nx: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let v = wg.y * p.nx + wg.x;
  if (v >= p.n * p.layers) { return; }
  let l = v / p.n;
  let i = v % p.n;
  let src = p.base + l * p.layer_stride + i * p.vec_stride;
  let dst = l * p.out_ls + i * p.dp;
  let s = stats[v];
  var shift = 0.0;
  var norm = 1.0;
  var mul = 1.0;
  if (p.metric == 1u) {
    shift = s.x;
    mul = p.scale;
  } else if (s.z > 0.0) {
    norm = s.z;
  } else {
    mul = 0.0;
  }
  for (var k = lid; k < p.dp; k = k + 64u) {
    var y = 0.0;
    if (k < p.d) { y = (x[src + k] - shift) / norm * mul; }
    out[dst + k] = y;
  }
}
