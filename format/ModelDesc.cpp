#include "format/ModelDesc.h"
#include "format/Error.h"

namespace mcc {

size_t dtypeSize(DType t) {
  switch (t) {
  case DType::F32: case DType::I32: return 4;
  case DType::F16: case DType::BF16: case DType::I16: return 2;
  case DType::I64: return 8;
  case DType::I8: case DType::U8: return 1;
  }
  return 1;
}

const char *dtypeName(DType t) {
  switch (t) {
  case DType::F32: return "F32";
  case DType::F16: return "F16";
  case DType::BF16: return "BF16";
  case DType::I64: return "I64";
  case DType::I32: return "I32";
  case DType::I16: return "I16";
  case DType::I8: return "I8";
  case DType::U8: return "U8";
  }
  return "?";
}

int64_t TensorView::elements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

const char *zeroCodeName(ZeroCode z) {
  switch (z) {
  case ZeroCode::Stored: return "zeros";
  case ZeroCode::V1Word: return "v1-zeros";
  case ZeroCode::V1Field: return "v1-zeros-per-field";
  }
  return "?";
}

const char *formatName(WeightFormat f) {
  switch (f) {
  case WeightFormat::F32: return "F32";
  case WeightFormat::F16: return "F16";
  case WeightFormat::BF16: return "BF16";
  case WeightFormat::Q8_0: return "Q8_0";
  case WeightFormat::Q4_0: return "Q4_0";
  case WeightFormat::Q4_1: return "Q4_1";
  case WeightFormat::Q4_K: return "Q4_K";
  case WeightFormat::Q5_K: return "Q5_K";
  case WeightFormat::Q6_K: return "Q6_K";
  case WeightFormat::GPTQ: return "GPTQ";
  case WeightFormat::AWQ: return "AWQ";
  case WeightFormat::PK4: return "PK4";
  case WeightFormat::PK8: return "PK8";
  case WeightFormat::PK4_128: return "PK4_128";
  }
  return "?";
}

std::string describe(const Quantization &q) {
  switch (q.format) {
  case WeightFormat::GPTQ:
  case WeightFormat::AWQ: {
    std::string s = cat(formatName(q.format), " int", q.bits, " g", q.group_size,
                        q.sym ? " sym" : " asym");
    if (q.zero_code != ZeroCode::Stored)
      s += cat(" ", zeroCodeName(q.zero_code));
    if (q.act_order)
      s += " act-order";
    return s;
  }
  default:
    return q.panels ? cat(formatName(q.format), " in panels of 16") : std::string(formatName(q.format));
  }
}

uint64_t Weight::storedBytes() const {
  uint64_t n = data.bytes;
  for (const auto *t : {&scales, &zeros, &g_idx, &perm})
    if (*t)
      n += (*t)->bytes;
  return n;
}

const char *archName(Arch a) {
  switch (a) {
  case Arch::Llama: return "llama";
  case Arch::Qwen2: return "qwen2";
  case Arch::Qwen3: return "qwen3";
  case Arch::Mistral: return "mistral";
  }
  return "?";
}

const char *ropeScalingName(RopeScaling::Kind k) {
  switch (k) {
  case RopeScaling::Kind::None: return "none";
  case RopeScaling::Kind::Linear: return "linear";
  case RopeScaling::Kind::Dynamic: return "dynamic";
  case RopeScaling::Kind::Yarn: return "yarn";
  case RopeScaling::Kind::Llama3: return "llama3";
  }
  return "?";
}

const char *ropeStyleName(RopeStyle s) { return s == RopeStyle::Interleaved ? "interleaved" : "neox"; }

const char *tokenizerKindName(TokenizerDesc::Kind k) {
  return k == TokenizerDesc::Kind::ByteLevelBPE ? "byte-level BPE" : "SentencePiece BPE";
}

const Weight *ModelDesc::find(std::string_view n) const {
  for (const Weight &w : weights)
    if (w.name == n)
      return &w;
  return nullptr;
}

} // namespace mcc
