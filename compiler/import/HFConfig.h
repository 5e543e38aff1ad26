// Hugging Face config.json (and the GPTQ/AWQ quantization configs beside it)
// to hyper-parameters. Text in, so the fuzzer can drive it without files.
#pragma once

#include "format/ModelDesc.h"

#include <string>
#include <string_view>
#include <vector>

namespace mcc {

struct QuantConfig {
  enum class Method : uint8_t { None, GPTQ, AWQ } method = Method::None;
  int bits = 0;
  int64_t group_size = -1; // -1: one group over the whole input dimension
  bool desc_act = false;
  bool sym = true;
  bool v1_zeros = true;    // GPTQ checkpoint_format "gptq" stores zero - 1
  std::string source;      // the file it came from, for messages
  std::string writer;      // the tool its fields point to ("GPTQModel 2.0.0", "AutoAWQ", ...)
};

struct HFConfig {
  HyperParams hp;
  QuantConfig quant;
  int32_t bos = -1;
  std::vector<int32_t> eos;
};

HFConfig parseHFConfig(std::string_view text, const std::string &path);

// quantize_config.json (AutoGPTQ) or quant_config.json (AutoAWQ), or the
// "quantization_config" object of config.json given as its own text.
QuantConfig parseQuantConfig(std::string_view text, const std::string &path);

} // namespace mcc
