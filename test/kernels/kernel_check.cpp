// Every SIMD kernel table this CPU runs against the scalar reference, on odd
// shapes: rows not a multiple of any tile, token counts 1..7, block counts
// from 1 up, random blocks with an outlier activation. Also the fallback path
// (dequantize a row, then dot) and the exactness of the block kernels against
// an fp64 product of the dequantized weights.
//
// A plain program, not a GoogleTest binary, so the same source runs on the
// host and, cross-compiled, under qemu-aarch64 (test/kernels/*.test).
// Prints one line per table and format; exits 1 on any mismatch.
#include "format/Dequant.h"
#include "format/Half.h"
#include "format/Panel.h"
#include "kernels/Kernels.h"
#include "kernels/QuantizedActs.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

using namespace mcc;
using namespace mcc::kernels;

namespace {

int failures = 0;

uint16_t halfOf(float f) {
  // Positive normal values only: exact enough for test scales.
  int e;
  float m = std::frexp(f, &e);
  return uint16_t((e + 14) << 10 | (int(m * 2048) - 1024));
}

const WeightFormat kBlockFormats[] = {WeightFormat::Q4_0, WeightFormat::Q4_1, WeightFormat::Q8_0,
                                      WeightFormat::PK4,  WeightFormat::PK8,  WeightFormat::F16,
                                      WeightFormat::BF16, WeightFormat::F32,  WeightFormat::PK4_128};

int blockWeights(WeightFormat f) { return f == WeightFormat::PK4_128 ? 128 : 32; }

int blockBytes(WeightFormat f) {
  switch (f) {
  case WeightFormat::Q4_0: return 18;
  case WeightFormat::Q4_1: return 20;
  case WeightFormat::Q8_0: return 34;
  case WeightFormat::PK4: return kPK4Bytes;
  case WeightFormat::PK8: return kPK8Bytes;
  case WeightFormat::PK4_128: return kPK4_128Bytes;
  case WeightFormat::F16:
  case WeightFormat::BF16: return 64;
  default: return 128;
  }
}

// Random blocks: random quantized values, scales in a realistic range, and
// for the float formats random finite values.
std::vector<uint8_t> randomMatrix(WeightFormat f, int64_t rows, int64_t nb, std::mt19937 &rng) {
  int bytes = blockBytes(f);
  std::vector<uint8_t> w(static_cast<size_t>(rows * nb * bytes));
  for (auto &b : w)
    b = uint8_t(rng());
  std::uniform_real_distribution<float> sd(0.001f, 0.1f), val(-1.0f, 1.0f);
  for (int64_t i = 0; i < rows * nb; ++i) {
    uint8_t *blk = &w[size_t(i * bytes)];
    uint16_t d = halfOf(sd(rng)), m = uint16_t(halfOf(sd(rng)) | 0x8000);
    float df = sd(rng), mf = -sd(rng);
    switch (f) {
    case WeightFormat::Q4_1: std::memcpy(blk + 2, &m, 2); [[fallthrough]];
    case WeightFormat::Q4_0:
    case WeightFormat::Q8_0: std::memcpy(blk, &d, 2); break;
    case WeightFormat::PK4:
    case WeightFormat::PK8:
    case WeightFormat::PK4_128:
      std::memcpy(blk, &df, 4);
      std::memcpy(blk + 4, &mf, 4);
      break;
    case WeightFormat::F16:
    case WeightFormat::BF16:
      for (int j = 0; j < 32; ++j) {
        float v = val(rng);
        uint16_t h = f == WeightFormat::F16 ? uint16_t(halfOf(std::fabs(v) + 1e-3f) | (v < 0 ? 0x8000 : 0))
                                            : uint16_t(floatToBits(v) >> 16);
        std::memcpy(blk + 2 * j, &h, 2);
      }
      break;
    default:
      for (int j = 0; j < 32; ++j) {
        float v = val(rng);
        std::memcpy(blk + 4 * j, &v, 4);
      }
    }
  }
  return w;
}

std::vector<float> randomVector(int64_t n, std::mt19937 &rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto &v : x)
    v = nd(rng);
  x[0] = 7.5f; // one outlier, as real activations have
  return x;
}

Weight weightOf(WeightFormat f, const std::vector<uint8_t> &bytes, int64_t rows, int64_t cols) {
  Weight w;
  w.name = "test";
  w.shape = {rows, cols};
  w.quant.format = f;
  w.data.data = bytes.data();
  w.data.bytes = bytes.size();
  return w;
}

// Nothing outside rows [r0, rows) of each token's output row was written
// (the outputs start as -1).
void checkUntouched(const std::vector<float> &got, int64_t T, int64_t ldy, int64_t r0, int64_t rows, const char *isa,
                    const char *what) {
  for (int64_t tk = 0; tk < T; ++tk)
    for (int64_t r = 0; r < ldy; ++r)
      if ((r < r0 || r >= rows) && got[size_t(tk * ldy + r)] != -1.0f && failures++ < 10)
        std::printf("FAIL %s %s: wrote outside its rows (row %lld token %lld)\n", isa, what, (long long)r,
                    (long long)tk);
}

// SIMD block kernels against the generic ones on odd shapes.
void checkBlockKernels(const KernelTable &t) {
  std::mt19937 rng(11);
  for (WeightFormat f : kBlockFormats) {
    int cases = 0;
    double worst = 0;
    for (int64_t nb : {1, 2, 3, 7, 18})
      for (int64_t rows : {1, 3, 5, 9, 13})
        for (int64_t T : {1, 2, 3, 5, 7}) {
          int64_t K = nb * blockWeights(f);
          auto w = randomMatrix(f, rows, nb, rng);
          auto x = randomVector(T * K, rng);
          Weight wt = weightOf(f, w, rows, K);
          // Into a wider output (ldy > rows) with a sub-range of rows, so
          // indexing mistakes show.
          int64_t ldy = rows + 3, r0 = rows > 2 ? 1 : 0;
          std::vector<float> ref(size_t(T * ldy), -1.0f), got(size_t(T * ldy), -1.0f);
          blockKernel(genericTable(), f, K)(w.data(), x.data(), ref.data(), K, T, ldy, r0, rows);
          blockKernel(t, f, K)(w.data(), x.data(), got.data(), K, T, ldy, r0, rows);
          // Differences are judged against the product's scale, sum |w * x|:
          // f32 sums in another order differ by a few ulps of that, not of
          // the (possibly cancelled) result.
          std::vector<float> row(static_cast<size_t>(K));
          for (int64_t r = r0; r < rows; ++r) {
            dequantizeRow(wt, r, row.data());
            for (int64_t tk = 0; tk < T; ++tk) {
              double scale = 0;
              for (int64_t i = 0; i < K; ++i)
                scale += std::fabs(double(row[size_t(i)]) * x[size_t(tk * K + i)]);
              size_t at = size_t(tk * ldy + r);
              double err = std::fabs(double(got[at]) - ref[at]) / scale;
              worst = std::max(worst, err);
              if (!(err <= 1e-5) && failures++ < 10)
                std::printf("FAIL %s %s: nb %lld rows %lld T %lld row %lld token %lld: %g vs %g\n", t.isa,
                            formatName(f), (long long)nb, (long long)rows, (long long)T, (long long)r, (long long)tk,
                            double(got[at]), double(ref[at]));
            }
          }
          checkUntouched(got, T, ldy, r0, rows, t.isa, formatName(f));
          ++cases;
        }
    std::printf("%s %s: %d shapes, worst difference / sum|w*x| %.1e\n", t.isa, formatName(f), cases, worst);
  }
  for (int64_t n : {1, 5, 15, 16, 17, 31, 33, 64, 100, 129}) {
    auto a = randomVector(n, rng), b = randomVector(n, rng);
    double ref = genericTable().dot(a.data(), b.data(), n), got = t.dot(a.data(), b.data(), n);
    if (!(std::fabs(got - ref) <= 1e-4 * (1 + std::fabs(ref))) && failures++ < 10)
      std::printf("FAIL %s dot n %lld: %g vs %g\n", t.isa, (long long)n, got, ref);
  }
  std::printf("%s dot: 10 lengths\n", t.isa);

  // Attention over an f16 cache: head sizes that fill whole vectors and ones
  // that do not, position counts around the key blocks (16) and the softmax
  // vectors, first positions at every kind of column of their block (k0),
  // groups of query heads around the register groups (1, 2, 3, 4, 7, 9).
  // Each head's log-sum-exp and every output against the reference's.
  auto sameAttention = [&](const char *what, int64_t G, int64_t hd, int64_t n, int64_t k0, const std::vector<float> &l1,
                           const std::vector<float> &l2, const std::vector<float> &o1, const std::vector<float> &o2) {
    for (int64_t g = 0; g < G; ++g)
      if (!(std::fabs(l1[size_t(g)] - l2[size_t(g)]) <= 1e-5f * (1 + std::fabs(l1[size_t(g)]))) && failures++ < 10)
        std::printf("FAIL %s %s lse G %lld hd %lld n %lld k0 %lld head %lld: %g vs %g\n", t.isa, what, (long long)G,
                    (long long)hd, (long long)n, (long long)k0, (long long)g, double(l2[size_t(g)]),
                    double(l1[size_t(g)]));
    for (int64_t e = 0; e < G * hd; ++e)
      if (!(std::fabs(o1[size_t(e)] - o2[size_t(e)]) <= 1e-5f * (1 + std::fabs(o1[size_t(e)]))) && failures++ < 10)
        std::printf("FAIL %s %s G %lld hd %lld n %lld k0 %lld at %lld: %g vs %g\n", t.isa, what, (long long)G,
                    (long long)hd, (long long)n, (long long)k0, (long long)e, double(o2[size_t(e)]),
                    double(o1[size_t(e)]));
  };
  int attCases = 0;
  for (int64_t G : {1, 2, 3, 4, 7, 9})
    for (int64_t hd : {8, 24, 64, 80, 128})
      for (int64_t n : {1, 3, 4, 5, 15, 16, 17, 64, 100})
        for (int64_t k0 : {0, 1, 15}) {
          int64_t stride = hd * 3 + 8, blocks = (k0 + n + kKeyBlock - 1) / kKeyBlock;
          // Whole blocks, the lanes around the span filled with values that
          // must not reach any output (huge, so a leak shows).
          std::vector<uint16_t> k(static_cast<size_t>(blocks * kKeyBlock * hd), floatToFp16(60000.0f)),
              v(static_cast<size_t>(n * stride));
          std::normal_distribution<float> nd(0.0f, 1.0f);
          for (int64_t p = 0; p < n; ++p)
            for (int64_t e = 0; e < hd; ++e)
              k[size_t(keyIndex(k0 + p, e, hd))] = floatToFp16(nd(rng));
          for (auto &h : v)
            h = floatToFp16(nd(rng));
          auto q = randomVector(G * hd, rng);
          std::vector<float> s1(static_cast<size_t>(G * n)), s2(s1.size()), o1(static_cast<size_t>(G * hd)),
              o2(o1.size(), -1.0f), l1(static_cast<size_t>(G)), l2(l1.size(), -1.0f), o3(o1.size(), -1.0f);
          genericTable().attend(q.data(), G, k.data(), k0, v.data(), stride, n, hd, 0.125f, s1.data(), o1.data(),
                                l1.data(), nullptr, 0);
          t.attend(q.data(), G, k.data(), k0, v.data(), stride, n, hd, 0.125f, s2.data(), o2.data(), l2.data(),
                   nullptr, 0);
          // Without lse, and with memory to fetch ahead (the value rows): the same output.
          t.attend(q.data(), G, k.data(), k0, v.data(), stride, n, hd, 0.125f, s2.data(), o3.data(), nullptr, v.data(),
                   int64_t(v.size() * 2));
          sameAttention("attend", G, hd, n, k0, l1, l2, o1, o2);
          if (o2 != o3 && failures++ < 10)
            std::printf("FAIL %s attend G %lld hd %lld n %lld k0 %lld: lse or ahead changed the output\n", t.isa,
                        (long long)G, (long long)hd, (long long)n, (long long)k0);
          ++attCases;
        }
  std::printf("%s attend: %d shapes\n", t.isa, attCases);

  // The same over an int8 cache (KvType::I8): head sizes with a partial
  // last group of kKvGroup (24, 80) and with several (64, 80, 128); the
  // lanes around the span hold the largest keys under huge scales.
  int att8 = 0;
  for (int64_t G : {1, 3, 4, 7})
    for (int64_t hd : {8, 24, 64, 80, 128})
      for (int64_t n : {1, 5, 16, 17, 100})
        for (int64_t k0 : {0, 1, 15}) {
          const int64_t blocks = (k0 + n + kKeyBlock - 1) / kKeyBlock, kb = keyBlockBytes(KvType::I8, hd);
          const int64_t row = valueRowBytes(KvType::I8, hd), stride = row + 8;
          std::vector<int8_t> k(static_cast<size_t>(blocks * kb)), v(static_cast<size_t>(n * stride));
          std::uniform_int_distribution<int> byte(-127, 127);
          std::uniform_real_distribution<float> scale(0.001f, 0.05f);
          for (int64_t b = 0; b < blocks; ++b)
            for (int64_t lane = 0; lane < kKeyBlock; ++lane) {
              const int64_t p = b * kKeyBlock + lane - k0;
              const bool inside = p >= 0 && p < n;
              int8_t *blk = k.data() + b * kb;
              for (int64_t e = 0; e < hd; ++e)
                blk[keyIndex(lane, e, hd)] = int8_t(inside ? byte(rng) : 127);
              for (int64_t g = 0; g < kvGroups(hd); ++g) {
                float d = inside ? scale(rng) : 500.0f;
                std::memcpy(blk + kKeyBlock * hd + 4 * (g * kKeyBlock + lane), &d, 4);
              }
            }
          for (int64_t p = 0; p < n; ++p) {
            for (int64_t e = 0; e < hd; ++e)
              v[size_t(p * stride + e)] = int8_t(byte(rng));
            for (int64_t g = 0; g < kvGroups(hd); ++g) {
              float d = scale(rng);
              std::memcpy(v.data() + p * stride + hd + 4 * g, &d, 4);
            }
          }
          auto q = randomVector(G * hd, rng);
          std::vector<float> s1(static_cast<size_t>(G * n)), s2(s1.size()), o1(static_cast<size_t>(G * hd)),
              o2(o1.size(), -1.0f), l1(static_cast<size_t>(G)), l2(l1.size(), -1.0f);
          genericTable().attend_i8(q.data(), G, k.data(), k0, v.data(), stride, n, hd, 0.125f, s1.data(), o1.data(),
                                   l1.data(), nullptr, 0);
          t.attend_i8(q.data(), G, k.data(), k0, v.data(), stride, n, hd, 0.125f, s2.data(), o2.data(), l2.data(),
                      v.data(), int64_t(v.size()));
          sameAttention("attend_i8", G, hd, n, k0, l1, l2, o1, o2);
          ++att8;
        }
  std::printf("%s attend_i8: %d shapes\n", t.isa, att8);

  // SwiGLU: lengths around the vector width, gates far into both tails
  // (where e^-g is clamped) and around 0.
  for (int64_t n : {1, 3, 7, 8, 15, 16, 17, 33, 100}) {
    std::normal_distribution<float> nd(0.0f, 8.0f);
    std::vector<float> g(static_cast<size_t>(n)), u(g.size()), o1(g.size()), o2(g.size(), -1.0f);
    for (size_t i = 0; i < g.size(); ++i)
      g[i] = nd(rng), u[i] = nd(rng);
    g[0] = -120.0f;
    genericTable().swiglu(g.data(), u.data(), o1.data(), n);
    t.swiglu(g.data(), u.data(), o2.data(), n);
    for (size_t i = 0; i < g.size(); ++i)
      if (!(std::fabs(o1[i] - o2[i]) <= 1e-6f * (1 + std::fabs(o1[i]))) && failures++ < 10)
        std::printf("FAIL %s swiglu n %lld at %zu: %g vs %g\n", t.isa, (long long)n, i, double(o2[i]), double(o1[i]));
  }
  std::printf("%s swiglu: 9 lengths\n", t.isa);

  // RMS normalization: bit for bit the generic table's, over run lengths
  // around the eight sums and the vector width, 1-9 runs (the four-run
  // loop and the single runs after it), out apart from x and in place.
  int normCases = 0;
  for (int64_t n : {1, 5, 7, 8, 9, 16, 17, 63, 64, 100, 576, 577})
    for (int64_t runs : {1, 3, 4, 5, 9}) {
      std::normal_distribution<float> nd(0.0f, 3.0f);
      std::vector<float> x(static_cast<size_t>(runs * n)), w(static_cast<size_t>(n)), o1(x.size()), o2(x.size(), -1.0f);
      for (float &v : x)
        v = nd(rng);
      for (float &v : w)
        v = nd(rng);
      x[0] = 1e-20f; // squares far below the sum: what f64 keeps
      genericTable().rms_norm(x.data(), w.data(), o1.data(), runs, n, 1e-5f);
      t.rms_norm(x.data(), w.data(), o2.data(), runs, n, 1e-5f);
      std::vector<float> in = x;
      t.rms_norm(in.data(), w.data(), in.data(), runs, n, 1e-5f);
      // The generic one against the formula in f64.
      for (int64_t r = 0; r < runs; ++r) {
        double ss = 0;
        for (int64_t e = 0; e < n; ++e)
          ss += double(x[size_t(r * n + e)]) * x[size_t(r * n + e)];
        double scale = 1.0 / std::sqrt(ss / double(n) + 1e-5);
        for (int64_t e = 0; e < n; ++e) {
          double want = double(x[size_t(r * n + e)]) * scale * w[size_t(e)];
          if (!(std::fabs(o1[size_t(r * n + e)] - want) <= 4e-7 * std::fabs(want) + 1e-30) && failures++ < 10)
            std::printf("FAIL generic rms_norm n %lld at %lld: %g vs %g\n", (long long)n, (long long)(r * n + e),
                        double(o1[size_t(r * n + e)]), want);
        }
      }
      for (size_t i = 0; i < x.size(); ++i)
        if ((std::memcmp(&o1[i], &o2[i], 4) != 0 || std::memcmp(&o1[i], &in[i], 4) != 0) && failures++ < 10)
          std::printf("FAIL %s rms_norm n %lld runs %lld at %zu: %a (in place %a) vs %a\n", t.isa, (long long)n,
                      (long long)runs, i, double(o2[i]), double(in[i]), double(o1[i]));
      ++normCases;
    }
  std::printf("%s rms_norm: %d shapes\n", t.isa, normCases);
}

// The integer kernels' two errors for one output: the kernel against the
// reference (relative to sum |w x|, at most 1e-5), and the reference against
// the fp64 product of the dequantized row w and x within what rounding each
// activation allows (half a step, max|x| / 254 of its 16, times |w|; with a
// second pass, / 254 again). Keeps the worst of each; false past a bound.
struct IntErrors {
  bool decode;
  double worst = 0, worstExact = 0;
  bool check(const float *w, const float *x, int64_t K, double got, double ref) {
    double scale = 0, exact = 0, bound = 0;
    for (int64_t i = 0; i < K; ++i) {
      scale += std::fabs(double(w[i]) * x[i]);
      exact += double(w[i]) * x[i];
    }
    for (int64_t h = 0; h < K / 16; ++h) {
      double amax = 0, wsum = 0;
      for (int64_t j = 16 * h; j < 16 * h + 16; ++j) {
        amax = std::max(amax, double(std::fabs(x[j])));
        wsum += std::fabs(double(w[j]));
      }
      bound += wsum * amax / 254.0 / (decode ? 254.0 : 1.0);
    }
    double err = std::fabs(got - ref) / scale;
    double errExact = std::fabs(ref - exact) / (bound * 1.01 + 1e-6 * scale);
    worst = std::max(worst, err);
    worstExact = std::max(worstExact, errExact);
    return err <= 1e-5 && errExact <= 1.0;
  }
};

// The int8-activation kernels (prompt processing): each SIMD one against the
// scalar reference of the same numerics (QuantizedActs.h) on odd shapes
// (rows across panels of 16 and not a multiple of them, token counts around
// the register tiles), and the reference against the exact product: the
// activation rounding must stay within what int8 per block of 32 allows.
const WeightFormat kInt8Formats[] = {WeightFormat::Q4_0, WeightFormat::Q4_1, WeightFormat::PK4, WeightFormat::PK4_128};

// decode: the two-pass kernels for fewer than kIntMinTokens tokens.
void checkInt8Kernels(const KernelTable &t, bool decode) {
  std::mt19937 rng(23);
  const char *kind = decode ? "int8x2" : "int8";
  std::vector<int64_t> tokenCounts = decode ? std::vector<int64_t>{1, 2, 3} : std::vector<int64_t>{4, 5, 8, 9, 13, 17};
  for (WeightFormat f : kInt8Formats) {
    if ((decode ? t.q4_0_i8x2 : t.q4_0_i8) == nullptr)
      return; // this table has no integer kernels of this kind
    int cases = 0;
    IntErrors errors{decode};
    for (int64_t nb : {1, 2, 5, 9})
      for (int64_t rows : {1, 7, 16, 17, 33, 40})
        for (int64_t T : tokenCounts) {
          int64_t K = nb * blockWeights(f);
          auto w = randomMatrix(f, rows, nb, rng);
          auto x = randomVector(T * K, rng);
          Weight wt = weightOf(f, w, rows, K);
          int64_t ldy = rows + 3, r0 = rows > 2 ? 1 : 0;
          std::vector<float> ref(size_t(T * ldy), -1.0f), got(size_t(T * ldy), -1.0f);
          int8Kernel(genericTable(), f, K, decode)(w.data(), x.data(), ref.data(), K, T, ldy, r0, rows);
          int8Kernel(t, f, K, decode)(w.data(), x.data(), got.data(), K, T, ldy, r0, rows);
          std::vector<float> row(static_cast<size_t>(K));
          for (int64_t r = r0; r < rows; ++r) {
            dequantizeRow(wt, r, row.data());
            for (int64_t tk = 0; tk < T; ++tk) {
              size_t at = size_t(tk * ldy + r);
              if (!errors.check(row.data(), x.data() + tk * K, K, got[at], ref[at]) && failures++ < 10)
                std::printf("FAIL %s %s %s: nb %lld rows %lld T %lld row %lld token %lld: %g vs %g\n", t.isa,
                            formatName(f), kind, (long long)nb, (long long)rows, (long long)T, (long long)r,
                            (long long)tk, double(got[at]), double(ref[at]));
            }
          }
          checkUntouched(got, T, ldy, r0, rows, t.isa, (std::string(formatName(f)) + " " + kind).c_str());
          ++cases;
        }
    std::printf("%s %s %s: %d shapes, worst difference / sum|w*x| %.1e; error vs exact %.2f of its bound\n", t.isa,
                formatName(f), kind, cases, errors.worst, errors.worstExact);
  }
}

// The panel kernels (weights in panels of 16 rows, format/Panel.h): each
// table's against the reference's (which gathers each row back and runs the
// row-major reference, so it must equal the row-major integer kernels
// exactly), on row counts across and inside panels, ranges starting inside
// a panel, token counts around the register tiles; the reference against
// the fp64 product within its activation rounding. The interleaving itself
// must dequantize back exactly.
const WeightFormat kPanelFormats[] = {WeightFormat::Q4_0, WeightFormat::Q4_1, WeightFormat::PK4,
                                      WeightFormat::PK4_128, WeightFormat::Q8_0};

void checkPanelKernels(const KernelTable &t, bool decode) {
  std::mt19937 rng(29);
  const char *kind = decode ? "panels x2" : "panels";
  std::vector<int64_t> tokenCounts = decode ? std::vector<int64_t>{1, 2, 3, 5, 15} : std::vector<int64_t>{1, 4, 9, 17};
  for (WeightFormat f : kPanelFormats) {
    BlockMatMul kernel = panelKernel(t, f, decode), reference = panelKernel(genericTable(), f, decode);
    BlockMatMul rowMajorRef = int8Kernel(genericTable(), f, 32 * blockWeights(f), decode);
    if (!kernel) {
      if (t.isa != std::string("neon") && failures++ < 10)
        std::printf("FAIL %s %s %s: no panel kernel\n", t.isa, formatName(f), kind);
      continue;
    }
    int cases = 0, prepared2 = 0;
    IntErrors errors{decode};
    for (int64_t nb : {1, 2, 5})
      for (int64_t rows : {1, 7, 16, 17, 40})
        for (int64_t r0 : {int64_t(0), int64_t(5), int64_t(16)})
          for (int64_t T : tokenCounts) {
            if (r0 >= rows)
              continue;
            int64_t K = nb * blockWeights(f);
            auto w = randomMatrix(f, rows, nb, rng);
            std::vector<uint8_t> wp(panelBytes(f, rows, K));
            interleaveRows(f, w.data(), rows, K, wp.data());
            auto x = randomVector(T * K, rng);
            int64_t ldy = rows + 3;
            std::vector<float> ref(size_t(T * ldy), -1.0f), got(size_t(T * ldy), -1.0f), rowRef(ref);
            reference(wp.data(), x.data(), ref.data(), K, T, ldy, r0, rows);
            kernel(wp.data(), x.data(), got.data(), K, T, ldy, r0, rows);
            // The two-step form, where the table has it: the same floats,
            // and the prepared rows serve a second product unchanged.
            if (PanelRun run = panelRun(t, f, decode)) {
              QuantizedRows prepared;
              t.panel_prepare(x.data(), K, T, decode, prepared);
              std::vector<float> twoStep(size_t(T * ldy), -1.0f), again(twoStep);
              run(wp.data(), prepared, twoStep.data(), ldy, r0, rows);
              run(wp.data(), prepared, again.data(), ldy, r0, rows);
              if ((std::memcmp(twoStep.data(), got.data(), got.size() * 4) != 0 || twoStep != again) &&
                  failures++ < 10)
                std::printf("FAIL %s %s %s: nb %lld rows %lld r0 %lld T %lld: prepared differs\n", t.isa,
                            formatName(f), kind, (long long)nb, (long long)rows, (long long)r0, (long long)T);
              ++prepared2;
            }
            if (rowMajorRef) {
              rowMajorRef(w.data(), x.data(), rowRef.data(), K, T, ldy, r0, rows);
              if (rowRef != ref && failures++ < 10)
                std::printf("FAIL %s %s: the panel reference differs from the row-major one\n", formatName(f), kind);
            }
            Weight rowMajor = weightOf(f, w, rows, K), panels = weightOf(f, wp, rows, K);
            panels.quant.panels = true;
            std::vector<float> a(static_cast<size_t>(K)), b(static_cast<size_t>(K));
            for (int64_t r = r0; r < rows; ++r) {
              dequantizeRow(rowMajor, r, a.data());
              dequantizeRow(panels, r, b.data());
              if (a != b && failures++ < 10)
                std::printf("FAIL %s %s: row %lld dequantizes differently in panels\n", t.isa, formatName(f),
                            (long long)r);
              for (int64_t tk = 0; tk < T; ++tk) {
                size_t at = size_t(tk * ldy + r);
                if (!errors.check(a.data(), x.data() + tk * K, K, got[at], ref[at]) && failures++ < 10)
                  std::printf("FAIL %s %s %s: nb %lld rows %lld r0 %lld T %lld row %lld token %lld: %g vs %g\n",
                              t.isa, formatName(f), kind, (long long)nb, (long long)rows, (long long)r0, (long long)T,
                              (long long)r, (long long)tk, double(got[at]), double(ref[at]));
              }
            }
            checkUntouched(got, T, ldy, r0, rows, t.isa, (std::string(formatName(f)) + " " + kind).c_str());
            ++cases;
          }
    std::printf("%s %s %s: %d shapes, worst difference / sum|w*x| %.1e; error vs exact %.2f of its bound\n", t.isa,
                formatName(f), kind, cases, errors.worst, errors.worstExact);
    if (prepared2)
      std::printf("%s %s %s: %d shapes in two steps, bit for bit\n", t.isa, formatName(f), kind, prepared2);
  }
}

// The reference itself against an fp64 product of the dequantized weights:
// the kernels are exact up to f32 summation order.
void checkExactness(const KernelTable &t) {
  std::mt19937 rng(17);
  const int64_t rows = 7;
  for (WeightFormat f : kBlockFormats) {
    const int64_t K = f == WeightFormat::PK4_128 ? 640 : 576;
    auto w = randomMatrix(f, rows, K / blockWeights(f), rng);
    auto x = randomVector(K, rng);
    Weight wt = weightOf(f, w, rows, K);
    std::vector<float> row(static_cast<size_t>(K)), y(static_cast<size_t>(rows));
    blockKernel(t, f, K)(w.data(), x.data(), y.data(), K, 1, rows, 0, rows);
    for (int64_t r = 0; r < rows; ++r) {
      dequantizeRow(wt, r, row.data());
      double exact = 0, scale = 0;
      for (int64_t i = 0; i < K; ++i) {
        exact += double(row[size_t(i)]) * x[size_t(i)];
        scale += std::fabs(double(row[size_t(i)]) * x[size_t(i)]);
      }
      if (!(std::fabs(y[size_t(r)] - exact) / scale < 1e-5) && failures++ < 10)
        std::printf("FAIL %s %s row %lld: %g vs exact %g\n", t.isa, formatName(f), (long long)r, double(y[size_t(r)]),
                    exact);
    }
  }
  // Rows that are not whole blocks have no block kernel: the runtime takes
  // them through dequantize-and-dot, as here.
  const int64_t cols = 45;
  std::vector<uint8_t> w(static_cast<size_t>(rows * cols * 2));
  std::vector<float> wf(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < wf.size(); ++i) {
    uint16_t h = halfOf(std::uniform_real_distribution<float>(0.01f, 1.0f)(rng));
    std::memcpy(&w[2 * i], &h, 2);
  }
  Weight wt = weightOf(WeightFormat::F16, w, rows, cols);
  wt.data.dtype = DType::F16;
  auto x = randomVector(2 * cols, rng);
  std::vector<float> scratch(static_cast<size_t>(cols)), y(static_cast<size_t>(2 * rows));
  if (blockKernel(t, WeightFormat::F16, cols) && failures++ < 10)
    std::printf("FAIL %s: a block kernel for rows of %lld\n", t.isa, (long long)cols);
  for (int64_t r = 0; r < rows; ++r) {
    dequantizeRow(wt, r, scratch.data());
    for (int64_t tk = 0; tk < 2; ++tk)
      y[size_t(tk * rows + r)] = t.dot(scratch.data(), x.data() + tk * cols, cols);
  }
  for (int64_t tk = 0; tk < 2; ++tk)
    for (int64_t r = 0; r < rows; ++r) {
      dequantizeRow(wt, r, scratch.data());
      double exact = 0;
      for (int64_t i = 0; i < cols; ++i)
        exact += double(scratch[size_t(i)]) * x[size_t(tk * cols + i)];
      if (!(std::fabs(y[size_t(tk * rows + r)] - exact) <= 1e-4 * (1 + std::fabs(exact))) && failures++ < 10)
        std::printf("FAIL %s F16 fallback token %lld row %lld\n", t.isa, (long long)tk, (long long)r);
    }
  std::printf("%s exact:", t.isa);
  for (WeightFormat f : kBlockFormats)
    std::printf(" %s", formatName(f));
  std::printf(", F16 rows of 45\n");
}

} // namespace

// The ISAs this CPU runs, found independently of the dispatcher, so a table
// that the build or the dispatch left out is a failure here, not a silent
// pass on the generic table alone.
std::vector<std::string> hostIsas() {
  std::vector<std::string> v;
#if defined(__x86_64__)
  __builtin_cpu_init();
  bool f16c = __builtin_cpu_supports("f16c");
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c)
    v.push_back("avx2");
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      f16c) {
    v.push_back("avx512");
    // With VNNI, the JIT's panel kernels run by default: they must be
    // checked; and what a CPU without VNNI runs is checked here too.
    if (__builtin_cpu_supports("avx512vnni")) {
      v.push_back("avx512+jit");
      v.push_back("avx512-novnni");
    }
  }
#elif defined(__aarch64__)
  v.push_back("neon");
#endif
  v.push_back("generic");
  return v;
}

// A table's activation quantizer against quantizeActs on odd lengths (the
// AVX-512 one takes eight blocks at a time, the rest one by one): the int8
// values and the half scales exactly, each block's quantized sum within a
// rounding (the SIMD sum may fuse its last multiply-add).
void checkQuantizer(const KernelTable &t) {
  if (!t.quantize_acts)
    return;
  std::mt19937 rng(29);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_real_distribution<float> spread(-4, 4);
  int cases = 0;
  for (int64_t nb : {1, 7, 8, 9, 17, 24, 33})
    for (int64_t T : {1, 2, 5})
      for (bool residual : {false, true}) {
        const int64_t K = nb * 32, ns = nb;
        std::vector<float> x(size_t(T * K));
        for (float &v : x)
          v = normal(rng) * std::exp(spread(rng));
        std::fill_n(x.begin() + 16, 16, 0.0f); // a half of zeros: scale 0
        x[size_t(K - 1)] = 1e-30f;             // beside tiny values
        std::vector<int8_t> q(x.size()), r(x.size()), qr(x.size()), rr(x.size());
        std::vector<float> dx(size_t(T * ns * 2)), sx(size_t(T * ns)), dxr(dx.size()), sxr(sx.size());
        t.quantize_acts(x.data(), K, T, residual, q.data(), r.data(), dx.data(), sx.data());
        if (residual)
          quantizeActs<true>(x.data(), K, T, qr.data(), rr.data(), dxr.data(), sxr.data());
        else
          quantizeActs<false>(x.data(), K, T, qr.data(), rr.data(), dxr.data(), sxr.data());
        bool same = q == qr && dx == dxr && (!residual || r == rr);
        for (size_t i = 0; i < sx.size(); ++i) {
          double scale = std::fabs(double(dxr[2 * i])) * 16 * 128 + std::fabs(double(dxr[2 * i + 1])) * 16 * 128;
          same = same && std::fabs(double(sx[i]) - double(sxr[i])) <= 1e-6 * scale;
        }
        if (!same && failures++ < 10)
          std::printf("FAIL %s quantize: K %lld T %lld residual %d differs from quantizeActs\n", t.isa,
                      (long long)K, (long long)T, int(residual));
        ++cases;
      }
  std::printf("%s quantize: %d shapes as quantizeActs\n", t.isa, cases);
}

// A table's f32 -> f16 conversion against floatToFp16 bit for bit: the
// edges (zeros, subnormal halves, the largest half and what rounds to
// infinity, infinities, NaNs) and random values of every magnitude, on odd
// lengths.
void checkToF16(const KernelTable &t) {
  std::vector<float> x = {0.0f, -0.0f, 5.96e-8f, 2.98e-8f, 2.99e-8f, -6.1e-5f, 6.097e-5f, 65504.0f, 65519.0f,
                          65520.0f, -70000.0f, INFINITY, -INFINITY, NAN, -NAN, 1.0f / 3, 1e-45f};
  std::mt19937 rng(31);
  std::uniform_real_distribution<float> e(-30, 20);
  while (x.size() < 1000)
    x.push_back((rng() & 1 ? 1 : -1) * std::exp2(e(rng)));
  int bad = 0;
  for (size_t n : {size_t(1), size_t(7), size_t(8), size_t(17), x.size()}) {
    std::vector<uint16_t> got(n);
    t.to_f16(x.data(), got.data(), int64_t(n));
    for (size_t i = 0; i < n; ++i)
      if (got[i] != floatToFp16(x[i]) && bad++ < 5 && failures++ < 10)
        std::printf("FAIL %s to_f16: %g gives %04x, floatToFp16 %04x\n", t.isa, double(x[i]), got[i],
                    floatToFp16(x[i]));
  }
  std::printf("%s to_f16: %zu values as floatToFp16\n", t.isa, x.size());
}

int main() {
  auto tables = availableTables();
  std::printf("tables:");
  for (const KernelTable *t : tables)
    std::printf(" %s", t->isa);
  std::printf("\n");
#if defined(__x86_64__)
  // AVX2: its integer kernels (vpmaddubsw) must be there, and so checked below.
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
    const KernelTable *t = avx2Table();
    if (!t || !t->q4_0_i8 || !t->q4_0_i8x2) {
      std::printf("FAIL: this CPU has AVX2, but the avx2 table has no integer kernels to check\n");
      ++failures;
    }
  }
  // AVX-512 VNNI: the integer prompt kernels must be there, and so checked
  // below (decoding uses its f32 kernels: avx512/Gemm.cpp says why).
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("f16c")) {
    const KernelTable *t = avx512Table();
    if (!t || !t->q4_0_i8 || !t->quantize_acts) {
      std::printf("FAIL: this CPU has AVX-512 VNNI, but the avx512 table has no integer kernels (or quantizer) to check\n");
      ++failures;
    }
  }
#endif
  for (const std::string &isa : hostIsas())
    if (std::none_of(tables.begin(), tables.end(), [&](const KernelTable *t) { return isa == t->isa; })) {
      std::printf("FAIL: this CPU runs %s, but no %s table was checked\n", isa.c_str(), isa.c_str());
      ++failures;
    }
  for (const KernelTable *t : tables) {
    if (t != &genericTable())
      checkBlockKernels(*t);
    checkInt8Kernels(*t, false);
    checkInt8Kernels(*t, true);
    checkPanelKernels(*t, false);
    checkPanelKernels(*t, true);
    checkExactness(*t);
    checkQuantizer(*t);
    checkToF16(*t);
  }
  // The JIT's checks above ran generated code, not its fallback.
  if (std::any_of(tables.begin(), tables.end(), [](const KernelTable *t) { return t->prepare != nullptr; })) {
    JitStats js = jitStats();
    std::printf("jit: %d kernels generated (%.1f KiB) in %.1f ms, %d shapes failed\n", js.kernels,
                double(js.bytes) / 1024, js.ms, js.failed);
    if ((js.kernels == 0 || js.failed > 0) && failures++ < 10)
      std::printf("FAIL: the JIT table's kernels were not all generated\n");
  }
  std::printf(failures ? "FAILED (%d)\n" : "OK\n", failures);
  return failures ? 1 : 0;
}
