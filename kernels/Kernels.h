// Matrix products over every weight format mcc reads: Y = X · Wᵀ for a batch
// of T activation rows (T = 1 when decoding, T = prompt chunk when prefilling).
//
// Activations stay f32. Every format stored in blocks of 32 along a row —
// Q4_0, Q4_1, Q8_0, the repacked PK4/PK8 (GPTQ, AWQ, Q4_K), F16, BF16, F32 —
// has a fast kernel that expands each weight block in registers to the very
// floats the scalar dequantization gives, then multiply-adds them with every
// activation row in the tile, so the result is the exact product up to
// summation order.
// (Quantizing activations to int8 per block of 32, as most CPU engines do,
// measured a mean KL of 3e-3 and 95 % top-1 agreement against an fp64
// reference on SmolLM2-135M: too far from the bar; see docs/kernels.md.)
// The rest (Q5_K, Q6_K, un-repacked GPTQ/AWQ, rows not a multiple of 32) goes
// through the exact scalar dequantization of one row and an f32 dot product
// per activation row.
//
// One scalar reference (generic/) and one file per ISA family (avx2/,
// avx512/, neon/), the SIMD ones sharing the tiling engine in TileEngine.h;
// the dispatcher picks a table at start-up from the CPU's features.
#pragma once

#include "format/ModelDesc.h" // WeightFormat: the layouts
#include "format/Panel.h"     // the panel layout the integer kernels read

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace mcc::kernels {

// y[t * ldy + r] = W[r, :] · x[t * K : (t + 1) * K] for r in [r0, r1) and
// t in [0, T). w points at row 0 of a matrix of K / 32 blocks per row
// (K / 128 for PK4_128).
using BlockMatMul = void (*)(const uint8_t *w, const float *x, float *y, int64_t K, int64_t T, int64_t ldy,
                             int64_t r0, int64_t r1);

// One product's activations quantized (QuantizedActs.h) once, for several
// panel products over the same rows (PanelEngine.h: a thread's share of Q, K
// and V, or of gate and up): q and r T * K values (r with the second pass
// only), d the two half scales of each 32, sum each 32's sum. `offset`: what
// the JIT's one-pass Q4_0/Q8_0 tiles start their integer sums at, worked out
// by the first product that needs it.
struct QuantizedRows {
  std::vector<int8_t> q, r;
  std::vector<float> d, sum;
  int64_t K = 0, T = 0;
  bool residual = false;
  mutable std::vector<int32_t> offset;
  mutable bool hasOffset = false;
};
// Fills `a` from T rows of K activations (residual: with the second pass).
using PanelPrepare = void (*)(const float *x, int64_t K, int64_t T, bool residual, QuantizedRows &a);
// A panel product over prepared activations: as BlockMatMul, K and T from `a`.
using PanelRun = void (*)(const uint8_t *w, const QuantizedRows &a, float *y, int64_t ldy, int64_t r0, int64_t r1);

// floatToFp16 (format/Half.h) over n values: the to_f16 of tables without
// a conversion instruction (kernels/generic/MatMul.cpp).
void toF16Scalar(const float *src, uint16_t *dst, int64_t n);
// RmsNorm.h in plain C++: the rms_norm of tables without their own.
void rmsNormScalar(const float *x, const float *w, float *out, int64_t runs, int64_t n, float eps);

struct KernelTable {
  const char *isa;
  BlockMatMul q4_0, q4_1, q8_0, pk4, pk8, f16, bf16, f32;
  BlockMatMul pk4_128; // blocks of 128 weights: K must be a multiple of 128
  // The same products with int8 activations and integer dot products
  // (QuantizedActs.h): one int8 pass for batches of tokens (prompt
  // processing), two (the rounding carried by a second pass) for decoding.
  // nullptr where the ISA has none. Same signature: they quantize x themselves.
  BlockMatMul q4_0_i8, q4_1_i8, pk4_i8, pk4_128_i8;
  BlockMatMul q4_0_i8x2, q4_1_i8x2, pk4_i8x2, pk4_128_i8x2;
  float (*dot)(const float *a, const float *b, int64_t n);
  // G query heads sharing one K/V head over n cached positions
  // (AttentionEngine.h): out_g = softmax(q_g · k[p] * scale) · v, the cache
  // in f16. Keys in blocks of kKeyBlock positions (keyIndex): k points at the
  // block holding the first position, k0 is that position's column in it,
  // and the blocks are whole (lanes past n are read, not used). Values are
  // rows `stride` halves apart from the first position's. q and out hold the
  // G heads one after another, scores G * n floats. With lse, also each
  // head's log-sum-exp of its scaled scores (max + log of the sum), so that
  // attention over a span split in parts can be put back together
  // (Forward::attendRows). ahead[0, aheadBytes): what the caller reads
  // next (the next job's first keys), fetched into L2 while this call sums
  // the values, which read only what the scoring already fetched; nullptr:
  // nothing. It changes no result.
  void (*attend)(const float *q, int64_t G, const uint16_t *k, int64_t k0, const uint16_t *v, int64_t stride,
                 int64_t n, int64_t hd, float scale, float *scores, float *out, float *lse, const void *ahead,
                 int64_t aheadBytes);
  // out[i] = silu(gate[i]) * up[i] (Activation.h); out may be gate.
  void (*swiglu)(const float *gate, const float *up, float *out, int64_t n);
  // attend over an int8 cache (KvType::I8): k points at the key block
  // holding the first position (keyBlockBytes each), v at the first
  // position's value row, rows `stride` bytes apart (valueRowBytes).
  void (*attend_i8)(const float *q, int64_t G, const int8_t *k, int64_t k0, const int8_t *v, int64_t stride,
                    int64_t n, int64_t hd, float scale, float *scores, float *out, float *lse, const void *ahead,
                    int64_t aheadBytes) = nullptr;
  // The integer products over weights in panels of 16 rows (format/Panel.h,
  // PanelEngine.h): one int8 pass (batches) and two (decoding). The only
  // kernels for panel weights; nullptr where the table has none.
  struct Panels {
    BlockMatMul q4_0, q4_1, pk4, pk4_128, q8_0;
  };
  Panels panels{}, panels_x2{};
  // The same products in two steps: the activations quantized once
  // (panel_prepare), then any number of products over them (runs: one pass,
  // runs_x2: with the second, matching `residual` of the prepared rows).
  // Their outputs are the entries above's, bit for bit. nullptr where the
  // table has none.
  PanelPrepare panel_prepare = nullptr;
  struct PanelRuns {
    PanelRun q4_0, q4_1, pk4, pk4_128, q8_0;
  };
  PanelRuns panel_runs{}, panel_runs_x2{};
  // dst[i] = src[i] as f16, rounded to nearest even (format/Half.h's
  // floatToFp16, bit for bit): the K/V cache writes. Every table has one:
  // floatToFp16 a value at a time where the ISA has no conversion of its own.
  void (*to_f16)(const float *src, uint16_t *dst, int64_t n) = toF16Scalar;
  // RMS normalization of `runs` runs of n floats, each scaled by w
  // (RmsNorm.h): out = x * w / sqrt(mean of x² + eps), out may be x. Every
  // table's output is the generic one's bit for bit.
  void (*rms_norm)(const float *x, const float *w, float *out, int64_t runs, int64_t n, float eps) = rmsNormScalar;
  // The activations' quantization the integer kernels run first
  // (QuantizedActs.h: quantizeActs, with or without the second pass), for
  // checking against the reference; nullptr where the table has no SIMD one.
  void (*quantize_acts)(const float *x, int64_t K, int64_t T, bool residual, int8_t *xq, int8_t *xr, float *dx,
                        float *sx) = nullptr;
  // Tables whose panel kernels are generated at start-up (jit/): generate
  // them now for products of this layout over rows of K weights (otherwise
  // the first product does). nullptr elsewhere.
  void (*prepare)(WeightFormat layout, int64_t K) = nullptr;
};

// What the JIT generated so far in this process.
struct JitStats {
  int kernels = 0;
  uint64_t bytes = 0;
  double ms = 0;   // generating them
  int failed = 0;  // shapes whose code could not be generated (the intrinsics ran)
};
JitStats jitStats();

const KernelTable &genericTable();
// nullptr when this build lacks the ISA. Call only on a CPU that has it
// (availableTables checks): building a table may use its instructions.
const KernelTable *avx2Table();
const KernelTable *avx512Table();
// The AVX-512 table as a CPU without VNNI gets it (f32 kernels and AVX2's
// panels): on a CPU with VNNI, for kernel-check and MCC_ISA only.
const KernelTable *avx512NoVnniTable();
// avx512's with its panel kernels generated for each shape (jit/); nullptr
// without VNNI. MCC_JIT=0 leaves it out of bestTable().
const KernelTable *avx512JitTable();
const KernelTable *neonTable();
// Every table this CPU can run, best first; the generic one is last.
std::vector<const KernelTable *> availableTables();
// The best table this CPU runs; MCC_ISA=generic|avx2|avx512|avx512+jit|neon
// forces one.
const KernelTable &bestTable();

// How a product's activations are taken: as f32 (exact up to summation
// order), or quantized (QuantizedActs.h): to int8 for batches of at least
// kIntMinTokens tokens, below that (decoding one token, or two or three
// requests' steps, and in any server step Q/K/V, Forward::takesSecondPass, and
// the vocabulary projection's top logits, Forward::refineLogits) to int8 plus
// a second int8 pass for its rounding where the table has such kernels, else
// as f32. (4: the second pass doubles the
// integer work, which one token hides behind memory but four do not —
// measured on the 7B-shaped Q4_0 model serving 4 requests, 2.42x one
// request's tokens/s with two passes.)
enum class Precision { Exact, Int8 };
constexpr int64_t kIntMinTokens = 4;

// The key cache's layout: blocks of kKeyBlock positions, each [head_dim]
// [kKeyBlock] halves, so that attention scores a block with the positions in
// the vector lanes (AttentionEngine.h). Element e of position p (counted
// from a block's start) of a head with hd elements:
constexpr int64_t kKeyBlock = 16;
constexpr int64_t keyIndex(int64_t p, int64_t e, int64_t hd) {
  return p / kKeyBlock * kKeyBlock * hd + e * kKeyBlock + p % kKeyBlock;
}

// What the cache keeps of a key or value: f16 (the exact precision), or
// int8 with a scale per kKvGroup elements of a position, as llama.cpp's
// q8_0 cache type (the fast one): half the bytes that attention reads per
// position, which a server's steps of several sequences wait on (a 4-row
// SmolLM2 step's attention read ~27 GB/s of f16, twelfth session).
//   F16: a key block is [head_dim][kKeyBlock] halves; a value row head_dim halves.
//   I8:  a key block is [head_dim][kKeyBlock] int8 (keyIndex), then
//        [kvGroups][kKeyBlock] f32 scales (a group's scale of each
//        position); a value row is head_dim int8, then kvGroups f32 scales.
// Element e of group e / kKvGroup is q * d, q = nearbyint(x / d), d = max|x|
// / 127 over the group's elements of that position (quantizeKv).
enum class KvType { F16, I8 };
constexpr int64_t kKvGroup = 32;
constexpr int64_t kvGroups(int64_t hd) { return (hd + kKvGroup - 1) / kKvGroup; }
constexpr int64_t keyBlockBytes(KvType t, int64_t hd) {
  return t == KvType::F16 ? kKeyBlock * hd * 2 : kKeyBlock * hd + kKeyBlock * kvGroups(hd) * 4;
}
constexpr int64_t valueRowBytes(KvType t, int64_t hd) {
  return t == KvType::F16 ? hd * 2 : hd + kvGroups(hd) * 4;
}
// One position's hd values to int8: q[e * qStride], and each group's f32
// scale at byte d + 4 * g * dStride, as bytes (a value row's scales follow
// its head_dim bytes, so they need not be 4-byte aligned). Keys: a column of
// their block, qStride = dStride = kKeyBlock; values: 1 and 1.
void quantizeKv(const float *x, int64_t hd, int8_t *q, int64_t qStride, uint8_t *d, int64_t dStride);
// x's whole groups of kKvGroup each turned by the orthonormal Walsh-Hadamard
// transform (its own inverse), a partial last group left as it is. An int8
// cache keeps keys turned so, and attention turns each query the same way:
// q · k is unchanged, but a key's few large channels are spread over its
// group, so its scale no longer crushes the rest (SmolLM2, decode against
// the fp64 reference: keys in int8 mean KL 4.8e-4 plain, 1.5e-4 turned).
void rotateKv(float *x, int64_t hd);

// A table's integer kernel for this layout: the one-pass (batch) or the
// two-pass (decode) entry, or nullptr when it has none.
BlockMatMul int8Kernel(const KernelTable &t, WeightFormat layout, int64_t K, bool decode);

// How far ahead the panel kernels prefetch when decoding: 4.5 KiB, 16 of
// Q4_0's 288-byte panel blocks; as many bytes for every layout (16 of
// PK4_128's 1152-byte blocks ran the 7B GPTQ decode at 71-94 % of the
// bandwidth where 4.5 KiB ran it at 84-119 %, a noisy VM's minutes apart).
constexpr int kPanelPrefetchBytes = 4608;
// The one-pass tiles (batches: a server's step of four requests, prompts)
// prefetch four times as far: their arithmetic per byte is several times a
// decode's, and with the lines asked for only 4.5 KiB ahead memory sat idle
// behind it (4-row SmolLM2 steps, 5 turns: 3.73-4.28 ms at 9 KiB,
// 3.64-3.86 at 18 KiB, 3.79-4.46 at 4.5 KiB; 36 KiB no better than 18;
// pp512 1711-1771 tok/s against 1393-1724).
constexpr int kPanelBatchPrefetchBytes = 4 * kPanelPrefetchBytes;

// That distance in bytes of whole panel blocks (16 rows' blocks) of a layout,
// at least one: where the intrinsics' and the JIT's tiles both prefetch.
constexpr int64_t panelPrefetchAhead(WeightFormat f, bool residual) {
  const int64_t block = kPanelRows * blockShape(f).bytes;
  return std::max<int64_t>(1, (residual ? kPanelPrefetchBytes : kPanelBatchPrefetchBytes) / block) * block;
}

// The lines of a panel block (byte offsets [first, end)) the panel kernels
// prefetch before its 32 weights number `sub`: the block's lines in equal
// shares. PK4_128's 18 lines issued at once, every 128 weights, ran the
// 7B-shaped GPTQ decode 5-18 % slower than spread over its four sub-blocks
// (2 threads, in turns: 7.94 against 8.37 tok/s over 8 turns of a slow
// minute, 9.5-10.1 against 11.5-12.1 in a fast one).
inline std::pair<int64_t, int64_t> panelPrefetchLines(WeightFormat f, int sub) {
  const BlockShape s = blockShape(f);
  const int64_t lines = (kPanelRows * s.bytes + 63) / 64, subs = s.weights / 32;
  return {lines * sub / subs * 64, lines * (sub + 1) / subs * 64};
}

// Which cache the panel kernels prefetch into. Decoding (the two-pass
// tiles) waits on memory, and a line in L1 ahead of its use is what it
// needs. A batch (the one-pass tiles) is compute-bound and takes its
// activations from L1 by broadcast, every panel again: weights prefetched
// into L1 evict them, so there they go to L2 (7B-shaped Q4_0, four rows a
// step: 28-30 tok/s with L1 prefetches, 36-38 with L2 ones, in turns; one
// row: 11.7-12.4 with L1, 10.3-11.0 with L2).
constexpr bool panelPrefetchToL1(bool residual) { return residual; }

// A table's panel kernel for this layout (decode: the two-pass one), or nullptr.
BlockMatMul panelKernel(const KernelTable &t, WeightFormat layout, bool decode);
// Its two-step form (KernelTable::panel_runs), or nullptr.
PanelRun panelRun(const KernelTable &t, WeightFormat layout, bool decode);

// The block kernel for T tokens through a matrix of this layout with K
// columns, or nullptr when there is none (the runtime then dequantizes a row
// at a time and calls dot).
// Panel weights have integer kernels only: with Precision::Exact, nullptr.
BlockMatMul blockKernel(const KernelTable &t, WeightFormat layout, int64_t K, int64_t T = 1,
                        Precision p = Precision::Exact, bool panels = false);

} // namespace mcc::kernels
