// How the matmul kernels read A and B, for any shape: scalar loads, each bounds-checked (zero fill
// outside the matrix). Prepended after matmul_common.wgsl. The tiled kernels only call the three
// 4-wide loads; matmul_loads_v4.wgsl is the same interface with one vec4 load each, used when the
// shapes allow. The f16 variants swap the two marked lines (B packed as halves, see
// matmul_common.wgsl).

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;  // B operand (swapped for f16)
fn b_at(i: u32) -> f32 { return b[i]; }  // B operand (swapped for f16)

fn load_a(m: u32, k: u32) -> f32 {
  if (m < p.m && k < p.k) { return a[m * p.lda + k]; }
  return 0.0;
}

fn load_b(k: u32, n: u32) -> f32 {
  if (k < p.k && n < p.n) {
    if (TRANS_B) { return b_at(n * p.ldb + k); }
    return b_at(k * p.ldb + n);
  }
  return 0.0;
}

// A[m, k .. k + 3].
fn load_a4(m: u32, k: u32) -> vec4<f32> {
  return vec4<f32>(load_a(m, k), load_a(m, k + 1u), load_a(m, k + 2u), load_a(m, k + 3u));
}

// B(k, n .. n + 3): four columns of one depth (NN layouts).
fn load_b_row4(k: u32, n: u32) -> vec4<f32> {
  return vec4<f32>(load_b(k, n), load_b(k, n + 1u), load_b(k, n + 2u), load_b(k, n + 3u));
}

// B(k .. k + 3, n): four depths of one column (NT layouts).
fn load_b_col4(k: u32, n: u32) -> vec4<f32> {
  return vec4<f32>(load_b(k, n), load_b(k + 1u, n), load_b(k + 2u, n), load_b(k + 3u, n));
}
