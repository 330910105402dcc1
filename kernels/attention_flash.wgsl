// Causal multi-head self-attention without the pattern (flash style): z only, from the fused
// projection qkv [B, T, 3D] (q | k | v, head h at columns h*dh .. h*dh+dh of each third):
//   z[b, i, h*dh + d] = sum_j<=i softmax_j(q_i . k_j * scale) * v[b, j, h, d]
// The T x T pattern is never materialised: each workgroup takes a block of BQ = 64 queries of one
// (b, h), one query per invocation, and walks the keys 0 .. (last query of the block) in tiles of
// BK keys. Each tile's K and V rows are loaded cooperatively (consecutive invocations read
// consecutive vec4 of a row: coalesced) into workgroup memory; after a barrier every invocation
// scores its query against the tile (all invocations read the same K/V element at once: a
// broadcast, no bank conflicts) and keeps an online softmax: running max m, running sum l, and
// the accumulator acc = sum_j exp(s_j - m) v_j, rescaled by exp(m_old - m_new) whenever the max
// grows (rarely after the first keys, so the rescale is a branch, not a multiply per key).
// Stable for any finite scores: every exponent is <= 0 and l >= 1 at the end.
// Causal: tiles above the block's last query are never loaded; inside the diagonal tiles each
// invocation stops at its own query. Blocks are launched heaviest (last queries) first.
// q is pre-multiplied by scale (exact for a power-of-two scale, as GPT-2's 1/8 at dh 64).
//
// Pipeline constants: DH4 = head size / 4 (dh a multiple of 4, at most 128: 16, 32, 64, 80, 128
// are the sizes in use), BK = keys per tile with BK * DH4 <= 512 (K and V tiles are 8 KiB each:
// 16 KiB of workgroup memory in all, within every adapter's limit). Launch (ceil(T / 64), H, B).
//
// Registers: the query and the accumulator are DH4 named vec4 each (qv0, qv1, ... and av0,
// av1, ...): the /* FLASH_* */ markers are replaced by code unrolled over the head
// (src/tensor/kernels.ts: attendFlashKernel), because private arrays indexed in loops can land
// in slow memory even when the loops unroll (PERFORMANCE.md). dh 64: 16 + 16 vec4 = 128
// registers per invocation; dh 128 needs 256 and may spill (no GPT-2 size has it).

struct Params {
  t: u32,       // sequence length
  h: u32,       // heads
  dh: u32,      // head size
  d: u32,       // model width = h * dh
  scale: f32,   // 1 / sqrt(dh) (divided further by layer+1 when the config asks)
  flags: u32,   // unused (no pattern)
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> z: array<vec4<f32>>;

override DH4: u32 = 16u;
override BK: u32 = 32u;
const BQ: u32 = 64u;
const TILE: u32 = 512u;

var<workgroup> kt: array<vec4<f32>, TILE>;
var<workgroup> vt: array<vec4<f32>, TILE>;

@compute @workgroup_size(BQ)
fn attend_flash(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let q0 = (nwg.x - 1u - wg.x) * BQ; // heaviest blocks first
  let h = wg.y;
  let b = wg.z;
  let i = q0 + lid;                   // this invocation's query
  let last = min(q0 + BQ, p.t) - 1u;  // the block's last query: keys 0 ..= last
  let d4 = p.d / 4u;
  let stride4 = 3u * d4;              // vec4 per qkv row
  let row0 = b * p.t;

  let qbase = (row0 + min(i, last)) * stride4 + h * DH4;
  /* FLASH_INIT */
  var m = -3.4028235e38;
  var l = 0.0;

  for (var k0 = 0u; k0 <= last; k0 = k0 + BK) {
    // cooperative, coalesced load of keys k0 .. k0+BK-1 (zeros past the block's last query)
    for (var e = lid; e < BK * DH4; e = e + BQ) {
      let j = k0 + e / DH4;
      var kv = vec4<f32>(0.0);
      var vv = vec4<f32>(0.0);
      if (j <= last) {
        let base = (row0 + j) * stride4 + h * DH4 + e % DH4;
        kv = qkv[base + d4];
        vv = qkv[base + 2u * d4];
      }
      kt[e] = kv;
      vt[e] = vv;
    }
    workgroupBarrier();
    if (i <= last && i >= k0) {
      let n = min(BK, i - k0 + 1u); // causal: keys k0 ..= i of this tile
      for (var r = 0u; r < n; r = r + 1u) {
        let kr = r * DH4;
        var s = 0.0;
        /* FLASH_SCORE */
        if (s > m) {
          let corr = exp(m - s); // 0 on the first key (m = -FLT_MAX)
          l = l * corr;
          /* FLASH_RESCALE */
          m = s;
        }
        let e = exp(s - m);
        l = l + e;
        /* FLASH_ACCUMULATE */
      }
    }
    workgroupBarrier();
  }

  if (i <= last) {
    let inv = 1.0 / l;
    let zbase = (row0 + i) * d4 + h * DH4;
    /* FLASH_STORE */
  }
}
