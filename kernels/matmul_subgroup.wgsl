// Variant 3 of matmul.wgsl (same bindings, parameters and results) for CPU adapters (lavapipe):
// C[m, c_off + n] = act(sum_k A[m, k] * B(k, n) + bias[n]); see matmul_common.wgsl for the
// layouts. Body only: src/tensor/kernels.ts prepends matmul_common.wgsl (parameters, bias and
// output bindings, epilogue) and matmul_loads_v4.wgsl (A and B bound as vec4 arrays, b4_at).
// Needs K % 4 == 0 (and N % 4 == 0 without TRANS_B: B rows are read as vec4s), subgroups of at
// least 8 invocations, and 16-byte aligned bindings; matmul() falls back to matmul.wgsl otherwise.
//
// Why this shape: on llvmpipe a subgroup is one 8-lane SIMD register, and every load whose address
// differs between lanes becomes a scalar loop over the lanes (with bounds checks), while
// arithmetic is cheap. So loads are made few and wide: A and B are bound as vec4 arrays (4 values
// of K, or 4 columns, per load), and the 32 rows of A a workgroup needs at each step are loaded
// one row per lane (4 loads of 8 rows) and handed to every lane with subgroupBroadcast (a register
// shuffle) instead of 32 loads per lane.
// Technique: each thread owns a 32 x 4 output tile (32 named vec4 accumulators: private arrays
// indexed in loops spill to slow memory): rows m0..m0+31 of the workgroup, 4 adjacent columns of
// its own. Per step of 4 K values it loads its 4 x 4 block of B as a mat4x4 (4 vec4 loads), and
// one vec4 of A (row m0 + lane % 8 + 8g, g < 4). Out-of-range rows and columns are clamped to
// the last valid one when loading (once per thread, no per-element checks in the K loop) and
// skipped when storing.
// Launch (ceil(M / 32), ceil(N / 64)): rows fastest, so consecutive workgroups reuse one strip
// of B from cache. Workgroup of 16 threads (2 subgroups on lavapipe). Entry point
// matmul_subgroup; profiles name it "matmul" / "matmul_nt" like matmul.wgsl (src/tensor/kernels.ts).
// B is read only through b4_at(i), its i-th group of 4 consecutive elements. The f16 variants
// ("matmul_f16" / "matmul_nt_f16") bind B as vec2<u32>: 4 halves packed two per word (layout of
// matmul_common.wgsl; rows here have a multiple of 4 elements, so there is no padding), widened to f32.

// acc[j] += sum_kk av[kk] * B(k + kk, n0 + j), bm the thread's 4 x 4 block of B as loaded:
// NN: bm[kk] = B row k + kk (4 columns); NT: bm[j] = column n0 + j (4 values of K).
fn mac(acc: vec4<f32>, av: vec4<f32>, bm: mat4x4<f32>) -> vec4<f32> {
  if (TRANS_B) {
    return acc + av * bm;
  }
  let acc2 = fma(bm[2], vec4(av.z), fma(bm[3], vec4(av.w), acc));
  return fma(bm[0], vec4(av.x), fma(bm[1], vec4(av.y), acc2));
}

@compute @workgroup_size(16)
fn matmul_subgroup(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
  let m0 = wg.x * 32u;
  let n0 = wg.y * 64u + lid.x * 4u;
  let lda4 = p.lda / 4u;
  let ldb4 = p.ldb / 4u;
  let k4 = p.k / 4u;
  // vec4 index of this lane's A row in each group of 8 rows, at k = 0
  let ra0 = min(m0 + lane % 8u, p.m - 1u) * lda4;
  let ra1 = min(m0 + 8u + lane % 8u, p.m - 1u) * lda4;
  let ra2 = min(m0 + 16u + lane % 8u, p.m - 1u) * lda4;
  let ra3 = min(m0 + 24u + lane % 8u, p.m - 1u) * lda4;
  // vec4 indices of the 4 B vectors this thread loads at k = 0, and their step per 4 K values
  var rb: vec4<u32>;
  var kstep = 1u;
  if (TRANS_B) {
    let last = p.n - 1u;
    rb = vec4<u32>(min(n0, last), min(n0 + 1u, last), min(n0 + 2u, last), min(n0 + 3u, last)) * ldb4;
  } else {
    rb = vec4<u32>(min(n0, p.n - 4u) / 4u) + vec4<u32>(0u, 1u, 2u, 3u) * ldb4;
    kstep = 4u * ldb4;
  }
  var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
  var acc4 = vec4<f32>(0.0); var acc5 = vec4<f32>(0.0); var acc6 = vec4<f32>(0.0); var acc7 = vec4<f32>(0.0);
  var acc8 = vec4<f32>(0.0); var acc9 = vec4<f32>(0.0); var acc10 = vec4<f32>(0.0); var acc11 = vec4<f32>(0.0);
  var acc12 = vec4<f32>(0.0); var acc13 = vec4<f32>(0.0); var acc14 = vec4<f32>(0.0); var acc15 = vec4<f32>(0.0);
  var acc16 = vec4<f32>(0.0); var acc17 = vec4<f32>(0.0); var acc18 = vec4<f32>(0.0); var acc19 = vec4<f32>(0.0);
  var acc20 = vec4<f32>(0.0); var acc21 = vec4<f32>(0.0); var acc22 = vec4<f32>(0.0); var acc23 = vec4<f32>(0.0);
  var acc24 = vec4<f32>(0.0); var acc25 = vec4<f32>(0.0); var acc26 = vec4<f32>(0.0); var acc27 = vec4<f32>(0.0);
  var acc28 = vec4<f32>(0.0); var acc29 = vec4<f32>(0.0); var acc30 = vec4<f32>(0.0); var acc31 = vec4<f32>(0.0);
  for (var k = 0u; k < k4; k = k + 1u) {
    let bi = rb + vec4<u32>(k * kstep);
    let bm = mat4x4<f32>(b4_at(bi.x), b4_at(bi.y), b4_at(bi.z), b4_at(bi.w));
    let a0 = a[ra0 + k];
    let a1 = a[ra1 + k];
    let a2 = a[ra2 + k];
    let a3 = a[ra3 + k];
    // row m0 + 8g + i of A is a_g in lane i
    acc0 = mac(acc0, subgroupBroadcast(a0, 0u), bm);
    acc1 = mac(acc1, subgroupBroadcast(a0, 1u), bm);
    acc2 = mac(acc2, subgroupBroadcast(a0, 2u), bm);
    acc3 = mac(acc3, subgroupBroadcast(a0, 3u), bm);
    acc4 = mac(acc4, subgroupBroadcast(a0, 4u), bm);
    acc5 = mac(acc5, subgroupBroadcast(a0, 5u), bm);
    acc6 = mac(acc6, subgroupBroadcast(a0, 6u), bm);
    acc7 = mac(acc7, subgroupBroadcast(a0, 7u), bm);
    acc8 = mac(acc8, subgroupBroadcast(a1, 0u), bm);
    acc9 = mac(acc9, subgroupBroadcast(a1, 1u), bm);
    acc10 = mac(acc10, subgroupBroadcast(a1, 2u), bm);
    acc11 = mac(acc11, subgroupBroadcast(a1, 3u), bm);
    acc12 = mac(acc12, subgroupBroadcast(a1, 4u), bm);
    acc13 = mac(acc13, subgroupBroadcast(a1, 5u), bm);
    acc14 = mac(acc14, subgroupBroadcast(a1, 6u), bm);
    acc15 = mac(acc15, subgroupBroadcast(a1, 7u), bm);
    acc16 = mac(acc16, subgroupBroadcast(a2, 0u), bm);
    acc17 = mac(acc17, subgroupBroadcast(a2, 1u), bm);
    acc18 = mac(acc18, subgroupBroadcast(a2, 2u), bm);
    acc19 = mac(acc19, subgroupBroadcast(a2, 3u), bm);
    acc20 = mac(acc20, subgroupBroadcast(a2, 4u), bm);
    acc21 = mac(acc21, subgroupBroadcast(a2, 5u), bm);
    acc22 = mac(acc22, subgroupBroadcast(a2, 6u), bm);
    acc23 = mac(acc23, subgroupBroadcast(a2, 7u), bm);
    acc24 = mac(acc24, subgroupBroadcast(a3, 0u), bm);
    acc25 = mac(acc25, subgroupBroadcast(a3, 1u), bm);
    acc26 = mac(acc26, subgroupBroadcast(a3, 2u), bm);
    acc27 = mac(acc27, subgroupBroadcast(a3, 3u), bm);
    acc28 = mac(acc28, subgroupBroadcast(a3, 4u), bm);
    acc29 = mac(acc29, subgroupBroadcast(a3, 5u), bm);
    acc30 = mac(acc30, subgroupBroadcast(a3, 6u), bm);
    acc31 = mac(acc31, subgroupBroadcast(a3, 7u), bm);
  }
  store4(m0, n0, acc0); store4(m0 + 1u, n0, acc1); store4(m0 + 2u, n0, acc2); store4(m0 + 3u, n0, acc3);
  store4(m0 + 4u, n0, acc4); store4(m0 + 5u, n0, acc5); store4(m0 + 6u, n0, acc6); store4(m0 + 7u, n0, acc7);
  store4(m0 + 8u, n0, acc8); store4(m0 + 9u, n0, acc9); store4(m0 + 10u, n0, acc10); store4(m0 + 11u, n0, acc11);
  store4(m0 + 12u, n0, acc12); store4(m0 + 13u, n0, acc13); store4(m0 + 14u, n0, acc14); store4(m0 + 15u, n0, acc15);
  store4(m0 + 16u, n0, acc16); store4(m0 + 17u, n0, acc17); store4(m0 + 18u, n0, acc18); store4(m0 + 19u, n0, acc19);
  store4(m0 + 20u, n0, acc20); store4(m0 + 21u, n0, acc21); store4(m0 + 22u, n0, acc22); store4(m0 + 23u, n0, acc23);
  store4(m0 + 24u, n0, acc24); store4(m0 + 25u, n0, acc25); store4(m0 + 26u, n0, acc26); store4(m0 + 27u, n0, acc27);
  store4(m0 + 28u, n0, acc28); store4(m0 + 29u, n0, acc29); store4(m0 + 30u, n0, acc30); store4(m0 + 31u, n0, acc31);
}
