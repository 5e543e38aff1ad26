// A read-only memory map of a whole file. Checkpoints are read in place:
// tensors are views into the map, never copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace mcc {

class MappedFile {
public:
  // Throws mcc::Error naming the path if it cannot be opened or mapped.
  explicit MappedFile(std::string path);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const std::string &path() const { return path_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }

private:
  std::string path_;
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
};

} // namespace mcc
