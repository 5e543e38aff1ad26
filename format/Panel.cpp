#include "format/Panel.h"
#include "format/Dequant.h"

#include <cstring>

namespace mcc {

static_assert(blockShape(WeightFormat::PK4).bytes == kPK4Bytes && blockShape(WeightFormat::PK8).bytes == kPK8Bytes &&
              blockShape(WeightFormat::PK4_128).bytes == kPK4_128Bytes);

bool panelable(WeightFormat f) {
  return f == WeightFormat::Q4_0 || f == WeightFormat::Q4_1 || f == WeightFormat::PK4 || f == WeightFormat::PK4_128 ||
         f == WeightFormat::Q8_0;
}

uint64_t panelBytes(WeightFormat f, int64_t rows, int64_t cols) {
  BlockShape s = blockShape(f);
  int64_t panels = (rows + kPanelRows - 1) / kPanelRows;
  return uint64_t(panels) * kPanelRows * uint64_t(cols / s.weights) * uint64_t(s.bytes);
}

namespace {

// Where byte `at` of block b of row r lives in panel form.
uint64_t panelOffset(const BlockShape &s, int64_t nb, int64_t r, int64_t b, int at) {
  uint64_t base = uint64_t((r / kPanelRows) * nb + b) * kPanelRows * uint64_t(s.bytes);
  int lane = int(r % kPanelRows);
  if (at < s.header)
    return base + uint64_t(lane * s.header + at);
  int n = at - s.header, sub = n / 16, j = n % 16;
  return base + uint64_t(kPanelRows * s.header + sub * 256 + (j / 4) * 64 + lane * 4 + j % 4);
}

} // namespace

void interleaveRows(WeightFormat f, const uint8_t *rowMajor, int64_t rows, int64_t cols, uint8_t *out) {
  BlockShape s = blockShape(f);
  int64_t nb = cols / s.weights;
  std::memset(out, 0, panelBytes(f, rows, cols));
  // Whole headers and 4-byte runs move together (panelOffset is linear
  // within them): a 7B model is 4 GB of these.
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t *src = rowMajor + uint64_t(r * nb + b) * uint64_t(s.bytes);
      std::memcpy(out + panelOffset(s, nb, r, b, 0), src, size_t(s.header));
      for (int at = s.header; at < s.bytes; at += 4) {
        uint8_t *to = out + panelOffset(s, nb, r, b, at);
        std::memcpy(to, src + at, 4);
        if (f == WeightFormat::Q8_0)
          for (int j = 0; j < 4; ++j)
            to[j] ^= 0x80;
      }
    }
}

void unpanel(WeightFormat f, const uint8_t *panels, int64_t cols, int64_t panel, uint8_t *rows) {
  // Straight loops, no per-byte offsets: the exact path runs this for
  // every panel of every product.
  const BlockShape s = blockShape(f);
  const int64_t nb = cols / s.weights;
  const uint32_t flip = f == WeightFormat::Q8_0 ? 0x80808080u : 0;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t *src = panels + uint64_t(panel * nb + b) * kPanelRows * uint64_t(s.bytes);
    const uint8_t *values = src + kPanelRows * s.header;
    for (int lane = 0; lane < kPanelRows; ++lane) {
      uint8_t *dst = rows + uint64_t(lane * nb + b) * uint64_t(s.bytes);
      std::memcpy(dst, src + lane * s.header, size_t(s.header));
      for (int c = 0; c < (s.bytes - s.header) / 4; ++c) {
        uint32_t v;
        std::memcpy(&v, values + c * 64 + lane * 4, 4);
        v ^= flip;
        std::memcpy(dst + s.header + 4 * c, &v, 4);
      }
    }
  }
}

void gatherBlock(WeightFormat f, const uint8_t *panels, int64_t cols, int64_t row, int64_t b, uint8_t *block) {
  BlockShape s = blockShape(f);
  int64_t nb = cols / s.weights;
  for (int at = 0; at < s.bytes; ++at)
    block[at] = panels[panelOffset(s, nb, row, b, at)] ^ (f == WeightFormat::Q8_0 && at >= s.header ? 0x80 : 0);
}

} // namespace mcc
