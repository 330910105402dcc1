// Row-wise softmax statistics over a vocabulary, numerically stable (max-subtracted), with a
// temperature: x'_j = x_j / temperature.
//   log_softmax: out[r, j] = x'_j - logsumexp(x'), or its exp (probabilities) when flags & 1.
//   token_stats: stats[r] = (log p(target), rank of target (1 = most likely), entropy in nats,
//                max x', logsumexp x') for target = targets[r] (rows with target >= V get rank 0,
//                which the caller reads as "no target").
// One workgroup of 256 per row: launch (min(rows, nx), ceil(rows / nx)).

struct Params {
  rows: u32,
  v: u32,
  nx: u32,
  flags: u32,
  inv_temp: f32,
  out_row: u32,  // token_stats: first output row
  target_row: u32,  // token_stats: first target used
  _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> red: array<f32, 256>;

fn reduce(lid: u32, v: f32, is_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      if (is_max) { red[lid] = max(red[lid], red[lid + s]); } else { red[lid] = red[lid] + red[lid + s]; }
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

// Returns (max x', logsumexp x', sum exp(x' - max) * x').
fn row_stats(lid: u32, base: u32) -> vec3<f32> {
  var m = -3.4028235e38;
  for (var j = lid; j < p.v; j = j + 256u) { m = max(m, x[base + j] * p.inv_temp); }
  m = reduce(lid, m, true);
  var s = 0.0;
  var sx = 0.0;
  for (var j = lid; j < p.v; j = j + 256u) {
    let xj = x[base + j] * p.inv_temp;
    let e = exp(xj - m);
    s = s + e;
    sx = sx + e * (xj - m);
  }
  s = reduce(lid, s, false);
  sx = reduce(lid, sx, false);
  return vec3<f32>(m, m + log(s), sx / s);
}

@compute @workgroup_size(256)
fn log_softmax(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wg.y * p.nx + wg.x;
  if (r >= p.rows) { return; }
  _ = targets[0];  // keep the shared bind group layout (auto layouts drop unused bindings)
  let base = r * p.v;
  let st = row_stats(lid, base);
  for (var j = lid; j < p.v; j = j + 256u) {
    let l = x[base + j] * p.inv_temp - st.y;
    if ((p.flags & 1u) != 0u) { out[base + j] = exp(l); } else { out[base + j] = l; }
  }
}

@compute @workgroup_size(256)
fn token_stats(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wg.y * p.nx + wg.x;
  if (r >= p.rows) { return; }
  let base = r * p.v;
  let st = row_stats(lid, base);
  let tgt = targets[r + p.target_row];
  var xt = 0.0;
  if (tgt < p.v) { xt = x[base + tgt] * p.inv_temp; }
  var above = 0.0;
  if (tgt < p.v) {
    for (var j = lid; j < p.v; j = j + 256u) {
      if (x[base + j] * p.inv_temp > xt) { above = above + 1.0; }
    }
  }
  above = reduce(lid, above, false);
  if (lid == 0u) {
    let o = (r + p.out_row) * 5u;
    // entropy = logsumexp - E[x'] = (lse - m) - E[x' - m]
    let ent = (st.y - st.x) - st.z;
    if (tgt < p.v) {
      out[o] = xt - st.y;
      out[o + 1u] = above + 1.0;
    } else {
      out[o] = 0.0;  // rank 0 marks "no target"
      out[o + 1u] = 0.0;
    }
    out[o + 2u] = ent;
    out[o + 3u] = st.x;
    out[o + 4u] = st.y;
  }
}
