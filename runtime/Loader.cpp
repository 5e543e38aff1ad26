#include "runtime/Loader.h"

#include <sys/auxv.h>
#include <unistd.h>

namespace mcc {

// The resolved path, so messages name the file the user ran.
std::string selfPath() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = 0;
    if (::access(buf, R_OK) == 0)
      return buf;
  }
  const char *execfn = reinterpret_cast<const char *>(::getauxval(AT_EXECFN));
  return execfn ? execfn : "/proc/self/exe";
}

std::unique_ptr<LoadedModel> loadModel(const std::string &path, const PayloadOptions &opt) {
  auto lm = std::make_unique<LoadedModel>();
  lm->file = std::make_unique<MappedFile>(path);
  PayloadHeader h = readPayload(lm->file->bytes().data(), lm->file->size(), path, &lm->unpacked, opt);
  lm->desc = std::move(h.model);
  if (h.has_code)
    lm->code = std::move(h.code);
  lm->model_hash = std::move(h.model_hash);
  return lm;
}

} // namespace mcc
