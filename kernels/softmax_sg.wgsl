// Row-wise softmax statistics, subgroup-reduction variant of softmax.wgsl: same bindings,
// parameters, launch, entry points and results (see there), but each reduction is one subgroup
// operation per subgroup plus one combine of the per-subgroup partials through a small workgroup
// array: one barrier per reduction instead of nine, and the two sums of a row (sum of exp and
// sum of exp * x') travel together as a vec2.
// Needs the "subgroups" device feature (no `enable subgroups;`: naga rejects the directive).
// Correct for any subgroup size from 4 to 256: partials are indexed by subgroup_id (no
// assumption about how invocations are grouped) and there are num_subgroups <= 256 / 4 of them.
// Every subgroup operation and barrier is reached by all 256 invocations: the only early returns
// are uniform per workgroup (they depend on workgroup_id and uniforms only).

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

const MAX_SUBGROUPS: u32 = 64u;  // 256 / the smallest subgroup size WebGPU allows (4)

// One array per reduction of a row: no barrier is needed to reuse one.
var<workgroup> part_max: array<f32, MAX_SUBGROUPS>;
var<workgroup> part_sum: array<vec2<f32>, MAX_SUBGROUPS>;
var<workgroup> part_count: array<f32, MAX_SUBGROUPS>;

struct Sg {
  id: u32,  // subgroup_id
  count: u32,  // num_subgroups
  lane: u32,  // subgroup_invocation_id
  size: u32,  // subgroup_size
}

// Reductions over the workgroup, returned to every invocation. Uniform control flow only. Every
// subgroup combines all partials itself (no second barrier to broadcast the result).
fn workgroup_max(v: f32, sg: Sg) -> f32 {
  let s = subgroupMax(v);
  if (sg.lane == 0u) { part_max[sg.id] = s; }
  workgroupBarrier();
  var t = -3.4028235e38;
  for (var k0 = 0u; k0 < sg.count; k0 = k0 + sg.size) {
    let k = k0 + sg.lane;
    if (k < sg.count) { t = max(t, part_max[k]); }
  }
  return subgroupMax(t);
}

fn workgroup_sum2(v: vec2<f32>, sg: Sg) -> vec2<f32> {
  let s = subgroupAdd(v);
  if (sg.lane == 0u) { part_sum[sg.id] = s; }
  workgroupBarrier();
  var t = vec2<f32>(0.0);
  for (var k0 = 0u; k0 < sg.count; k0 = k0 + sg.size) {
    let k = k0 + sg.lane;
    if (k < sg.count) { t = t + part_sum[k]; }
  }
  return subgroupAdd(t);
}

fn workgroup_count(v: f32, sg: Sg) -> f32 {
  let s = subgroupAdd(v);
  if (sg.lane == 0u) { part_count[sg.id] = s; }
  workgroupBarrier();
  var t = 0.0;
  for (var k0 = 0u; k0 < sg.count; k0 = k0 + sg.size) {
    let k = k0 + sg.lane;
    if (k < sg.count) { t = t + part_count[k]; }
  }
  return subgroupAdd(t);
}

// Returns (max x', logsumexp x', sum exp(x' - max) * x' / sum exp(x' - max)).
fn row_stats(lid: u32, base: u32, sg: Sg) -> vec3<f32> {
  var m = -3.4028235e38;
  for (var j = lid; j < p.v; j = j + 256u) { m = max(m, x[base + j] * p.inv_temp); }
  m = workgroup_max(m, sg);
  var acc = vec2<f32>(0.0);
  for (var j = lid; j < p.v; j = j + 256u) {
    let c = x[base + j] * p.inv_temp - m;
    let e = exp(c);
    acc = acc + vec2<f32>(e, e * c);
  }
  acc = workgroup_sum2(acc, sg);
  return vec3<f32>(m, m + log(acc.x), acc.y / acc.x);
}

@compute @workgroup_size(256)
fn log_softmax(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_id) sg_id: u32,
  @builtin(num_subgroups) sg_count: u32,
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
) {
  let sg = Sg(sg_id, sg_count, sg_lane, sg_size);
  let r = wg.y * p.nx + wg.x;
  if (r >= p.rows) { return; }  // uniform per workgroup: the whole workgroup exits
  _ = targets[0];  // keep the shared bind group layout (auto layouts drop unused bindings)
  let base = r * p.v;
  let st = row_stats(lid, base, sg);
  for (var j = lid; j < p.v; j = j + 256u) {
    let l = x[base + j] * p.inv_temp - st.y;
    if ((p.flags & 1u) != 0u) { out[base + j] = exp(l); } else { out[base + j] = l; }
  }
}

@compute @workgroup_size(256)
fn token_stats(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_id) sg_id: u32,
  @builtin(num_subgroups) sg_count: u32,
  @builtin(subgroup_invocation_id) sg_lane: u32,
  @builtin(subgroup_size) sg_size: u32,
) {
  let sg = Sg(sg_id, sg_count, sg_lane, sg_size);
  let r = wg.y * p.nx + wg.x;
  if (r >= p.rows) { return; }  // uniform per workgroup: the whole workgroup exits
  let base = r * p.v;
  let st = row_stats(lid, base, sg);
  let tgt = targets[r + p.target_row];
  var xt = 0.0;
  if (tgt < p.v) { xt = x[base + tgt] * p.inv_temp; }
  var above = 0.0;
  if (tgt < p.v) {
    for (var j = lid; j < p.v; j = j + 256u) {
      if (x[base + j] * p.inv_temp > xt) { above = above + 1.0; }
    }
  }
  above = workgroup_count(above, sg);  // outside the branch: every invocation takes part
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
