// Layer norm, subgroup-reduction variant of layernorm.wgsl: same bindings, parameters, launch and
// arithmetic (two passes: mean, then centred sum of squares; biased variance), but each
// reduction is one subgroupAdd per subgroup plus one combine of the per-subgroup partials through
// a small workgroup array: one barrier per reduction instead of nine.
// Needs the "subgroups" device feature (no `enable subgroups;`: naga rejects the directive).
// Correct for any subgroup size from 4 to 256: partials are indexed by subgroup_id (no
// assumption about how invocations are grouped) and there are num_subgroups <= 256 / 4 of them.
// Every subgroup operation and barrier is reached by all 256 invocations: the only early return
// is uniform per workgroup (it depends on workgroup_id and uniforms only).

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

const MAX_SUBGROUPS: u32 = 64u;  // 256 / the smallest subgroup size WebGPU allows (4)

// One slot per reduction of a row: no barrier is needed to reuse a slot.
var<workgroup> part: array<array<f32, MAX_SUBGROUPS>, 2>;

struct Sg {
  id: u32,  // subgroup_id
  count: u32,  // num_subgroups
  lane: u32,  // subgroup_invocation_id
  size: u32,  // subgroup_size
}

// Sum of v over the workgroup, returned to every invocation. Uniform control flow only.
fn workgroup_sum(slot: u32, v: f32, sg: Sg) -> f32 {
  let s = subgroupAdd(v);
  if (sg.lane == 0u) { part[slot][sg.id] = s; }
  workgroupBarrier();
  // Every subgroup combines all partials itself (no second barrier to broadcast a total).
  var t = 0.0;
  for (var k0 = 0u; k0 < sg.count; k0 = k0 + sg.size) {
    let k = k0 + sg.lane;
    if (k < sg.count) { t = t + part[slot][k]; }
  }
  return subgroupAdd(t);
}

@compute @workgroup_size(256)
fn main(
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
  let base = r * p.d;
  var s = 0.0;
  for (var i = lid; i < p.d; i = i + 256u) { s = s + x[base + i]; }
  let mean = workgroup_sum(0u, s, sg) / f32(p.d);
  var q = 0.0;
  for (var i = lid; i < p.d; i = i + 256u) {
    let c = x[base + i] - mean;
    q = q + c * c;
  }
  let rstd = inverseSqrt(workgroup_sum(1u, q, sg) / f32(p.d) + p.eps);
  for (var i = lid; i < p.d; i = i + 256u) {
    out[base + i] = (x[base + i] - mean) * rstd * g[i] + b[i];
  }
}
