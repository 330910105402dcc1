// Elementwise kernels over flat f32 arrays. Launch: ceil(n / 256) workgroups, split over x and y
// when above the per-dimension limit (index = (wg.y * nx + wg.x) * 256 + local).

struct Params {
  n: u32,      // elements written
  n2: u32,     // length of the broadcast operand (add_bcast)
  nx: u32,     // workgroups along x
  alpha: f32,  // scale factor (scale)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn flat(wg: vec3<u32>, lid: u32) -> u32 {
  return (wg.y * p.nx + wg.x) * 256u + lid;
}

// out[i] = alpha * a[i]
@compute @workgroup_size(256)
fn scale(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wg, lid);
  if (i < p.n) { out[i] = p.alpha * a[i]; }
}

// gelu_new (GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), written without tanh() so
// large |x| cannot overflow: tanh(u) = 1 - 2 / (exp(2u) + 1).
fn gelu_new(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  let t = 1.0 - 2.0 / (exp(2.0 * clamp(u, -30.0, 30.0)) + 1.0);
  return 0.5 * x * (1.0 + t);
}

@compute @workgroup_size(256)
fn gelu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = flat(wg, lid);
  if (i < p.n) { out[i] = gelu_new(a[i]); }
}
