// Indirect launch size for pairwise_micov.wgsl's listed pairs: list[0] pairs as
// (min(count, nx), ceil(count / nx), 1) workgroups, nx = the listed launch's fixed row width.
// One thread.

struct Params {
  nx: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> list: array<u32>;
@group(0) @binding(2) var<storage, read_write> args: array<u32>;

@compute @workgroup_size(1)
fn main() {
  let count = list[0];
  args[0] = min(count, p.nx);
  args[1] = (count + p.nx - 1u) / p.nx;
  args[2] = 1u;
}
