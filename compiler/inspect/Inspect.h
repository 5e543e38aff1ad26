// What `mcc inspect` reports about an imported model: the figures that decide
// how it will run (sizes, bytes per token, KV-cache cost), as text or JSON.
#pragma once

#include "format/ModelDesc.h"

#include <nlohmann/json.hpp>
#include <string>

namespace mcc {

struct ModelStats {
  int64_t parameters = 0;
  uint64_t weight_bytes = 0;
  // Every weight is read once per decoded token, except the embedding, of
  // which one row is read (unless it doubles as the output projection).
  uint64_t bytes_per_token = 0;
  uint64_t kv_bytes_per_token_f16 = 0;
};

ModelStats computeStats(const ModelDesc &m);

// Weight classes ("attn_q", "ffn_down", "norms", ...) and the quantization of
// their members, e.g. {"ffn_down": {"Q4_K": 20, "Q6_K": 10}}.
nlohmann::ordered_json quantizationByClass(const ModelDesc &m);

nlohmann::ordered_json inspectJson(const ModelDesc &m);
std::string inspectText(const ModelDesc &m);

} // namespace mcc
