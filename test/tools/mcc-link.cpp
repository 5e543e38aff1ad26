// Runs mcc's blob linker (compiler/codegen/LinkBlob.cpp) on an ELF object,
// for test/mlir/link-blob.test: prints the blob's size and entry points, or
// the error, one line, exit 1.
#include "compiler/codegen/Target.h"
#include "format/Error.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: mcc-link OBJECT\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::string object((std::istreambuf_iterator<char>(in)), {});
  try {
    mcc::CodeBlob blob = mcc::codeBlob(object);
    std::printf("blob %zu bytes\n", blob.text.size());
    for (const auto &[name, offset] : blob.entries)
      std::printf("entry %s at %llu\n", name.c_str(), (unsigned long long)offset);
  } catch (const mcc::Error &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
