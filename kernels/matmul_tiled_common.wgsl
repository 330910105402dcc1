// Shared by the 128x128-tile matmul kernels (prepended to matmul_tiled.wgsl and
// matmul_tiled_pf.wgsl by src/tensor/kernels.ts, after one of the two load files): parameters,
// the bias and output bindings, the epilogue (bias, gelu_new, accumulate) and the store of a
// thread's 8 x 8 tile, whose 8 columns are two runs of 4, 64 apart. How A and B are read is in
// matmul_tiled_loads.wgsl (scalar loads, any shape) or matmul_tiled_loads_v4.wgsl (vec4 loads).

override TRANS_B: bool = false;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  lda: u32,
  ldb: u32,
  ldc: u32,
  c_off: u32,
  flags: u32,  // bit 0: add bias; bit 1: apply gelu_new; bit 2: add into C (C += result)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

fn gelu_new(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  let t = 1.0 - 2.0 / (exp(2.0 * clamp(u, -30.0, 30.0)) + 1.0);
  return 0.5 * x * (1.0 + t);
}

fn store1(m: u32, n: u32, v: f32) {
  if (n < p.n) {
    var y = v;
    if ((p.flags & 1u) != 0u) { y = y + bias[n]; }
    if ((p.flags & 2u) != 0u) { y = gelu_new(y); }
    let o = m * p.ldc + p.c_off + n;
    if ((p.flags & 4u) != 0u) { y = c[o] + y; }  // accumulate: C += result (residual add)
    c[o] = y;
  }
}

// Row m of a thread's tile: columns n0 .. n0 + 3 (lo) and n0 + 64 .. n0 + 67 (hi).
fn store8(m: u32, n0: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (m >= p.m) { return; }
  store1(m, n0, lo.x);
  store1(m, n0 + 1u, lo.y);
  store1(m, n0 + 2u, lo.z);
  store1(m, n0 + 3u, lo.w);
  store1(m, n0 + 64u, hi.x);
  store1(m, n0 + 65u, hi.y);
  store1(m, n0 + 66u, hi.z);
  store1(m, n0 + 67u, hi.w);
}
