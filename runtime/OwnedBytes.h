// Anonymous memory in 2 MiB pages where the kernel gives them, unmapped on
// destruction: the unpacked weights, the generated code's workspace, the KV
// cache. Pages are zero and not yet touched: memory is committed as it is
// first written.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mcc {

class OwnedBytes {
public:
  OwnedBytes() = default;
  // Throws mcc::Error naming `what` when the memory is not there.
  OwnedBytes(size_t n, const char *what);
  ~OwnedBytes();
  OwnedBytes(OwnedBytes &&o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  OwnedBytes &operator=(OwnedBytes &&o) noexcept;
  uint8_t *data() const { return p_; }
  size_t size() const { return n_; }

private:
  uint8_t *p_ = nullptr;
  size_t n_ = 0;
};

} // namespace mcc
