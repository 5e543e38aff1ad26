// e^x for a vector of floats, written once over an ISA's traits: x = n ln2 + r
// with n an integer and |r| <= ln2 / 2, e^r by a degree-7 polynomial (Cephes'
// expf coefficients), then scaled by 2^n: within 1 ulp of e^x (mean 0.27 ulp)
// over [-80, 0], the 1 added last (adding it to r first cost 0.1 ulp on
// average, which the two-pass decode's 5e-7 mean KL could see). x is clamped
// to [-87.3, 88.3] so 2^n stays a normal float (softmax passes x <= 0). The traits provide, beside
// TileEngine.h's: V sub, mul, max, min(V, V); V round(V) (to nearest);
// V scale2(V p, V n) (p * 2^n for integral n in [-126, 127]).
#pragma once

namespace mcc::kernels {

template <class I> inline typename I::V expPoly(typename I::V x) {
  using V = typename I::V;
  x = I::min(I::max(x, I::broadcast(-87.3f)), I::broadcast(88.3f));
  V n = I::round(I::mul(x, I::broadcast(1.44269504088896341f)));
  // r = x - n ln2, ln2 in two parts so n * hi is exact.
  V r = I::fma(n, I::broadcast(-0.693359375f), x);
  r = I::fma(n, I::broadcast(2.12194440e-4f), r);
  V p = I::broadcast(1.9875691500e-4f);
  p = I::fma(p, r, I::broadcast(1.3981999507e-3f));
  p = I::fma(p, r, I::broadcast(8.3334519073e-3f));
  p = I::fma(p, r, I::broadcast(4.1665795894e-2f));
  p = I::fma(p, r, I::broadcast(1.6666665459e-1f));
  p = I::fma(p, r, I::broadcast(5.0000001201e-1f));
  p = I::add(I::fma(p, I::mul(r, r), r), I::broadcast(1.0f));
  return I::scale2(p, n);
}

} // namespace mcc::kernels
