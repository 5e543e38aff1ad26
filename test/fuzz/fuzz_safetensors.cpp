// libFuzzer target: the safetensors header parser and the HF config,
// quantization-config and tokenizer.json parsers, on arbitrary bytes. Any
// mcc::Error is a clean rejection; anything else (crash, sanitizer report,
// another exception escaping) is a bug.
#include "format/Error.h"
#include "compiler/import/HFConfig.h"
#include "compiler/import/HFTokenizer.h"
#include "compiler/import/Safetensors.h"

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  std::string_view text(reinterpret_cast<const char *>(data), size);
  try {
    mcc::SafetensorsFile f = mcc::parseSafetensors(bytes, "fuzz.safetensors");
    // Touch every view the parser hands out: it must lie inside the input.
    volatile uint8_t sink = 0;
    for (auto &[name, t] : f.tensors)
      if (t.bytes)
        sink = sink ^ t.data[0] ^ t.data[t.bytes - 1];
  } catch (const mcc::Error &) {
  }
  try {
    mcc::parseHFConfig(text, "config.json");
  } catch (const mcc::Error &) {
  }
  try {
    mcc::parseQuantConfig(text, "quantize_config.json");
  } catch (const mcc::Error &) {
  }
  try {
    mcc::parseTokenizerJson(text, "tokenizer.json");
  } catch (const mcc::Error &) {
  }
  return 0;
}
