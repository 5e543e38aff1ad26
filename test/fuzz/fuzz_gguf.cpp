// libFuzzer target: the GGUF parser, then the model import on top of it
// (hyper-parameters, tokenizer metadata, tensor checks, dequantization of
// the first row of every weight).
#include "format/Dequant.h"
#include "format/Error.h"
#include "compiler/import/Gguf.h"
#include "compiler/import/Import.h"

#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  try {
    mcc::GgufFile g = mcc::parseGguf(bytes, "fuzz.gguf");
    volatile uint8_t sink = 0;
    for (auto &t : g.tensors)
      if (t.bytes)
        sink = sink ^ t.data[0] ^ t.data[t.bytes - 1];
  } catch (const mcc::Error &) {
    return 0;
  }
  // The parse succeeded: run the full import through a file, as mcc does.
  // The file lives in the fuzzer's working directory (test.sh runs it in
  // build-san/fuzz) and goes when the run ends, so runs leave nothing behind.
  struct ScratchFile {
    std::string path = "mcc-fuzz-" + std::to_string(getpid()) + ".gguf";
    ~ScratchFile() { std::remove(path.c_str()); }
  };
  static ScratchFile scratch;
  const std::string &path = scratch.path;
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    mcc::ModelDesc m = mcc::importGguf(path);
    std::vector<float> row;
    for (const mcc::Weight &w : m.weights) {
      row.resize(size_t(w.cols()));
      mcc::dequantizeRow(w, w.rows() - 1, row.data());
    }
  } catch (const mcc::Error &) {
  }
  return 0;
}
