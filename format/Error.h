// One error type for everything the importer rejects. The message is the one
// line the user sees: it names the file and the tensor or field at fault.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace mcc {

class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

template <typename... Args> std::string cat(Args &&...args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

// "file: what" — every import error starts with the file it is about.
template <typename... Args>
[[noreturn]] void fail(const std::string &file, Args &&...args) {
  throw Error(cat(file, ": ", std::forward<Args>(args)...));
}

} // namespace mcc
