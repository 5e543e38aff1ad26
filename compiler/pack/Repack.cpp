#include "compiler/pack/Repack.h"
#include "format/Dequant.h"
#include "format/Half.h"
#include "format/Panel.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace mcc {

namespace {

// Weights per block and bytes per block of each repacked format.
int blockWeights(WeightFormat f) { return blockShape(f).weights; }
int blockBytes(WeightFormat f) { return blockShape(f).bytes; }

// One block: d and m, then the values (4-bit: 16 bytes per 32 weights).
void putBlock(uint8_t *dst, float d, float m, const uint8_t *q, WeightFormat f) {
  std::memcpy(dst, &d, 4);
  std::memcpy(dst + 4, &m, 4);
  if (f == WeightFormat::PK8) {
    std::memcpy(dst + 8, q, 32);
    return;
  }
  for (int s = 0; s < blockWeights(f) / 32; ++s)
    for (int j = 0; j < 16; ++j)
      dst[8 + 16 * s + j] = uint8_t(q[32 * s + j] | q[32 * s + j + 16] << 4);
}

PackedWeight start(const Weight &w, WeightFormat f) {
  PackedWeight p;
  p.weight.name = w.name;
  p.weight.shape = w.shape;
  p.weight.quant.format = f;
  p.weight.quant.bits = f == WeightFormat::PK8 ? 8 : 4;
  p.weight.quant.group_size = blockWeights(f);
  p.data.resize(size_t(w.rows() * (w.cols() / blockWeights(f)) * blockBytes(f)));
  return p;
}

void finish(PackedWeight &p, const Weight &src) {
  TensorView &v = p.weight.data;
  v.name = src.name + " (packed)";
  v.file = src.data.file;
  v.dtype = DType::U8;
  v.shape = {int64_t(p.data.size())};
  v.data = p.data.data();
  v.bytes = p.data.size();
  if (!p.perm.empty())
    p.weight.perm = TensorView{src.name + " (column order)", src.data.file, DType::I32,
                               {src.cols()}, p.perm.data(), p.perm.size()};
}

int64_t groupOf(const Weight &w, int64_t col) {
  if (w.g_idx)
    return int64_t(loadU32(w.g_idx->data + 4 * col));
  return w.quant.group_size > 0 ? col / w.quant.group_size : 0;
}

// Column order: by group (stable), so each group's columns are together;
// empty when K is not a multiple of `block` or some block would still
// straddle two groups.
std::vector<int32_t> columnOrder(const Weight &w, int block) {
  int64_t K = w.cols();
  if (K % block != 0)
    return {};
  std::vector<int32_t> order(static_cast<size_t>(K));
  std::iota(order.begin(), order.end(), 0);
  if (w.g_idx)
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return groupOf(w, a) < groupOf(w, b); });
  for (int64_t b = 0; b < K / block; ++b)
    for (int j = 1; j < block; ++j)
      if (groupOf(w, order[size_t(b * block + j)]) != groupOf(w, order[size_t(b * block)]))
        return {};
  return order;
}

std::optional<PackedWeight> repackInteger(const Weight &w, WeightFormat f) {
  int64_t K = w.cols(), N = w.rows();
  const int bw = blockWeights(f), bb = blockBytes(f);
  std::vector<IntegerElement> e(static_cast<size_t>(K));
  std::vector<int32_t> order = columnOrder(w, bw);
  if (order.empty())
    return std::nullopt;
  bool permuted = !std::is_sorted(order.begin(), order.end());

  PackedWeight p = start(w, f);
  uint8_t q[128];
  for (int64_t r = 0; r < N; ++r) {
    integerRow(w, r, e.data());
    for (int64_t b = 0; b < K / bw; ++b) {
      const IntegerElement &first = e[size_t(order[size_t(b * bw)])];
      for (int j = 0; j < bw; ++j)
        q[j] = uint8_t(e[size_t(order[size_t(b * bw + j)])].q);
      // s * (q - z) == q * s + (-(s * z)): both products are exact in f32
      // for f16/bf16 scales, so the sum rounds as the reference does.
      putBlock(&p.data[size_t((r * (K / bw) + b) * bb)], first.s, -(first.s * float(first.z)), q, f);
    }
  }
  if (permuted) {
    p.perm.resize(size_t(K) * 4);
    std::memcpy(p.perm.data(), order.data(), p.perm.size());
  }
  finish(p, w);
  return p;
}

std::optional<PackedWeight> repackQ4_K(const Weight &w) {
  int64_t K = w.cols(), N = w.rows(), nb = K / 256;
  PackedWeight p = start(w, WeightFormat::PK4);
  float d[8], m[8];
  uint8_t q[256];
  for (int64_t r = 0; r < N; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      unpackQ4_K(w.data.data + (r * nb + b) * 144, d, m, q);
      for (int s = 0; s < 8; ++s)
        putBlock(&p.data[size_t(((r * nb + b) * 8 + s) * kPK4Bytes)], d[s], -m[s], q + 32 * s, WeightFormat::PK4);
    }
  finish(p, w);
  return p;
}

} // namespace

WeightFormat packedFormat(const Weight &w) {
  if (w.shape.size() != 2 || w.cols() % 32 != 0)
    return w.quant.format;
  switch (w.quant.format) {
  case WeightFormat::GPTQ:
  case WeightFormat::AWQ:
    // The widest block whose weights all share a group: fewer scale bytes.
    if (w.quant.bits == 4 && !columnOrder(w, 128).empty())
      return WeightFormat::PK4_128;
    if ((w.quant.bits != 4 && w.quant.bits != 8) || columnOrder(w, 32).empty())
      return w.quant.format;
    return w.quant.bits == 4 ? WeightFormat::PK4 : WeightFormat::PK8;
  case WeightFormat::Q4_K: return WeightFormat::PK4;
  default: return w.quant.format;
  }
}

uint64_t packedBytes(const Weight &w) {
  WeightFormat f = packedFormat(w);
  if (f == w.quant.format)
    return w.storedBytes();
  return uint64_t(w.rows() * (w.cols() / blockWeights(f)) * blockBytes(f));
}

bool packedPermuted(const Weight &w) {
  WeightFormat f = packedFormat(w);
  if (f == w.quant.format || w.quant.format == WeightFormat::Q4_K || !w.g_idx)
    return false;
  std::vector<int32_t> order = columnOrder(w, blockWeights(f));
  return !std::is_sorted(order.begin(), order.end());
}

std::optional<PackedWeight> toPanels(const Weight &w) {
  if (w.shape.size() != 2 || !panelable(w.quant.format) || w.quant.panels ||
      w.cols() % blockShape(w.quant.format).weights != 0)
    return std::nullopt;
  PackedWeight p;
  p.weight = w;
  p.weight.quant.panels = true;
  p.data.resize(panelBytes(w.quant.format, w.rows(), w.cols()));
  interleaveRows(w.quant.format, w.data.data, w.rows(), w.cols(), p.data.data());
  TensorView &v = p.weight.data;
  v.name = w.name + " (panels)";
  v.dtype = DType::U8;
  v.shape = {int64_t(p.data.size())};
  v.data = p.data.data();
  v.bytes = p.data.size();
  return p;
}

std::optional<PackedWeight> repack(const Weight &w) {
  WeightFormat f = packedFormat(w);
  if (f == w.quant.format)
    return std::nullopt;
  return w.quant.format == WeightFormat::Q4_K ? repackQ4_K(w) : repackInteger(w, f);
}

} // namespace mcc
