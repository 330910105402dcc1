// C[m, c_off + n] = act(sum_k A[m, k] * B(k, n) + bias[n]) for m < M, n < N.
//   A: [M, K] with row stride lda.  B(k, n) = B[k * ldb + n] (NN: HF Conv1D weights [in, out])
//   or B[n * ldb + k] (NT, pipeline constant TRANS_B: token embeddings [V, D] for the unembedding).
//   C: row stride ldc, first column c_off (so vocabulary chunks write into one logits row).
// Variant 1: 8x8 threads, a 4x4 register tile each (named vec4 accumulators), no workgroup
// memory — the shape that runs best on lavapipe. Launch (ceil(N / 32), ceil(M / 32)).
//
// B is read only through b_at(i), the element at flat index i. The f16 variants ("matmul_f16",
// "matmul_nt_f16", built by src/tensor/kernels.ts) swap the two marked lines for a u32 binding of
// IEEE halves packed two per word along B's contiguous dimension (n for NN, k for NT), element i in
// word i / 2, low 16 bits when i is even; every row of B starts at a word, so a row of odd length
// ends with one padding half (+0) and ldb is the padded, even row length. Accumulation stays f32.

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
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;  // B operand (swapped for f16)
fn b_at(i: u32) -> f32 { return b[i]; }  // B operand (swapped for f16)
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

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

fn gelu_new(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  let t = 1.0 - 2.0 / (exp(2.0 * clamp(u, -30.0, 30.0)) + 1.0);
  return 0.5 * x * (1.0 + t);
}

fn store_row(m: u32, n0: u32, v: vec4<f32>) {
  if (m >= p.m) { return; }
  for (var j = 0u; j < 4u; j = j + 1u) {
    let n = n0 + j;
    if (n < p.n) {
      var y = v[j];
      if ((p.flags & 1u) != 0u) { y = y + bias[n]; }
      if ((p.flags & 2u) != 0u) { y = gelu_new(y); }
      let o = m * p.ldc + p.c_off + n;
      if ((p.flags & 4u) != 0u) { y = c[o] + y; }  // accumulate: C += result (residual add)
      c[o] = y;
    }
  }
}

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
  store_row(m0, n0, acc[0]);
  store_row(m0 + 1u, n0, acc[1]);
  store_row(m0 + 2u, n0, acc[2]);
  store_row(m0 + 3u, n0, acc[3]);
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
    store_row(m0, n0, part[0] + ks_part[t] + ks_part[t + 256u] + ks_part[t + 512u]);
    store_row(m0 + 1u, n0, part[1] + ks_part[t + 64u] + ks_part[t + 320u] + ks_part[t + 576u]);
    store_row(m0 + 2u, n0, part[2] + ks_part[t + 128u] + ks_part[t + 384u] + ks_part[t + 640u]);
    store_row(m0 + 3u, n0, part[3] + ks_part[t + 192u] + ks_part[t + 448u] + ks_part[t + 704u]);
  }
}
