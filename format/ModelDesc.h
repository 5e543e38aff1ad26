// The canonical model description: what every later stage (graph builder,
// weight packer, runtime) reads, whatever the checkpoint format was.
//
// Weights keep pointing into the mapped checkpoint; a ModelDesc owns the maps.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mcc {

class MappedFile;

// Element types of stored tensors (safetensors dtypes; GGUF blocks are U8).
enum class DType : uint8_t { F32, F16, BF16, I64, I32, I16, I8, U8 };
size_t dtypeSize(DType t);
const char *dtypeName(DType t);

// Stored bytes of one tensor inside a mapped file.
struct TensorView {
  std::string name; // as named in the source file
  std::string file; // path of the file holding it, for messages
  DType dtype = DType::U8;
  std::vector<int64_t> shape; // as stored (GGUF: outermost first, like safetensors)
  const uint8_t *data = nullptr;
  uint64_t bytes = 0;

  int64_t elements() const;
};

enum class WeightFormat : uint8_t {
  F32, F16, BF16,         // unquantized
  Q8_0, Q4_0, Q4_1,       // GGUF blocks of 32
  Q4_K, Q5_K, Q6_K,       // GGUF super-blocks of 256
  GPTQ, AWQ,              // int32-packed integers + per-group scales/zeros
  // Written by mcc's repacker (compiler/pack), read by the runtime: blocks
  // of 32 as {f32 d, f32 m, q[32]} with w = q * d + m, q unsigned 4-bit
  // (PK4, GGML's nibble order) or 8-bit (PK8). Every 4/8-bit scheme above
  // with a scale and offset per 32 (or a multiple) maps onto them exactly.
  PK4, PK8,
  // 4-bit with one scale and offset per 128 (GPTQ/AWQ at group 128, or
  // per channel): blocks of 128 as {f32 d, f32 m, 4 x 16 bytes}, each 16
  // bytes PK4's nibble order for 32 weights. 4.5 bits a weight, not 6.
  PK4_128,
};
constexpr int kLastWeightFormat = int(WeightFormat::PK4_128);
const char *formatName(WeightFormat f);

// How GPTQ qzeros words hold the zero points. GPTQ v1 ("gptq") stores each
// minus one, in one of two ways the writing tools read back differently:
//   V1Word:  GPTQModel (and transformers through it) subtracts 0x11111111
//            (0x01010101 at 8 bits) from the whole word, with borrow, and adds
//            it back with carry; a real zero of 0 borrows from its neighbour.
//   V1Field: AutoGPTQ writes z - 1 into each field (a zero of 0 sets every
//            bit above it) and reads each field as (f + 1) & mask.
enum class ZeroCode : uint8_t { Stored, V1Word, V1Field };
const char *zeroCodeName(ZeroCode z);

// Exactly how a weight's numbers are stored. Dequantization is defined by
// this plus the tensor views of the Weight, nothing else.
struct Quantization {
  WeightFormat format = WeightFormat::F32;
  int bits = 32;          // bits of one stored weight value
  int64_t group_size = 0; // weights along the input dim sharing a scale (0: no scale)
  // GPTQ / AWQ:
  bool sym = false;       // declared symmetric (zero points are still read from qzeros)
  ZeroCode zero_code = ZeroCode::Stored;
  bool act_order = false; // g_idx is not row / group_size
  DType scale_dtype = DType::F16;
  // Q4_0/Q4_1/PK4/PK4_128 written by mcc with rows interleaved in panels of
  // 16 (format/Panel.h), for the integer kernels.
  bool panels = false;
};
// One line such as "GPTQ int4 g128 asym v1-zeros act-order".
std::string describe(const Quantization &q);

struct Weight {
  // Canonical names follow GGUF: token_embd, output_norm, output,
  // blk.N.{attn_norm,attn_q,attn_k,attn_v,attn_output,attn_q_norm,attn_k_norm,
  // ffn_norm,ffn_gate,ffn_up,ffn_down}, and `<linear>.bias` (Qwen2's Q/K/V;
  // any other linear's that a checkpoint carries non-zero).
  std::string name;
  // Logical shape, row-major: {out_features, in_features} for matrices (the
  // embedding is {vocab, hidden}), {n} for vectors.
  std::vector<int64_t> shape;
  Quantization quant;
  TensorView data;                   // values, GGUF blocks, or GPTQ/AWQ qweight
  std::optional<TensorView> scales;  // GPTQ/AWQ
  std::optional<TensorView> zeros;   // GPTQ/AWQ qzeros
  std::optional<TensorView> g_idx;   // GPTQ
  // PK4/PK8 of an act-order checkpoint: stored column j is logical column
  // perm[j] (int32), so that each block of 32 shares one group.
  std::optional<TensorView> perm;

  int64_t rows() const { return shape.size() == 2 ? shape[0] : 1; }
  int64_t cols() const { return shape.back(); }
  int64_t elements() const { return rows() * cols(); }
  uint64_t storedBytes() const;
};

enum class Arch : uint8_t { Llama, Qwen2, Qwen3, Mistral };
const char *archName(Arch a);

// How RoPE pairs dimensions. HF checkpoints rotate (i, i + d/2) ("neox");
// GGUF llama files permute Q/K rows so that (2i, 2i + 1) pairs ("interleaved").
enum class RopeStyle : uint8_t { Neox, Interleaved };
const char *ropeStyleName(RopeStyle s);

struct RopeScaling {
  enum class Kind : uint8_t { None, Linear, Dynamic, Yarn, Llama3 } kind = Kind::None;
  float factor = 1.0f;
  int64_t original_context = 0;
  float low_freq_factor = 1.0f, high_freq_factor = 4.0f; // llama3
  float beta_fast = 32.0f, beta_slow = 1.0f;             // yarn
  float attn_factor = 1.0f;                              // yarn
};
const char *ropeScalingName(RopeScaling::Kind k);

struct HyperParams {
  Arch arch = Arch::Llama;
  std::string hf_class; // e.g. LlamaForCausalLM; for GGUF the general.architecture
  int64_t n_layers = 0, hidden = 0, intermediate = 0;
  int64_t n_heads = 0, n_kv_heads = 0, head_dim = 0;
  int64_t vocab = 0, context = 0;
  float rms_eps = 1e-6f;
  float rope_theta = 10000.0f;
  int64_t rope_dim = 0; // rotated dims per head (== head_dim for these families)
  RopeStyle rope_style = RopeStyle::Neox;
  RopeScaling rope_scaling;
  bool tie_embeddings = false;
  bool qkv_bias = false;
  bool qk_norm = false;        // Qwen3: RMSNorm on each Q and K head
  int64_t sliding_window = 0;  // 0: full attention
};

struct TokenizerDesc {
  enum class Kind : uint8_t {
    ByteLevelBPE,    // GPT-2 style bytes-to-unicode, merges (SmolLM, Qwen, Llama-3)
    SentencePieceBPE // "▁" for spaces, <0xNN> byte fallback (Llama-2, Mistral)
  } kind = Kind::ByteLevelBPE;
  // Pre-tokenizer: a GGUF name ("smollm", "qwen2", "llama-bpe", ...) or, from
  // tokenizer.json, the Split regexes in order.
  std::string pre;
  std::vector<std::string> pre_regexes;
  std::vector<std::string> tokens;
  std::vector<float> scores;    // SentencePiece piece scores (may be empty)
  std::vector<int32_t> types;   // GGUF token types: 1 normal 2 unknown 3 control 4 user 5 unused 6 byte
  std::vector<std::string> merges; // "left right"
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  std::vector<int32_t> stop_ids; // every id that ends generation (eos, eot, <|im_end|>, ...)
  bool add_bos = false;
  bool add_space_prefix = false;
  std::string chat_template;
};
const char *tokenizerKindName(TokenizerDesc::Kind k);

struct ModelDesc {
  std::string source;        // the path the user gave
  std::string source_format; // "gguf v3", "safetensors (2 shards)"
  std::string name;
  HyperParams hp;
  std::vector<Weight> weights;
  TokenizerDesc tokenizer;
  std::vector<std::shared_ptr<const MappedFile>> files; // keeps every view valid
  std::vector<std::shared_ptr<std::vector<uint8_t>>> owned; // bytes made by mcc (QuantizeOutput.h)
  // What the importer recognised of the tool that wrote a GPTQ/AWQ file and
  // its conventions, as (what, finding) lines for `mcc inspect`.
  std::vector<std::pair<std::string, std::string>> conventions;

  const Weight *find(std::string_view name) const;
};

} // namespace mcc
