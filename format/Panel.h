// Rows interleaved in panels of 16: the layout the integer kernels read
// without rearranging anything per call (kernels/PanelEngine.h).
//
// A 4-bit block format (Q4_0, Q4_1, PK4, PK4_128) stores a block as a
// header (its scale, and offset where it has one) and 16 bytes of nibbles
// per 32 weights, byte j holding weight j (low) and j + 16 (high). In panel
// form the same bytes of 16 consecutive rows are regrouped, block by block:
//
//   panel p, block b, at ((p * blocksPerRow) + b) * 16 * blockBytes:
//     16 headers, row 0's first (the scales of 16 rows in two loads)
//     for each 32 weights s of the block, 4 chunks c of 64 bytes:
//       chunk c = bytes 4c..4c+3 of each of the 16 rows' nibbles, row 0 first
//
// so one 64-byte load gives weights 4c..4c+3 (low nibbles) and 16+4c..16+4c+3
// (high) of 16 rows, lanes being rows: what one vpdpbusd (or sdot on four
// registers) multiplies by four broadcast activations. A matrix whose row
// count is not a multiple of 16 gets zero rows at the end (scale 0). The
// bytes of a block are the row-major block's, permuted: dequantization
// gathers a row's block back and decodes it as before.
//
// Q8_0 (32 signed bytes a block) takes the same form, 8 chunks a block, its
// values stored plus 128 (unsigned, as the integer products want them).
#pragma once

#include "format/ModelDesc.h"

#include <cstdint>

namespace mcc {

constexpr int kPanelRows = 16;

struct BlockShape {
  int weights; // per block along a row
  int bytes;   // per block
  int header;  // bytes before the nibbles
};

// The block shape of a format stored in blocks with a header (GGML's Q8_0,
// Q4_0, Q4_1 and mcc's PK4, PK8, PK4_128); {0, 0, 0} for any other.
constexpr BlockShape blockShape(WeightFormat f) {
  switch (f) {
  case WeightFormat::Q8_0: return {32, 34, 2};
  case WeightFormat::Q4_0: return {32, 18, 2};
  case WeightFormat::Q4_1: return {32, 20, 4};
  case WeightFormat::PK4: return {32, 24, 8};
  case WeightFormat::PK8: return {32, 40, 8};
  case WeightFormat::PK4_128: return {128, 72, 8};
  default: return {0, 0, 0};
  }
}

// Whether f has a panel form.
bool panelable(WeightFormat f);

// Bytes of a rows x cols matrix of format f in panel form (rows rounded up to 16).
uint64_t panelBytes(WeightFormat f, int64_t rows, int64_t cols);

// rowMajor (rows x cols, blocks row after row) -> out (panelBytes).
void interleaveRows(WeightFormat f, const uint8_t *rowMajor, int64_t rows, int64_t cols, uint8_t *out);

// Panel `panel` (rows 16 panel .. 16 panel + 15) of a panel-form matrix back
// in row-major form: 16 rows of cols / weights blocks.
void unpanel(WeightFormat f, const uint8_t *panels, int64_t cols, int64_t panel, uint8_t *rows);

// Block b of row `row` of a panel-form matrix, in its row-major form.
void gatherBlock(WeightFormat f, const uint8_t *panels, int64_t cols, int64_t row, int64_t b, uint8_t *block);

} // namespace mcc
