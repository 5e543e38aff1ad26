#include "runtime/Loader.h"
#include "format/CpuFeatures.h"
#include "format/Error.h"

#include <sys/auxv.h>
#include <sys/mman.h>
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

// The first version of the generated code whose CPU features this CPU has.
// None: one line saying what is missing, before anything could trap on it.
CodeView pickCode(const std::vector<CodeView> &codes, const std::string &path) {
  for (const CodeView &c : codes)
    if (missingCpuFeatures(c.needs).empty())
      return c;
  if (codes.empty())
    return {};
  const CodeView &least = codes.back();
  std::string lacks;
  for (const std::string &f : missingCpuFeatures(least.needs))
    lacks += (lacks.empty() ? "" : ", ") + f;
  std::string fix = least.target == "x86-64-v3" ? "mcc's x86-64 code needs at least x86-64-v3 (AVX2, FMA)"
                    : least.triple.rfind("x86_64", 0) == 0
                        ? "compile with --target x86-64-v3 (the default, x86-64-v4,x86-64-v3, runs on both)"
                        : "compile for a CPU that has it";
  std::string all;
  for (const CodeView &c : codes)
    all += (all.empty() ? "" : ", ") + c.target;
  fail(path, "compiled for ", all, "; this CPU lacks ", lacks, ": ", fix);
}

std::unique_ptr<LoadedModel> loadModel(const std::string &path, const PayloadOptions &opt) {
  auto lm = std::make_unique<LoadedModel>();
  lm->file = std::make_unique<MappedFile>(path);
  // Pages read in from here on come in 2 MiB folios, mapped with one TLB
  // entry each (where the kernel maps file huge pages; a hint, else
  // ignored). Pages already cached keep the folios their writer made
  // (mcc writes whole 4 MiB pieces: compiler/package/Package.cpp).
  if (lm->file->size() > 0)
    ::madvise(const_cast<uint8_t *>(lm->file->bytes().data()), lm->file->size(), MADV_HUGEPAGE);
  PayloadHeader h = readPayload(lm->file->bytes().data(), lm->file->size(), path, &lm->unpacked, opt);
  lm->desc = std::move(h.model);
  for (const CodeView &c : h.codes)
    lm->targets.push_back(c.target);
  lm->code = pickCode(h.codes, path);
  lm->model_hash = std::move(h.model_hash);
  lm->exact = h.precision == "exact";
  return lm;
}

} // namespace mcc
