// Layer norm over the last dimension: out[r, :] = (x[r, :] - mean) / sqrt(var + eps) * g + b.
// x, out: [rows, D]; g, b: [D]. Biased variance (as torch.nn.LayerNorm). Two passes over the row
// (mean, then centred sum of squares) for accuracy. One workgroup of 256 per row;
// launch (min(rows, nx), ceil(rows / nx)).

struct Params {
  rows: u32,
  d: u32,
  nx: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> red: array<f32, 256>;

fn reduce_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wg.y * p.nx + wg.x;
  if (r >= p.rows) { return; }  // uniform per workgroup
  let base = r * p.d;
  var s = 0.0;
  for (var i = lid; i < p.d; i = i + 256u) { s = s + x[base + i]; }
  let mean = reduce_sum(lid, s) / f32(p.d);
  var q = 0.0;
  for (var i = lid; i < p.d; i = i + 256u) {
    let c = x[base + i] - mean;
    q = q + c * c;
  }
  let rstd = inverseSqrt(reduce_sum(lid, q) / f32(p.d) + p.eps);
  for (var i = lid; i < p.d; i = i + 256u) {
    out[base + i] = (x[base + i] - mean) * rstd * g[i] + b[i];
  }
}
