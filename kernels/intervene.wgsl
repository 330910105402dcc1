// GPU-side hook interventions on a strided view of an activation, in place:
//   x[row * stride + c0 + col] for row < rows, col < cols, where the row's position
//   (row % t) is selected by pos_mask, its sequence (b0 + row / seq_rows) by seq_mask, and the
//   head (col / head_dim, or (row / t) % heads for attention patterns [B, H, T, T]) by the
//   head_mask bits.
// Modes: 0 scale by alpha, 1 add alpha * value[vi], 2 set to value[vi], 3 zero, where
// vi = v_off + (row % v_rows) * v_stride + col: v_stride = 0 broadcasts one vector over rows,
// v_rows = seq_rows broadcasts one sequence's activation over the batch.
// Launch ceil(rows * cols / 256) over x (and y above the limit).

struct Params {
  rows: u32,
  cols: u32,
  stride: u32,
  c0: u32,
  t: u32,
  heads: u32,
  head_dim: u32,     // 0: heads come from the row (attention pattern layout)
  head_mask: u32,    // bit h set: head h selected
  mode: u32,
  v_stride: u32,
  nx: u32,
  alpha: f32,
  v_off: u32,       // first element of value used
  v_rows: u32,      // value rows before wrapping around
  seq_rows: u32,    // rows per sequence (T, or H * T for patterns)
  b0: u32,          // first sequence of this launch within the batch
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pos_mask: array<u32>;
@group(0) @binding(2) var<storage, read> seq_mask: array<u32>;
@group(0) @binding(3) var<storage, read> value: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * p.nx + wg.x) * 256u + lid;
  if (i >= p.rows * p.cols) { return; }
  let row = i / p.cols;
  let col = i % p.cols;
  if (pos_mask[row % p.t] == 0u) { return; }
  if (seq_mask[p.b0 + row / p.seq_rows] == 0u) { return; }
  var head = 0u;
  if (p.head_dim == 0u) { head = (row / p.t) % p.heads; } else { head = col / p.head_dim; }
  if (((p.head_mask >> head) & 1u) == 0u) { return; }
  let k = row * p.stride + p.c0 + col;
  let v = p.v_off + (row % p.v_rows) * p.v_stride + col;
  switch p.mode {
    case 0u: { x[k] = x[k] * p.alpha; }
    case 1u: { x[k] = x[k] + p.alpha * value[v]; }
    case 2u: { x[k] = value[v]; }
    default: { x[k] = 0.0; }
  }
}
