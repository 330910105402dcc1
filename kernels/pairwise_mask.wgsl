// The "upper" layout of a one-stack pair matrix computed in full: out[l, i, j] = 0 for i >= j,
// layers [0, layers) of an [layers, n, n] block starting at element base of the binding.
// Flat index over layers * n * n (only the lower triangle and diagonal are written); launch
// (min(W, nx), ceil(W / nx)), W = ceil(layers * n * n / 256).

struct Params {
  n: u32,
  layers: u32,
  base: u32,
  nx: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = (wg.y * p.nx + wg.x) * 256u + lid;
  let per = p.n * p.n;
  if (t >= p.layers * per) { return; }
  let r = t % per;
  if (r / p.n >= r % p.n) { out[p.base + t] = 0.0; }
}
