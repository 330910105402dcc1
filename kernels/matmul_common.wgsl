// Shared by every matmul kernel (prepended by src/tensor/kernels.ts, before one of the two load
// files and the kernel's own body: matmul.wgsl, matmul_subgroup.wgsl, matmul_tiled.wgsl,
// matmul_tiled_pf.wgsl): the parameters, the bias and output bindings, and the epilogue.
//
// C[m, c_off + n] = act(sum_k A[m, k] * B(k, n) + bias[n]) for m < M, n < N (C += ... with
// flags bit 2).
//   A: [M, K] with row stride lda.  B(k, n) = B[k * ldb + n] (NN: HF Conv1D weights [in, out])
//   or B[n * ldb + k] (NT, pipeline constant TRANS_B: token embeddings [V, D] for the unembedding).
//   C: row stride ldc, first column c_off (so vocabulary chunks write into one logits row).
// How A and B are bound and read: matmul_loads.wgsl (scalar loads, any shape) or
// matmul_loads_v4.wgsl (vec4 loads: K % 4 == 0, and N % 4 == 0 for NN). Their f16 twins bind B as
// IEEE halves packed two per u32 along B's contiguous dimension (n for NN, k for NT), element i in
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
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

fn gelu_new(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  let t = 1.0 - 2.0 / (exp(2.0 * clamp(u, -30.0, 30.0)) + 1.0);
  return 0.5 * x * (1.0 + t);
}

// The epilogue of one output: bias, gelu_new, accumulate, store (columns past N skipped).
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

// Row m, columns n0 .. n0 + 3 (rows past M skipped). Unrolled: no vec4 indexed in a loop.
fn store4(m: u32, n0: u32, v: vec4<f32>) {
  if (m >= p.m) { return; }
  store1(m, n0, v.x);
  store1(m, n0 + 1u, v.y);
  store1(m, n0 + 2u, v.z);
  store1(m, n0 + 3u, v.w);
}
