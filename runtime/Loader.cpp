#include "runtime/Loader.h"
#include "compiler/import/Error.h"
#include "runtime/Payload.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/auxv.h>
#include <unistd.h>

namespace mcc {

LoadedModel::~LoadedModel() {
  if (map)
    ::munmap(const_cast<uint8_t *>(map), mapSize);
}

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
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail(path, "cannot open: ", std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(path, "cannot stat: ", std::strerror(errno));
  }
  auto lm = std::make_unique<LoadedModel>();
  lm->mapSize = size_t(st.st_size);
  void *p = ::mmap(nullptr, lm->mapSize, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED)
    fail(path, "cannot map: ", std::strerror(errno));
  lm->map = static_cast<const uint8_t *>(p);
  lm->desc = modelFromPayload(lm->map, lm->mapSize, path, &lm->code, &lm->unpacked, opt, &lm->model_hash);
  return lm;
}

} // namespace mcc
