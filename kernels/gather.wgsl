// Row gathers (the token-embedding gather is kernels/embed.wgsl).
//   positions: out[out_off + (b * P + q) * D + c] = x[(b * T + pos[q]) * D + c]: keep the hidden
//              states of chosen positions of every sequence.
//   columns:   out[r * d + c] = src[r * row0 + chunk_rows + c]: a column block of a strided matrix
//              (row0 holds the source row stride, chunk_rows the first column; q, k, v of qkv).
// All: one thread per output element, launch ceil(n / 256) over x (and y above the limit).

struct Params {
  n: u32,          // output elements of this launch
  d: u32,          // row width
  row0: u32,       // columns: source row stride
  chunk_rows: u32, // columns: first column
  t: u32,          // positions: sequence length
  np: u32,         // positions: positions kept per sequence
  out_off: u32,    // positions: output element offset
  nx: u32,         // workgroups along x
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> index: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn positions(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * p.nx + wg.x) * 256u + lid;
  if (i >= p.n) { return; }
  let c = i % p.d;
  let rq = i / p.d;        // b * np + q
  let q = rq % p.np;
  let b = rq / p.np;
  out[p.out_off + i] = src[(b * p.t + index[q]) * p.d + c];
}

@compute @workgroup_size(256)
fn columns(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  _ = index[0];  // keep the shared bind group layout (auto layouts drop unused bindings)
  let i = (wg.y * p.nx + wg.x) * 256u + lid;
  if (i >= p.n) { return; }
  let r = i / p.d;
  let c = i % p.d;
  out[i] = src[r * p.row0 + p.chunk_rows + c];
}
