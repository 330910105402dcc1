// Variant 1 (body; src/tensor/kernels.ts prepends matmul_common.wgsl and matmul_loads.wgsl):
// C[m, c_off + n] = act(sum_k A[m, k] * B(k, n) + bias[n]); layouts in matmul_common.wgsl.
// 8x8 threads, a 4x4 register tile each (named vec4 accumulators), no workgroup memory — the
// shape that runs best on lavapipe for shapes the subgroup kernel cannot take. Launch
// (ceil(N / 32), ceil(M / 32)). Any shape (scalar, bounds-checked loads).

// The 4 x 4 block at rows m0 .. m0 + 3, columns n0 .. n0 + 3 of the sum over k = k0, k0 + step,
// ... < K of A[m, k] B(k, n), one vec4 per row (named accumulators, returned as the columns of a
// mat4x4: block row r is result[r]).
fn tile4x4(m0: u32, n0: u32, k0: u32, step: u32) -> mat4x4<f32> {
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = k0; k < p.k; k = k + step) {
    let bv = vec4<f32>(load_b(k, n0), load_b(k, n0 + 1u), load_b(k, n0 + 2u), load_b(k, n0 + 3u));
    acc0 = fma(vec4<f32>(load_a(m0, k)), bv, acc0);
    acc1 = fma(vec4<f32>(load_a(m0 + 1u, k)), bv, acc1);
    acc2 = fma(vec4<f32>(load_a(m0 + 2u, k)), bv, acc2);
    acc3 = fma(vec4<f32>(load_a(m0 + 3u, k)), bv, acc3);
  }
  return mat4x4<f32>(acc0, acc1, acc2, acc3);
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m0 = wg.y * 32u + lid.y * 4u;
  let n0 = wg.x * 32u + lid.x * 4u;
  let acc = tile4x4(m0, n0, 0u, 1u);
  store4(m0, n0, acc[0]);
  store4(m0 + 1u, n0, acc[1]);
  store4(m0 + 2u, n0, acc[2]);
  store4(m0 + 3u, n0, acc[3]);
}

// Variant 1b, entry point main_ksplit (named "matmul" too): the same 32 x 32 tile of 4 x 4 register
// tiles, with each output's K terms split over the 4 threads of a workgroup (8, 8, 4): thread z
// takes k = z, z + 4, z + 8, ..., and the partial tiles are summed through workgroup memory in a
// fixed order (z = 0 + 1 + 2 + 3) before the epilogue, so results are deterministic. For outputs
// too small to fill a large GPU (GPT-2 projections at B1 x T128: 96 workgroups of 64 threads,
// each thread a serial chain of K steps): 4x the threads, a quarter of the chain. Chosen by
// gpu.tuning.matmulSmallKernel (measured by `deno task cli tune`). Launch as main.
// ks_part[((z - 1) * 4 + r) * 64 + t]: row r of thread t's partial tile from slice z (1..3);
// consecutive threads touch consecutive vec4s.
var<workgroup> ks_part: array<vec4<f32>, 768>;

@compute @workgroup_size(8, 8, 4)
fn main_ksplit(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m0 = wg.y * 32u + lid.y * 4u;
  let n0 = wg.x * 32u + lid.x * 4u;
  let part = tile4x4(m0, n0, lid.z, 4u);
  let t = lid.y * 8u + lid.x;
  if (lid.z > 0u) {
    let at = (lid.z - 1u) * 256u + t;
    ks_part[at] = part[0];
    ks_part[at + 64u] = part[1];
    ks_part[at + 128u] = part[2];
    ks_part[at + 192u] = part[3];
  }
  workgroupBarrier();
  if (lid.z == 0u) {
    store4(m0, n0, part[0] + ks_part[t] + ks_part[t + 256u] + ks_part[t + 512u]);
    store4(m0 + 1u, n0, part[1] + ks_part[t + 64u] + ks_part[t + 320u] + ks_part[t + 576u]);
    store4(m0 + 2u, n0, part[2] + ks_part[t + 128u] + ks_part[t + 384u] + ks_part[t + 640u]);
    store4(m0 + 3u, n0, part[3] + ks_part[t + 192u] + ks_part[t + 448u] + ks_part[t + 704u]);
  }
}
