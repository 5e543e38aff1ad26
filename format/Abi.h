// The boundary between code mcc generates for a model and the runtime that
// runs it. Plain C types only: the compiler side lowers to calls through
// this table, the runtime fills it in (runtime/Executor.cpp).
//
// Generated code is position independent and self-contained: it reaches
// the runtime only through the McApi table it is given, addresses
// activations as offsets into the workspace it is given, and names weights
// by their index in the payload. Its constant pools travel with it, linked
// in by mcc (compiler/codegen/LinkBlob.cpp).
//
// Each entry point is
//   const float *mcc_<name>(const McApi *api, McExec *exec, float *workspace,
//                           const int32_t *tokens, int32_t pos)
// and returns the logits (inside the workspace).
//
// The elementwise work between the matrix products is generated code too:
// each such op is a parallel region
//   void mcc_region_<k>(const McApi *api, McExec *exec, float *workspace,
//                       const int32_t *tokens, int32_t pos, int32_t thread,
//                       int32_t n_threads)
// that takes its own static slice of the op; an entry point runs region k
// on every thread with api->parallel(exec, k).
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct McExec McExec;

// Field order is the ABI: the generated code loads each pointer at its index.
typedef struct McApi {
  void (*embedding)(McExec *x, int32_t weight, const int32_t *tokens, int64_t rows, int64_t cols, float *out);
  // The micro-kernel call of a matrix product, for one thread's share:
  // out[t][r] = in[t] · W[r]ᵀ (+ residual[t][r] when given) for the weight's
  // rows r in [r0, r1) and the `rows` activation rows t. The share itself is
  // decided by the generated code.
  void (*matmul_rows)(McExec *x, int32_t weight, const float *in, float *out, int64_t rows, int64_t r0, int64_t r1,
                      const float *residual);
  // Causal GQA attention of `rows` query rows (rotated already) over the
  // layer's cache, which holds positions up to pos + rows - 1 (the
  // generated code wrote this step's keys and values).
  void (*attend)(McExec *x, int32_t layer, int32_t pos, int64_t rows, int64_t heads, int64_t kv_heads,
                 int64_t head_dim, int64_t window, const float *q, float *out);
  // A norm or bias weight as f32.
  const float *(*small_vector)(McExec *x, int32_t weight);
  // Runs mcc_region_<region> on every thread; returns when all are done.
  void (*parallel)(McExec *x, int32_t region);
  // An act-order weight's column order (int32 per column).
  const int32_t *(*weight_perm)(McExec *x, int32_t weight);
  // The RoPE table: [position][rope_dim / 2] of cos (sine = 0) or sin.
  const float *(*rope_table)(McExec *x, int32_t sine);
  // Writes one K/V head's key (rotated already) and value, head_dim floats
  // each, into the layer's cache at pos, in the cache's own format (f16, or
  // int8 with scales: kernels/Kernels.h, KvType).
  void (*store_kv)(McExec *x, int32_t layer, int32_t head, int32_t pos, const float *k, const float *v);
} McApi;

typedef const float *(*McEntry)(const McApi *api, McExec *exec, float *workspace, const int32_t *tokens, int32_t pos);
typedef void (*McRegion)(const McApi *api, McExec *exec, float *workspace, const int32_t *tokens, int32_t pos,
                         int32_t thread, int32_t n_threads);

#ifdef __cplusplus
}

#include <cstddef>
#include <cstdint>

namespace mcc::abi {

// The index of each McApi field: generated code loads the pointer at
// index * sizeof(void *). The asserts tie the indices to the struct above, so
// a field moved in one and not the other does not compile.
enum Field : int {
  kEmbedding, kMatmulRows, kAttend, kSmallVector, kParallel, kWeightPerm, kRopeTable, kStoreKv, kFieldCount
};
static_assert(offsetof(McApi, embedding) == kEmbedding * sizeof(void *));
static_assert(offsetof(McApi, matmul_rows) == kMatmulRows * sizeof(void *));
static_assert(offsetof(McApi, attend) == kAttend * sizeof(void *));
static_assert(offsetof(McApi, small_vector) == kSmallVector * sizeof(void *));
static_assert(offsetof(McApi, parallel) == kParallel * sizeof(void *));
static_assert(offsetof(McApi, weight_perm) == kWeightPerm * sizeof(void *));
static_assert(offsetof(McApi, rope_table) == kRopeTable * sizeof(void *));
static_assert(offsetof(McApi, store_kv) == kStoreKv * sizeof(void *));
static_assert(sizeof(McApi) == kFieldCount * sizeof(void *));

// The entry points every generated module defines (as mcc_<name>). A run of
// n tokens goes through the largest prefill batches first, decode for the
// rest; `score` returns the logits of all its rows (teacher forcing).
struct EntryPoint {
  const char *name;
  int64_t rows;     // tokens per call
  bool all_logits;  // logits for every row, not just the last
};
inline constexpr EntryPoint kEntryPoints[] = {
    {"decode", 1, false}, {"prefill64", 64, false}, {"prefill16", 16, false}, {"prefill4", 4, false},
    {"score", 64, true},
};
inline constexpr const char *kEntryPrefix = "mcc_";
inline constexpr const char *kRegionPrefix = "mcc_region_";

} // namespace mcc::abi
#endif
