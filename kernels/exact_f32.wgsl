// Error-free f32 transformations that survive driver optimisers, prepended to the kernels that
// need them. Shader compilers treat float arithmetic as reassociable unless told otherwise (WGSL
// cannot say so): Mesa folds the error term of a two-sum, (a - (s - (s - a))) + ..., to 0. A
// value passed through opaque() is XORed with the uniform p.zero, always 0 at run time but
// unknown to the compiler, so expressions built on it keep their rounding steps. Every kernel
// that includes this file declares `p` with a u32 field `zero` (set to 0 by the caller).

fn opaque(x: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(x) ^ p.zero);
}

// Double-f32 addition (two-sum), (hi, lo).
fn dd_add(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let s = opaque(a.x + b.x);
  let bb = opaque(s - a.x);
  let e = (a.x - (s - bb)) + (b.x - bb) + a.y + b.y;
  let h = opaque(s + e);
  return vec2<f32>(h, e - (h - s));
}
