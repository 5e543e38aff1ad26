// The boundary between code mcc generates for a model and the runtime that
// runs it. Plain C types only: the compiler side lowers to calls through
// this table, the runtime fills it in (runtime/Executor.cpp).
//
// Generated code is position independent and carries no relocations: it
// reaches the runtime only through the McApi table it is given, addresses
// activations as offsets into the workspace it is given, and names weights
// by their index in the payload. Floats travel as their IEEE bits (uint32),
// so no constant pool is needed.
//
// Each entry point is
//   const float *mcc_<name>(const McApi *api, McExec *exec, float *workspace,
//                           const int32_t *tokens, int32_t pos)
// and returns the logits (inside the workspace).
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct McExec McExec;

enum { MC_PROLOGUE_NONE = 0, MC_PROLOGUE_RMS_NORM = 1, MC_PROLOGUE_SWIGLU = 2 };
enum { MC_ROPE_NEOX = 0, MC_ROPE_INTERLEAVED = 1 };
enum { MC_MAX_WEIGHTS = 3 }; // weights per qmatmul call

// Field order is the ABI: the generated code loads each pointer at its index.
typedef struct McApi {
  void (*embedding)(McExec *x, int32_t weight, const int32_t *tokens, int64_t rows, int64_t cols, float *out);
  void (*rms_norm)(McExec *x, int32_t weight, uint32_t eps_bits, int64_t group, int64_t rows, int64_t cols,
                   const float *in, float *out);
  // out[i] = prologue(in0, in1) · W[weight_i]ᵀ (+ residual when given; one weight).
  void (*qmatmul)(McExec *x, int32_t prologue, int64_t rows, int64_t cols, const float *in0, const float *in1,
                  int32_t norm_weight, uint32_t eps_bits, const float *residual, int32_t n_weights, int32_t w0,
                  int32_t w1, int32_t w2, float *out0, float *out1, float *out2);
  void (*bias_add)(McExec *x, int32_t weight, int64_t rows, int64_t cols, const float *in, float *out);
  void (*rope)(McExec *x, int32_t pos, int64_t rows, int64_t cols, int64_t head_dim, int64_t rope_dim, int32_t style,
               const float *in, float *out);
  // rope: -1 when q and k arrive rotated, else the MC_ROPE_* style to rotate
  // them with (rope_dim dims of each head) as k is cached and q is read.
  void (*attention)(McExec *x, int32_t layer, int32_t pos, int64_t rows, int64_t heads, int64_t kv_heads,
                    int64_t head_dim, int64_t window, int32_t rope, int64_t rope_dim, const float *q, const float *k,
                    const float *v, float *out);
  void (*swiglu)(McExec *x, int64_t n, const float *gate, const float *up, float *out);
  void (*add)(McExec *x, int64_t n, const float *a, const float *b, float *out);
  void (*last_row)(McExec *x, int64_t rows, int64_t cols, const float *in, float *out);
} McApi;

typedef const float *(*McEntry)(const McApi *api, McExec *exec, float *workspace, const int32_t *tokens, int32_t pos);

#ifdef __cplusplus
}
#endif
