// Prebinned MI and covariance of vector pairs: the same results as pairwise_micov.wgsl (the same
// joint histogram; MI and covariance summed in another order, equal to f32 rounding), from the
// per-vector keep-masks, bin masks and kept extremes of pairwise_mi_prep.wgsl instead of binning
// every element of every pair again, and without atomics:
//   H[a][b] = sum_q popcount(xbin[a][q] & ybin[b][q]),
//   row a = sum_b H[a][b], column a = sum_q popcount(ybin[a][q] & xkeep[q]),
//   n = sum_q popcount(xkeep[q] & ykeep[q]).
//
// A pair (x, y) keeps the elements both masks keep. When the recorded minimum and maximum of x
// and of y are among them, the pair's kept ranges are the vectors' own ranges, so their own bins
// are the pair's bins. Otherwise (or with fewer than 2 kept elements) the pair index w is
// appended to `list` (list[0] counts, list[4 + q] holds) and pairwise_micov.wgsl computes it.
// Covariance from the kept values shifted by the vectors' kept means (close to the pair's, so the
// one-pass sums do not cancel even when huge activations were dropped):
// (Sxy - Sx Sy / n) / (n - 1).
//
// prepa / prepb: pairwise_mi_prep.wgsl's buffers for stack A ([layers, n] vectors) and B
// ([layers, m]), mw (words per mask) a multiple of 4 so masks are read as vec4. xa / xb, addressing, outputs ([layers, n, m] from o_base) and modes as
// pairwise_micov.wgsl: 0 every (i, j); 1 i < j filled, the rest 0; 2 i <= j computed, mirrored.
// A workgroup computes PAIRS pairs (l, i, jb * PAIRS + jj), jj < PAIRS, with BINS threads each
// (thread a: x-bin row a of the histogram, column a, and words a, a + BINS, ... of the
// covariance); workgroup g = (l * n + i) * jbs + jb, launch (min(G, nx), ceil(G / nx)). PAIRS
// and BINS are substituted before compilation, and the marker below by the histogram row's
// unrolled code (src/pairwise/mi_kernels.ts: histRowCode).

struct Params {
  n: u32,
  m: u32,
  layers: u32,
  d: u32,
  a_ls: u32,
  a_vs: u32,
  a_base: u32,
  b_ls: u32,
  b_vs: u32,
  b_base: u32,
  bins: u32,
  mode: u32,
  nx: u32,
  o_base: u32,
  jbs: u32,
  mw: u32,
  zero: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xa: array<f32>;
@group(0) @binding(2) var<storage, read> xb: array<f32>;
@group(0) @binding(3) var<storage, read> prepa: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> prepb: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> tab: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read_write> mi_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> cov_out: array<f32>;
@group(0) @binding(8) var<storage, read_write> list: array<atomic<u32>>;

const J: u32 = PAIRSu;
const NB: u32 = BINSu;
const WG: u32 = J * NB;
// Per thread: (entropy sum hi, lo, Sx, Sy) and (Sxy, kept count bits), summed over each pair's
// NB threads.
var<workgroup> red: array<vec4<f32>, WG>;
var<workgroup> red2: array<vec2<f32>, WG>;

// Word k of prepa / prepb.
fn word_a(k: u32) -> u32 {
  return prepa[k / 4u][k % 4u];
}

fn word_b(k: u32) -> u32 {
  return prepb[k / 4u][k % 4u];
}

// Bit k of the keep-mask starting at word mbase of prepa / prepb.
fn bit_a(mbase: u32, k: u32) -> u32 {
  return (word_a(mbase + k / 32u) >> (k % 32u)) & 1u;
}

fn bit_b(mbase: u32, k: u32) -> u32 {
  return (word_b(mbase + k / 32u) >> (k % 32u)) & 1u;
}

fn sum4(v: vec4<u32>) -> u32 {
  return v.x + v.y + v.z + v.w;
}

@compute @workgroup_size(PAIRS * BINS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wg.y * p.nx + wg.x;
  if (g >= p.layers * p.n * p.jbs) { return; }  // uniform per workgroup
  let row = g / p.jbs;
  let l = row / p.n;
  let i = row % p.n;
  let jj = lid / NB;
  let a = lid % NB;
  let j = (g % p.jbs) * J + jj;
  let per = p.n * p.m;
  let w = l * per + i * p.m + j;
  let mw = p.mw;

  var live = j < p.m;
  if (live && p.mode == 1u && i >= j) {
    if (a == 0u) {
      mi_out[p.o_base + w] = 0.0;
      cov_out[p.o_base + w] = 0.0;
    }
    live = false;
  }
  if (live && p.mode == 2u && i > j) { live = false; }  // written by the mirror (j, i)

  let va = row;
  let vb = l * p.m + j;
  let na = p.layers * p.n;
  let nb = p.layers * p.m;
  let ka = 4u * na + va * mw;  // keep-mask words
  let kb = 4u * nb + vb * mw;
  var e = vec2<f32>(0.0);
  var n = 0u;  // kept elements among this thread's words
  var sx = 0.0;
  var sy = 0.0;
  var sxy = 0.0;
  if (live) {
    // n * MI = tab[n] + sum tab[joint] - sum tab[row sums] - sum tab[column sums], double-f32.
    let xbin = (4u + mw) * na + (va * NB + a) * mw;  // x-bin a
    let ybins = (4u + mw) * nb + vb * NB * mw;  // y-bin 0
    // Words as vec4 (mw is a multiple of 4, every base too): x4, y4, k4 in vec4 units.
    let w4 = mw / 4u;
    let x4 = xbin / 4u;
    let y4 = ybins / 4u;
    // Row a of the joint histogram in NB named vec4 counters h0, h1, ... (generated: private
    // arrays indexed in loops can end up in slow memory), then its entropy terms.
    /* HIST_ROW_CODE */
    var cs = vec4<u32>(0u);
    for (var q = 0u; q < w4; q = q + 1u) {
      cs = cs + countOneBits(prepb[y4 + a * w4 + q] & prepa[ka / 4u + q]);
    }
    let csum = sum4(cs);
    e = dd_add(e, -tab[rsum]);
    e = dd_add(e, -tab[csum]);

    let mean_a = bitcast<f32>(prepa[va].w);
    let mean_b = bitcast<f32>(prepb[vb].w);
    let xo = p.a_base + l * p.a_ls + i * p.a_vs;
    let yo = p.b_base + l * p.b_ls + j * p.b_vs;
    for (var q = a; q < mw; q = q + NB) {
      var word = word_a(ka + q) & word_b(kb + q);
      n = n + countOneBits(word);
      while (word != 0u) {
        let k = 32u * q + firstTrailingBit(word);
        word = word & (word - 1u);
        let x = xa[xo + k] - mean_a;
        let y = xb[yo + k] - mean_b;
        sx = sx + x;
        sy = sy + y;
        sxy = sxy + x * y;
      }
    }
  }
  red[lid] = vec4<f32>(e, sx, sy);
  red2[lid] = vec2<f32>(sxy, bitcast<f32>(n));
  workgroupBarrier();
  if (live && a == 0u) {
    var f = red[lid];
    var fxy = red2[lid].x;
    for (var t = 1u; t < NB; t = t + 1u) {
      let u = red[lid + t];
      f = vec4<f32>(dd_add(f.xy, u.xy), f.z + u.z, f.w + u.w);
      fxy = fxy + red2[lid + t].x;
      n = n + bitcast<u32>(red2[lid + t].y);
    }
    // The pair's kept range is its vectors' own when their kept extremes are kept by both.
    let ia = prepa[va];
    let ib = prepb[vb];
    let ok = bit_b(kb, ia.x) & bit_b(kb, ia.y) & bit_a(ka, ib.x) & bit_a(ka, ib.y) &
      bit_a(ka, ia.x) & bit_a(ka, ia.y) & bit_b(kb, ib.x) & bit_b(kb, ib.y);
    if (ok == 0u || n < 2u) {  // another range, or NaN results: the direct kernel does it
      let slot = atomicAdd(&list[0], 1u);
      atomicStore(&list[4u + slot], w);
      return;
    }
    let cnt = f32(n);
    let nmi = dd_add(tab[n], f.xy);
    let mi = (nmi.x + nmi.y) / cnt;
    let cv = (fxy - f.z * f.w / cnt) / (cnt - 1.0);
    mi_out[p.o_base + w] = mi;
    cov_out[p.o_base + w] = cv;
    if (p.mode == 2u && i != j) {
      let o2 = p.o_base + l * per + j * p.m + i;
      mi_out[o2] = mi;
      cov_out[o2] = cv;
    }
  }
}
