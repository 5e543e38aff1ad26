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

// The one statement of the layout (format/Panel.h): within the panel block
// of 16 rows' blocks b, row `lane`'s header and its c-th 4-byte run of values.
// Q8_0 values are stored +128 (each byte's top bit flipped).
size_t headerAt(const BlockShape &s, int lane) { return size_t(lane * s.header); }
size_t runAt(const BlockShape &s, int c, int lane) { return size_t(kPanelRows * s.header + c * 64 + lane * 4); }
uint32_t flipOf(WeightFormat f) { return f == WeightFormat::Q8_0 ? 0x80808080u : 0; }

// Where the panel block of 16 rows' blocks b of panel `panel` starts.
uint64_t blockAt(const BlockShape &s, int64_t nb, int64_t panel, int64_t b) {
  return uint64_t(panel * nb + b) * kPanelRows * uint64_t(s.bytes);
}

void toPanel(const BlockShape &s, uint32_t flip, const uint8_t *block, uint8_t *dst, int lane) {
  std::memcpy(dst + headerAt(s, lane), block, size_t(s.header));
  for (int c = 0; c < (s.bytes - s.header) / 4; ++c) {
    uint32_t v;
    std::memcpy(&v, block + s.header + 4 * c, 4);
    v ^= flip;
    std::memcpy(dst + runAt(s, c, lane), &v, 4);
  }
}

void fromPanel(const BlockShape &s, uint32_t flip, const uint8_t *src, int lane, uint8_t *block) {
  std::memcpy(block, src + headerAt(s, lane), size_t(s.header));
  for (int c = 0; c < (s.bytes - s.header) / 4; ++c) {
    uint32_t v;
    std::memcpy(&v, src + runAt(s, c, lane), 4);
    v ^= flip;
    std::memcpy(block + s.header + 4 * c, &v, 4);
  }
}

} // namespace

void interleaveRows(WeightFormat f, const uint8_t *rowMajor, int64_t rows, int64_t cols, uint8_t *out) {
  const BlockShape s = blockShape(f);
  const int64_t nb = cols / s.weights;
  std::memset(out, 0, panelBytes(f, rows, cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < nb; ++b)
      toPanel(s, flipOf(f), rowMajor + uint64_t(r * nb + b) * uint64_t(s.bytes),
              out + blockAt(s, nb, r / kPanelRows, b), int(r % kPanelRows));
}

void unpanel(WeightFormat f, const uint8_t *panels, int64_t cols, int64_t panel, uint8_t *rows) {
  const BlockShape s = blockShape(f);
  const int64_t nb = cols / s.weights;
  for (int64_t b = 0; b < nb; ++b)
    for (int lane = 0; lane < kPanelRows; ++lane)
      fromPanel(s, flipOf(f), panels + blockAt(s, nb, panel, b), lane,
                rows + uint64_t(lane * nb + b) * uint64_t(s.bytes));
}

void gatherBlock(WeightFormat f, const uint8_t *panels, int64_t cols, int64_t row, int64_t b, uint8_t *block) {
  const BlockShape s = blockShape(f);
  fromPanel(s, flipOf(f), panels + blockAt(s, cols / s.weights, row / kPanelRows, b), int(row % kPanelRows), block);
}

} // namespace mcc
