#include "compiler/import/Import.h"
#include "format/Error.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace mcc {

ModelDesc importModel(const std::string &path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    fail(path, "no such file or directory");
  if (fs::is_directory(path, ec))
    return importSafetensors(path);
  // Decide by content, not by name: a renamed GGUF is still a GGUF.
  char magic[4] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(magic, 4);
  if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0)
    return importGguf(path);
  std::string ext = fs::path(path).extension().string();
  if (ext == ".safetensors" || ext == ".json")
    return importSafetensors(path);
  if (ext == ".gguf")
    return importGguf(path); // reports the bad magic
  fail(path, "neither a GGUF file nor a safetensors checkpoint");
}

} // namespace mcc
