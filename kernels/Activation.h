// SwiGLU, out = silu(gate) * up = gate / (1 + e^-gate) * up, written once
// over an ISA's traits (the exponential by expPoly, ExpPoly.h) and
// instantiated per ISA: the runtime's own forward pass (and so every batch of
// the server) runs it W floats at a time instead of one expf per float.
// Included by the ISA files.
#pragma once

#include "kernels/ExpPoly.h"

#include <cstdint>

namespace mcc::kernels {

template <class I> struct Activation {
  using V = typename I::V;
  static constexpr int W = I::W;

  static V swiglu(V g, V u) {
    V e = I::exp(I::sub(I::zero(), g));
    return I::mul(I::div(g, I::add(I::broadcast(1.0f), e)), u);
  }

  static void run(const float *gate, const float *up, float *out, int64_t n) {
    int64_t i = 0;
    for (; i + W <= n; i += W)
      I::store(out + i, swiglu(I::load(gate + i), I::load(up + i)));
    if (i < n) {
      // The last partial vector through buffers (zeros past the end).
      alignas(64) float g[W] = {}, u[W] = {}, o[W];
      for (int64_t j = i; j < n; ++j)
        g[j - i] = gate[j], u[j - i] = up[j];
      I::store(o, swiglu(I::load(g), I::load(u)));
      for (int64_t j = i; j < n; ++j)
        out[j] = o[j - i];
    }
  }
};

} // namespace mcc::kernels
