// Shared by the MI kernels (prepended to pairwise_micov.wgsl and pairwise_mi_*.wgsl before
// compilation): numpy histogram2d's bin edges evaluated almost exactly, the bin of a value, the
// edges of a kept range. Needs kernels/exact_f32.wgsl (opaque(), dd_add()) and so `p.zero`.
//
// Bin edges are compared exactly: edge k = lo + k * (hi - lo) / BINS is carried as lo plus
// k * (q1h + q1l + q2), where q1h + q1l + q2 = (hi - lo) / BINS to ~2^-46 relative (q1h has 12
// significant bits so k * q1h is exact); v - edge is evaluated with an exact two-difference, so
// the bin of v matches numpy's float64 searchsorted except when v is within ~2^-36 of an edge.

struct Edges {
  lo: f32,
  q1h: f32,
  q1l: f32,
  q2: f32,
  inv: f32,
}

// Keep the top 12 significant bits (exact products with integers < 128).
fn split_hi(a: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(a) & 0xfffff000u);
}

fn make_edges(lo: f32, hi: f32, bins: u32) -> Edges {
  let b = f32(bins);
  let dh = opaque(hi - lo);  // d = dh + dl exactly (two-difference)
  let bb = opaque(dh - hi);
  let dl = (hi - (dh - bb)) + (-lo - bb);
  let q1 = dh / b;
  let q1h = split_hi(q1);
  let q1l = opaque(q1 - q1h);
  let r = ((dh - q1h * b) - q1l * b) + dl;
  return Edges(lo, q1h, q1l, r / b, b / dh);
}

// v >= edge k, i.e. the sign of (v - lo) - k * step evaluated almost exactly.
fn at_or_above(v: f32, e: Edges, k: u32) -> bool {
  let a = opaque(v - e.lo);
  let bb = opaque(a - v);
  let ae = (v - (a - bb)) + (-e.lo - bb);
  let kf = f32(k);
  let t = a - kf * e.q1h;
  return ((t - kf * e.q1l) + ae) - kf * e.q2 >= 0.0;
}

// numpy: searchsorted(edges, v, "right") - 1, with v == max in the last bin.
fn bin_of(v: f32, e: Edges, bins: u32) -> u32 {
  var k = u32(clamp(floor((v - e.lo) * e.inv), 0.0, f32(bins - 1u)));
  for (var it = 0u; it < 2u; it = it + 1u) {
    if (k > 0u && !at_or_above(v, e, k)) {
      k = k - 1u;
    } else if (k + 1u < bins && at_or_above(v, e, k + 1u)) {
      k = k + 1u;
    }
  }
  return k;
}

fn nan() -> f32 {
  return bitcast<f32>(0x7fc00000u);
}

// Edges of the kept values' range [lo, hi] (cnt values): numpy widens an empty range by 0.5 each
// side (the bin of a constant vector does not change MI: all its mass is in one bin whichever it
// is); no kept value at all gives [0, 1].
fn kept_edges(lo_in: f32, hi_in: f32, cnt: f32, bins: u32) -> Edges {
  var lo = lo_in;
  var hi = hi_in;
  if (cnt < 1.0) {
    lo = 0.0;
    hi = 1.0;
  }
  if (lo == hi) {
    let h = max(0.5, abs(lo) * 1e-6);
    lo = lo - h;
    hi = hi + h;
  }
  return make_edges(lo, hi, bins);
}
