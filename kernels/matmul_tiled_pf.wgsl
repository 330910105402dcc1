// Variant 3 of matmul.wgsl (same bindings, parameters and results): matmul_tiled.wgsl with tiles
// of depth 16 and the next tile's global loads issued before the current tile is multiplied
// (register prefetch), so a workgroup's loads are in flight while it computes and it meets half
// as many barriers per multiply-add. Chosen over matmul_tiled.wgsl only where measured faster
// (gpu.tuning.matmulTiledKernel, `deno task cli tune`).
// C[m, c_off + n] = act(sum_k A[m, k] * B(k, n) + bias[n]); see matmul_common.wgsl for the layouts
// (f16 variants "matmul_tiled_pf_f16", ...: B widened in the load files).
// A 128 x 128 output tile per workgroup of 16 x 16 threads, each an 8 x 8 register tile in 16
// named vec4 accumulators: rows 8 lid.y .. + 7, columns 4 lid.x .. + 3 and 64 + 4 lid.x .. + 3
// (the 16 threads of a row read 16 consecutive vec4s of the B tile). Workgroup memory: A (as
// vec4s of 4 rows, transposed) and B tiles of 16 x 128 each, 16 KiB in all. Each thread loads 8
// elements of A (row t / 2, depth (t % 2) * 8 ..) and 8 of B (NN: depth t / 16, columns
// (t % 16) * 8 ..; NT: column t / 2, depth (t % 2) * 8 ..) per tile into named vec4 registers.
// Loads are bounds-checked (zero fill), so any M, N, K work. Launch (ceil(N / 128), ceil(M / 128)).
// Parameters, bindings and stores: matmul_common.wgsl; loads: one of matmul_loads.wgsl and
// matmul_loads_v4.wgsl; both prepended before compilation.

// kk < 16: as_t[kk * 32 + m / 4][m % 4] = A[m0 + m, k0 + kk],
//          bs[kk * 32 + n / 4][n % 4] = B(k0 + kk, n0 + n)
var<workgroup> as_t: array<vec4<f32>, 512>;
var<workgroup> bs: array<vec4<f32>, 512>;

// This thread's share of B for the tile at depth k0: NN 8 columns of one depth, NT 8 depths of
// one column (as 2 vec4s: lo = the first 4).
fn load_b8(k0: u32, tile_n: u32, t: u32, half: u32) -> vec4<f32> {
  if (TRANS_B) {
    return load_b_col4(k0 + (t % 2u) * 8u + half * 4u, tile_n + t / 2u);
  }
  return load_b_row4(k0 + t / 16u, tile_n + (t % 16u) * 8u + half * 4u);
}

// Move this thread's prefetched A (row a_row, depths a_k .. a_k + 7) and B into the tiles.
fn stage(t: u32, a_lo: vec4<f32>, a_hi: vec4<f32>, b_lo: vec4<f32>, b_hi: vec4<f32>) {
  let a_row = t / 2u;
  let a_k = (t % 2u) * 8u;
  let ai = a_k * 32u + a_row / 4u;
  let ac = a_row % 4u;
  as_t[ai][ac] = a_lo.x;
  as_t[ai + 32u][ac] = a_lo.y;
  as_t[ai + 64u][ac] = a_lo.z;
  as_t[ai + 96u][ac] = a_lo.w;
  as_t[ai + 128u][ac] = a_hi.x;
  as_t[ai + 160u][ac] = a_hi.y;
  as_t[ai + 192u][ac] = a_hi.z;
  as_t[ai + 224u][ac] = a_hi.w;
  if (TRANS_B) {
    bs[ai][ac] = b_lo.x;
    bs[ai + 32u][ac] = b_lo.y;
    bs[ai + 64u][ac] = b_lo.z;
    bs[ai + 96u][ac] = b_lo.w;
    bs[ai + 128u][ac] = b_hi.x;
    bs[ai + 160u][ac] = b_hi.y;
    bs[ai + 192u][ac] = b_hi.z;
    bs[ai + 224u][ac] = b_hi.w;
  } else {
    let bi = (t / 16u) * 32u + (t % 16u) * 2u;
    bs[bi] = b_lo;
    bs[bi + 1u] = b_hi;
  }
}

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
  let a_row = tile_m + t / 2u;
  let a_k = (t % 2u) * 8u;

  // Prologue: the first tile.
  var a_lo = load_a4(a_row, a_k);
  var a_hi = load_a4(a_row, a_k + 4u);
  var b_lo = load_b8(0u, tile_n, t, 0u);
  var b_hi = load_b8(0u, tile_n, t, 1u);
  stage(t, a_lo, a_hi, b_lo, b_hi);
  workgroupBarrier();
  for (var k0 = 0u; k0 < p.k; k0 = k0 + 16u) {
    let next = k0 + 16u;
    let more = next < p.k;  // uniform
    if (more) {  // the next tile's loads, in flight during the multiply-adds below
      a_lo = load_a4(a_row, next + a_k);
      a_hi = load_a4(a_row, next + a_k + 4u);
      b_lo = load_b8(next, tile_n, t, 0u);
      b_hi = load_b8(next, tile_n, t, 1u);
    }
    // unroll (src/tensor/kernels.ts: one copy per kk, constant indices)
    for (var kk = 0u; kk < 16u; kk = kk + 1u) {
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
    if (more) { stage(t, a_lo, a_hi, b_lo, b_hi); }
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
