// How the matmul kernels read A and B when the shapes allow: the interface of matmul_loads.wgsl,
// each 4-wide load one vec4 load with one bounds check (zero fill); matmul_subgroup.wgsl indexes
// the vec4 bindings itself.
// Needs K % 4 == 0 (A rows and NT B rows are whole vec4s), N % 4 == 0 for NN layouts, 4 | lda
// and 4 | ldb, and every 4-wide load starting at a multiple of 4 (the kernels' k and n are);
// matmul() uses matmul_loads.wgsl for other shapes. A and B are bound as vec4 arrays, so
// each binding's size is a multiple of 16 bytes under these conditions (8 for f16 B).
// Why: scalar loads cost four bounds checks (ours plus naga's index clamp) and four load
// instructions per vec4 of the tile; here it is one of each (a 128-bit load).
// The f16 variants swap the two marked lines (B as vec2<u32>: 4 halves in two words).

@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;  // B operand (swapped for f16)
fn b4_at(i: u32) -> vec4<f32> { return b[i]; }  // B operand (swapped for f16)

// A[m, k .. k + 3] (k % 4 == 0).
fn load_a4(m: u32, k: u32) -> vec4<f32> {
  if (m < p.m && k < p.k) { return a[(m * p.lda + k) >> 2u]; }
  return vec4<f32>(0.0);
}

// B(k, n .. n + 3): four columns of one depth (NN layouts; n % 4 == 0).
fn load_b_row4(k: u32, n: u32) -> vec4<f32> {
  if (k < p.k && n < p.n) { return b4_at((k * p.ldb + n) >> 2u); }
  return vec4<f32>(0.0);
}

// B(k .. k + 3, n): four depths of one column (NT layouts; k % 4 == 0).
fn load_b_col4(k: u32, n: u32) -> vec4<f32> {
  if (k < p.k && n < p.n) { return b4_at((n * p.ldb + k) >> 2u); }
  return vec4<f32>(0.0);
}
