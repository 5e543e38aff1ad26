// The panel tile of PanelEngine.h for AVX-512 VNNI, generated at start-up
// for one matrix shape: the block count, the token stride and every
// activation offset are constants of the code, the loop over blocks has a
// fixed trip count, and registers are assigned by hand (the float sums,
// the integer sums, the weight chunk and its two nibble halves, the block's
// scales and the nibble mask all stay in zmm registers for the whole tile).
// Numerics are exactly the intrinsics tile's: same operations, same order.
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
};
using TileFn = void (*)(const TileArgs *);

// Tokens per generated tile, as the intrinsics' (registers: see the .cpp).
constexpr int maxTokens(bool residual) { return residual ? 4 : 8; }

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
