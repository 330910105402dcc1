// Token-embedding gather: out[r, :] = table[ids[r] - row0, :] for tokens whose id lies in this
// table chunk [row0, row0 + chunk_rows) (the token embedding can exceed one storage binding, so it
// is bound a chunk at a time); other rows are left untouched. out: [R, D], ids: [R], table:
// [chunk_rows, D]. One thread per output element, launch ceil(n / 256) over x (and y above the
// limit).
//
// The table is read only through table_at(row, c). The f16 variant ("embed_f16", built by
// src/tensor/kernels.ts) swaps the two marked lines for a u32 binding of IEEE halves packed two per
// word along D (element c of a row in word c / 2, low 16 bits when c is even), each row starting at
// a word: a row of odd D ends with one padding half (+0), so rows are D + D % 2 halves apart.

struct Params {
  n: u32,          // output elements of this launch
  d: u32,          // row width D
  row0: u32,       // first vocabulary row of the chunk
  chunk_rows: u32, // rows in the chunk
  nx: u32,         // workgroups along x
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;  // table (swapped for f16)
fn table_at(r: u32, c: u32) -> f32 { return table[r * p.d + c]; }  // table (swapped for f16)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * p.nx + wg.x) * 256u + lid;
  if (i >= p.n) { return; }
  let r = i / p.d;
  let c = i % p.d;
  let id = ids[r];
  if (id >= p.row0 && id < p.row0 + p.chunk_rows) {
    out[i] = table_at(id - p.row0, c);
  }
}
