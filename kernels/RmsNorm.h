// RMS normalization, out = x * (1 / sqrt(mean of x² + eps)) * w over runs of
// n floats, written once over an ISA's traits and instantiated per ISA (the
// generic table's traits are plain C++).
//
// The sum of squares is f64 in eight running sums, element e into sum e % 8,
// put together ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)), then the
// elements past the last whole eight one after another. A float times a
// float is exact in f64, so every sum rounds only where it adds, in the same
// order on every ISA: each table's output is the generic one's bit for bit
// (kernel-check holds them to it), and so is the runtime's output whichever
// table runs. Runs go through the loop four at a time: one run's sums are a
// chain of dependent additions, and a batch normalizes several rows at once
// (in a 4-row server step each thread normalized its 4 rows of 576 in 1.3 us
// with a run at a time in scalar code, twice per layer).
//
// The traits I provide, beside Activation.h's V, W, load, mul, store and
// broadcast:
//   D8: eight f64 sums; D8 zero8(); D8 addSquares(D8, const float *x):
//   sum j plus x[j]² for j < 8; void spill(D8, double *out8)
// Included by the ISA files.
#pragma once

#include <cmath>
#include <cstdint>

namespace mcc::kernels {

inline float rmsScale(double sumSquares, int64_t n, float eps) {
  return float(1.0 / std::sqrt(sumSquares / double(n) + eps));
}

template <class I> struct RmsNorm {
  using V = typename I::V;
  static constexpr int W = I::W;

  template <int G> static void sums(const float *x, int64_t n, double *ss) {
    typename I::D8 acc[G];
    for (int g = 0; g < G; ++g)
      acc[g] = I::zero8();
    int64_t e = 0;
    for (; e + 8 <= n; e += 8)
      for (int g = 0; g < G; ++g)
        acc[g] = I::addSquares(acc[g], x + g * n + e);
    for (int g = 0; g < G; ++g) {
      double p[8];
      I::spill(acc[g], p);
      double s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
      for (int64_t i = e; i < n; ++i)
        s += double(x[g * n + i]) * x[g * n + i];
      ss[g] = s;
    }
  }

  static void scaleRun(const float *x, const float *w, float *out, int64_t n, float scale) {
    const V s = I::broadcast(scale);
    int64_t i = 0;
    for (; i + W <= n; i += W)
      I::store(out + i, I::mul(I::mul(I::load(x + i), s), I::load(w + i)));
    for (; i < n; ++i)
      out[i] = x[i] * scale * w[i];
  }

  // `runs` runs of n floats from x (out may be x), all scaled by the same w.
  static void run(const float *x, const float *w, float *out, int64_t runs, int64_t n, float eps) {
    for (int64_t r = 0; r < runs;) {
      double ss[4];
      const int k = runs - r >= 4 ? 4 : 1;
      if (k == 4)
        sums<4>(x + r * n, n, ss);
      else
        sums<1>(x + r * n, n, ss);
      for (int j = 0; j < k; ++j)
        scaleRun(x + (r + j) * n, w, out + (r + j) * n, n, rmsScale(ss[j], n, eps));
      r += k;
    }
  }
};

} // namespace mcc::kernels
