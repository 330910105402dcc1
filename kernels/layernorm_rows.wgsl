// Layer norm, one subgroup per row: same arithmetic as layernorm.wgsl (two passes: mean, then
// centred sum of squares; biased variance), each reduction one subgroupAdd, no workgroup memory
// and no barriers. For the narrow rows of GPT-2 (D <= 1600) this keeps every lane busy where a
// 256-invocation workgroup per row leaves most of them idle (and, on CPU adapters such as
// lavapipe, pays a workgroup's overhead per row).
// x, out: [rows, D]; g, b: [D]. Workgroup of 64 invocations = 64 / subgroup_size subgroups; the
// workgroup owns rows [block * rpw, block * rpw + rpw), block = wg.y * nx + wg.x, and its
// subgroups take them in turn (k = subgroup_id, k + num_subgroups, ...), so any subgroup size is
// correct; rpw = 64 / the adapter's largest subgroup size gives each subgroup one row.
// Launch (min(blocks, nx), ceil(blocks / nx)), blocks = ceil(rows / rpw).
// Needs the "subgroups" device feature (no `enable subgroups;`: naga rejects the directive).

struct Params {
  rows: u32,
  d: u32,
  nx: u32,
  eps: f32,
  rpw: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(subgroup_id) sg_id: u32,
  @builtin(num_subgroups) sg_count: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  // Lanes of this subgroup, counted rather than read from subgroup_size: llvmpipe at a 1024-bit
  // vector width reports 32 but runs 16-lane subgroups.
  let size = subgroupAdd(1u);
  let first = (wg.y * p.nx + wg.x) * p.rpw;
  // Subgroup k takes rows k, k + num_subgroups, ... of the block. The trip count depends only on
  // uniform values (normally 1: num_subgroups >= rpw) and every subgroupAdd is reached by the
  // whole workgroup (no subgroup-dependent start or break), as WGSL's uniformity rules require.
  let trips = (p.rpw + sg_count - 1u) / sg_count;
  for (var t = 0u; t < trips; t = t + 1u) {
    let k = sg_id + t * sg_count;
    let r = first + k;
    let live = k < p.rpw && r < p.rows;
    let base = r * p.d;
    let d = select(0u, p.d, live);  // no element of a row that is not there
    var s = 0.0;
    for (var i = lane; i < d; i = i + size) { s = s + x[base + i]; }
    let mean = subgroupAdd(s) / f32(p.d);
    var q = 0.0;
    for (var i = lane; i < d; i = i + size) {
      let c = x[base + i] - mean;
      q = q + c * c;
    }
    let rstd = inverseSqrt(subgroupAdd(q) / f32(p.d) + p.eps);
    for (var i = lane; i < d; i = i + size) {
      out[base + i] = (x[base + i] - mean) * rstd * g[i] + b[i];
    }
  }
}
