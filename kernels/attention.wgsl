// Causal multi-head self-attention from the fused projection qkv [B, T, 3D] (HF c_attn output:
// q | k | v, head h at columns h*dh .. h*dh+dh of each third).
//   attend:        pattern[b, h, i, :] = softmax_j<=i(q_i . k_j * scale)   (written when flags & 1)
//                  z[b, i, h*dh + d]  = sum_j pattern[b, h, i, j] * v[b, j, h, d]
//   z_from_pattern: z from a given pattern (after a hook changed it).
// Softmax subtracts the row max (stable for any logits); masked entries are exactly 0.
// One workgroup of 64 per (i, h, b): launch (T, H, B). T <= 1024 (workgroup row buffer).

struct Params {
  t: u32,       // sequence length
  h: u32,       // heads
  dh: u32,      // head size
  d: u32,       // model width = h * dh
  scale: f32,   // 1 / sqrt(dh) (divided further by layer+1 when the config asks)
  flags: u32,   // bit 0: write pattern
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> pattern: array<f32>;
@group(0) @binding(3) var<storage, read_write> z: array<f32>;

const WG: u32 = 64u;
var<workgroup> row: array<f32, 1024>;
var<workgroup> red: array<f32, 64>;

fn reduce(lid: u32, v: f32, is_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      if (is_max) { red[lid] = max(red[lid], red[lid + s]); } else { red[lid] = red[lid] + red[lid + s]; }
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn weighted_values(lid: u32, b: u32, i: u32, h: u32) {
  let stride = 3u * p.d;
  for (var d = lid; d < p.dh; d = d + WG) {
    var acc = 0.0;
    let col = 2u * p.d + h * p.dh + d;
    for (var j = 0u; j <= i; j = j + 1u) {
      acc = acc + row[j] * qkv[(b * p.t + j) * stride + col];
    }
    z[(b * p.t + i) * p.d + h * p.dh + d] = acc;
  }
}

@compute @workgroup_size(64)
fn attend(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wg.x;
  let h = wg.y;
  let b = wg.z;
  let stride = 3u * p.d;
  let qbase = (b * p.t + i) * stride + h * p.dh;
  var m = -3.4028235e38;
  for (var j = lid; j <= i; j = j + WG) {
    let kbase = (b * p.t + j) * stride + p.d + h * p.dh;
    var dot = 0.0;
    for (var d = 0u; d < p.dh; d = d + 1u) { dot = dot + qkv[qbase + d] * qkv[kbase + d]; }
    let s = dot * p.scale;
    row[j] = s;
    m = max(m, s);
  }
  m = reduce(lid, m, true);
  var sum = 0.0;
  for (var j = lid; j <= i; j = j + WG) {
    let e = exp(row[j] - m);
    row[j] = e;
    sum = sum + e;
  }
  sum = reduce(lid, sum, false);
  let inv = 1.0 / sum;
  let pbase = ((b * p.h + h) * p.t + i) * p.t;
  for (var j = lid; j < p.t; j = j + WG) {
    var v = 0.0;
    if (j <= i) { v = row[j] * inv; row[j] = v; }
    if ((p.flags & 1u) != 0u) { pattern[pbase + j] = v; }
  }
  workgroupBarrier();
  weighted_values(lid, b, i, h);
}

@compute @workgroup_size(64)
fn z_from_pattern(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wg.x;
  let h = wg.y;
  let b = wg.z;
  let pbase = ((b * p.h + h) * p.t + i) * p.t;
  for (var j = lid; j <= i; j = j + WG) { row[j] = pattern[pbase + j]; }
  workgroupBarrier();
  weighted_values(lid, b, i, h);
}
