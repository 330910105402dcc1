// Variant 2 of matmul.wgsl (same bindings, parameters and results): for large GPUs.
// C[m, c_off + n] = act(sum_k A[m, k] * B(k, n) + bias[n]); see matmul_common.wgsl for the layouts.
// Technique: a 128 x 128 output tile per workgroup of 16 x 16 threads, each thread an 8 x 8
// register tile held in 16 named vec4 accumulators (private arrays indexed in loops spill to
// slow memory); A and B tiles of depth 8 staged in workgroup memory as vec4s, A transposed so a
// thread reads its 8 rows as two vec4s. A thread's 8 columns are two runs of 4, 64 apart
// (4 lid.x .. and 64 + 4 lid.x ..), so the 16 threads of a row read 16 consecutive vec4s of the
// B tile at a time (no bank conflicts; contiguous runs of 8 columns would read every other
// vec4). Loads are bounds-checked (zero fill), so any M, N, K work.
// Launch (ceil(N / 128), ceil(M / 128)).
// Parameters, bias/output bindings and stores: matmul_common.wgsl; the A and B bindings and the
// 4-wide loads: matmul_loads.wgsl (scalar, any shape) or matmul_loads_v4.wgsl (vec4,
// "matmul_tiled_v4*" kernels), both prepended before compilation. f16 variants
// ("matmul_tiled_f16", ...): B packed as halves, widened in those load files.

// kk < 8: as_t[kk * 32 + m / 4][m % 4] = A[m0 + m, k0 + kk],
//         bs[kk * 32 + n / 4][n % 4] = B(k0 + kk, n0 + n)
var<workgroup> as_t: array<vec4<f32>, 256>;
var<workgroup> bs: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let tile_m = wg.y * 128u;
  let tile_n = wg.x * 128u;
  var c00 = vec4<f32>(0.0);
  var c01 = vec4<f32>(0.0);
  var c10 = vec4<f32>(0.0);
  var c11 = vec4<f32>(0.0);
  var c20 = vec4<f32>(0.0);
  var c21 = vec4<f32>(0.0);
  var c30 = vec4<f32>(0.0);
  var c31 = vec4<f32>(0.0);
  var c40 = vec4<f32>(0.0);
  var c41 = vec4<f32>(0.0);
  var c50 = vec4<f32>(0.0);
  var c51 = vec4<f32>(0.0);
  var c60 = vec4<f32>(0.0);
  var c61 = vec4<f32>(0.0);
  var c70 = vec4<f32>(0.0);
  var c71 = vec4<f32>(0.0);
  // This thread's share of each tile load: 4 elements of A (row t / 2, depth (t % 2) * 4 ..)
  // and 4 of B (NN: depth t / 32, columns (t % 32) * 4 ..; NT: column t / 2, depth (t % 2) * 4 ..).
  let a_row = t / 2u;
  let a_k = (t % 2u) * 4u;
  for (var k0 = 0u; k0 < p.k; k0 = k0 + 8u) {
    let av = load_a4(tile_m + a_row, k0 + a_k);
    let ai = a_k * 32u + a_row / 4u;
    let ac = a_row % 4u;
    as_t[ai][ac] = av.x;
    as_t[ai + 32u][ac] = av.y;
    as_t[ai + 64u][ac] = av.z;
    as_t[ai + 96u][ac] = av.w;
    if (TRANS_B) {
      let bv = load_b_col4(k0 + a_k, tile_n + a_row);
      bs[ai][ac] = bv.x;
      bs[ai + 32u][ac] = bv.y;
      bs[ai + 64u][ac] = bv.z;
      bs[ai + 96u][ac] = bv.w;
    } else {
      let kk = t / 32u;
      let n = (t % 32u) * 4u;
      bs[kk * 32u + n / 4u] = load_b_row4(k0 + kk, tile_n + n);
    }
    workgroupBarrier();
    // unroll (src/tensor/kernels.ts: one copy per kk, constant indices)
    for (var kk = 0u; kk < 8u; kk = kk + 1u) {
      let a0 = as_t[kk * 32u + lid.y * 2u];
      let a1 = as_t[kk * 32u + lid.y * 2u + 1u];
      let b0 = bs[kk * 32u + lid.x];
      let b1 = bs[kk * 32u + lid.x + 16u];
      c00 = fma(vec4<f32>(a0[0]), b0, c00);
      c01 = fma(vec4<f32>(a0[0]), b1, c01);
      c10 = fma(vec4<f32>(a0[1]), b0, c10);
      c11 = fma(vec4<f32>(a0[1]), b1, c11);
      c20 = fma(vec4<f32>(a0[2]), b0, c20);
      c21 = fma(vec4<f32>(a0[2]), b1, c21);
      c30 = fma(vec4<f32>(a0[3]), b0, c30);
      c31 = fma(vec4<f32>(a0[3]), b1, c31);
      c40 = fma(vec4<f32>(a1[0]), b0, c40);
      c41 = fma(vec4<f32>(a1[0]), b1, c41);
      c50 = fma(vec4<f32>(a1[1]), b0, c50);
      c51 = fma(vec4<f32>(a1[1]), b1, c51);
      c60 = fma(vec4<f32>(a1[2]), b0, c60);
      c61 = fma(vec4<f32>(a1[2]), b1, c61);
      c70 = fma(vec4<f32>(a1[3]), b0, c70);
      c71 = fma(vec4<f32>(a1[3]), b1, c71);
    }
    workgroupBarrier();
  }
  let m0 = tile_m + lid.y * 8u;
  let n0 = tile_n + lid.x * 4u;
  store4(m0 + 0u, n0, c00);
  store4(m0 + 0u, n0 + 64u, c01);
  store4(m0 + 1u, n0, c10);
  store4(m0 + 1u, n0 + 64u, c11);
  store4(m0 + 2u, n0, c20);
  store4(m0 + 2u, n0 + 64u, c21);
  store4(m0 + 3u, n0, c30);
  store4(m0 + 3u, n0 + 64u, c31);
  store4(m0 + 4u, n0, c40);
  store4(m0 + 4u, n0 + 64u, c41);
  store4(m0 + 5u, n0, c50);
  store4(m0 + 5u, n0 + 64u, c51);
  store4(m0 + 6u, n0, c60);
  store4(m0 + 6u, n0 + 64u, c61);
  store4(m0 + 7u, n0, c70);
  store4(m0 + 7u, n0 + 64u, c71);
}
