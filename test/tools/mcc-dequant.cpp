// Test helper: imports a checkpoint and writes every weight, dequantized by
// mcc's scalar reference, as raw float32 files plus an index, so Python
// references (gguf, NumPy) can compare element by element. With --packed,
// each weight is first repacked as `mcc compile` does (compiler/pack), so
// the two dumps can be compared bit for bit.
//   mcc-dequant [--packed] MODEL OUTDIR
#include "format/Dequant.h"
#include "format/Error.h"
#include "compiler/import/Import.h"
#include "compiler/pack/Repack.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

int main(int argc, char **argv) {
  bool packed = argc == 4 && std::string(argv[1]) == "--packed";
  if (packed) {
    ++argv;
    --argc;
  }
  if (argc != 3) {
    std::fprintf(stderr, "usage: mcc-dequant [--packed] MODEL OUTDIR\n");
    return 2;
  }
  try {
    mcc::ModelDesc m = mcc::importModel(argv[1]);
    std::filesystem::create_directories(argv[2]);
    nlohmann::ordered_json index;
    std::vector<float> row;
    for (const mcc::Weight &source : m.weights) {
      std::optional<mcc::PackedWeight> p = packed ? mcc::repack(source) : std::nullopt;
      const mcc::Weight &w = p ? p->weight : source;
      std::string file = w.name + ".f32";
      std::ofstream out(std::filesystem::path(argv[2]) / file, std::ios::binary);
      row.resize(size_t(w.cols()));
      for (int64_t r = 0; r < w.rows(); ++r) {
        mcc::dequantizeRow(w, r, row.data());
        out.write(reinterpret_cast<const char *>(row.data()), std::streamsize(row.size() * sizeof(float)));
      }
      index[w.name] = {{"shape", w.shape}, {"format", mcc::formatName(w.quant.format)},
                       {"source", w.data.name}, {"file", file}};
    }
    std::ofstream(std::filesystem::path(argv[2]) / "index.json") << index.dump(1);
  } catch (const mcc::Error &e) {
    std::fprintf(stderr, "mcc-dequant: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
