// out[i] = a[i] + b[i % n2]: residual add (n2 = n) and broadcast add (positions: n2 = T * D).
// Launch: ceil(n / 256) workgroups over x (and y above the per-dimension limit).

struct Params {
  n: u32,
  n2: u32,
  nx: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * p.nx + wg.x) * 256u + lid;
  if (i < p.n) { out[i] = a[i] + b[i % p.n2]; }
}
