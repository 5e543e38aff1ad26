// The panel tile of PanelEngine.h for AVX-512 VNNI, generated at start-up
// for one matrix shape: the block count, the token stride and every
// activation offset are constants of the code, the loop over blocks has a
// fixed trip count, and registers are assigned by hand (the float sums,
// the integer sums, the weight chunk and its two nibble halves, the block's
// scales and the nibble mask all stay in zmm registers for the whole tile).
// Numerics are the intrinsics tile's (same operations, same order) but for
// one thing the JIT does that they do not: in the one-pass tiles of Q4_0 and
// Q8_0, whose offset (-8, or -128 for Q8_0's +128 storage) is the same for
// every row, the offset term goes into the integer sums before the first
// vpdpbusd (each starts at -128 x the sum of its 16 activations, which
// `offsets` computes once per product) instead of one more vector multiply-add
// per token and 32 weights: equal in exact arithmetic, rounded in a
// different place.
//
// A generator is a small class whose constructor emits the code (xbyak's
// style); the code is written into a fresh mapping and made read+execute
// (never writable and executable at once) before it is returned.
#pragma once

#include "format/ModelDesc.h"

#include <cstdint>

namespace mcc::kernels::jit {

// What a generated tile reads: one panel and the activations of its first
// token (PanelEngine::TileInputs), y at row 0 of the panel for token 0.
struct TileArgs {
  const uint8_t *panel;
  const int8_t *xq, *xr;
  const float *dx, *sx;
  float *y;
  int64_t ldy;   // floats between tokens' outputs
  uint64_t rows; // lanes to store, bit i = row i of the panel
  const int32_t *xo; // foldsOffset tiles: -128 x each 16 activations' sum, laid out as dx
};
using TileFn = void (*)(const TileArgs *);

// Tokens per generated tile, as the intrinsics' (registers: see the .cpp).
constexpr int maxTokens(bool residual) { return residual ? 4 : 8; }

// Whether the tile of this format starts its integer sums at the offset
// (then TileArgs::xo holds PanelEngine's offset sums).
constexpr bool foldsOffset(WeightFormat f, bool residual) {
  return !residual && (f == WeightFormat::Q4_0 || f == WeightFormat::Q8_0);
}

// Code for `tokens` tokens of format F (Q4_0, Q4_1, PK4, PK4_128, Q8_0)
// over rows of K weights. Owns its code; throws Xbyak::Error (or
// std::bad_alloc) when it cannot be generated.
class PanelTile {
public:
  PanelTile(WeightFormat f, bool residual, int tokens, int64_t K);
  ~PanelTile();
  PanelTile(const PanelTile &) = delete;
  PanelTile &operator=(const PanelTile &) = delete;
  TileFn fn() const { return fn_; }
  size_t bytes() const { return bytes_; }

private:
  struct Gen;
  Gen *gen_;
  TileFn fn_;
  size_t bytes_;
};

} // namespace mcc::kernels::jit
