// mcc: the compiler driver. Subcommands grow with the pipeline; each one reads
// a checkpoint through the import library and reports errors as one line.
#include "compiler/codegen/Target.h"
#include "compiler/graph/Emit.h"
#include "compiler/pack/QuantizeOutput.h"
#include "format/Error.h"
#include "compiler/import/Import.h"
#include "compiler/inspect/Inspect.h"
#include "compiler/package/Package.h"
#include "tools/mcc/Progress.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <optional>
#include <iostream>
#include <unistd.h>

#ifndef MCC_VERSION
#define MCC_VERSION "0.1.0"
#endif

namespace {
// Written to a temporary name and renamed, so no half-written file is left.
void writeText(const std::string &path, const std::string &text) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    if (!out.flush()) {
      ::unlink(tmp.c_str());
      mcc::fail(path, "cannot write");
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    mcc::fail(path, "cannot move the result into place");
  }
}
} // namespace

int main(int argc, char **argv) {
  CLI::App app{"mcc: an ahead-of-time compiler for LLMs on CPUs"};
  app.set_version_flag("--version", std::string("mcc ") + MCC_VERSION);
  app.require_subcommand(1);

  std::string path;
  bool asJson = false;
  CLI::App *inspect = app.add_subcommand("inspect", "Describe a checkpoint: shapes, quantization, sizes, tokenizer");
  inspect->add_option("MODEL", path, "GGUF file, or safetensors file/index/directory")->required();
  inspect->add_flag("--json", asJson, "Print JSON instead of text");

  std::string output, runtimePath;
  bool quiet = false;
  CLI::App *compile = app.add_subcommand("compile", "Compile a checkpoint into one self-contained executable");
  compile->add_option("MODEL", path, "GGUF file, or safetensors file/index/directory")->required();
  compile->add_option("-o,--output", output, "The executable to write")->required();
  compile->add_option("--runtime", runtimePath, "The runtime to build on (default: mcc-runtime beside mcc)");
  compile->add_flag("-q,--quiet", quiet, "Print nothing on success");
  std::string emit;
  bool noFuse = false, report = false;
  double bandwidth = 33.0;
  std::string target;
  compile->add_option("--emit", emit, "Write a stage instead of the executable: mlir (the graph), mlir-fused, llvm, asm, obj")
      ->check(CLI::IsMember({"mlir", "mlir-fused", "llvm", "asm", "obj"}));
  compile->add_option("--target", target,
                      "host, x86-64-v3, x86-64-v4, aarch64, or a list best first (default on x86-64: "
                      "x86-64-v4,x86-64-v3: runs on every AVX2 CPU, with AVX-512 code where there is AVX-512)");
  compile->add_flag("--no-fuse", noFuse, "Generate code from the unfused graph");
  std::string packMode = "raw";
  mcc::PackOptions pack;
  compile->add_option("--pack", packMode, "Weights raw (mapped at start-up, the default) or zstd (smaller file)")
      ->check(CLI::IsMember({"raw", "zstd"}));
  compile->add_option("--zstd-level", pack.level, "zstd compression level")->check(CLI::Range(1, 19));
  // Test hook (hidden): zeros before the first tensor, so a tiny model's
  // payload crosses 4 GiB and every offset past it is exercised.
  compile->add_option("--pad-weights-gib", pack.pad_gib, "Zero padding before the weights, in GiB")
      ->check(CLI::Range(0, 64))
      ->group("");
  uint64_t chunkKiB = pack.chunk_bytes >> 10;
  compile->add_option("--chunk-kib", chunkKiB, "Size of the hashed (and zstd) chunks of the weight data, in KiB")
      ->check(CLI::Range(4, 1 << 20));
  std::string lmHead;
  compile->add_option("--lm-head", lmHead,
                      "The output projection of a GPTQ/AWQ checkpoint, which keeps it in f16: q8_0 (quantized at "
                      "compile time, the default) or keep")
      ->check(CLI::IsMember({"q8_0", "keep"}));
  std::string weightsLayout, precision = "fast";
  compile->add_option("--precision", precision,
                      "What the executable runs by default: fast (int8 activations through integer kernels) or "
                      "exact (f32 activations; implies --weights rows, where its kernels run at full speed)")
      ->check(CLI::IsMember({"fast", "exact"}));
  compile->add_option("--weights", weightsLayout,
                      "Quantized matrices in panels of 16 rows for the integer kernels (panels, the default on "
                      "x86-64 unless --precision exact) or row by row (rows)")
      ->check(CLI::IsMember({"panels", "rows"}));
  bool noCodegen = false;
  compile->add_flag("--no-codegen", noCodegen, "Carry no generated code: the runtime's own forward pass runs (for comparison)");
  compile->add_flag("--report", report, "Print the graph's op counts, weight bytes per token and the bandwidth limit");
  compile->add_option("--bandwidth", bandwidth, "Memory bandwidth in GB/s for --report")->check(CLI::PositiveNumber);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    if (e.get_exit_code() == 0)
      return app.exit(e);
    std::fprintf(stderr, "mcc: error: %s (see mcc --help)\n", e.what());
    return 2;
  }

  try {
    if (*compile) {
      if (runtimePath.empty()) {
        const char *env = std::getenv("MCC_RUNTIME");
        std::string name = target.rfind("aarch64", 0) == 0 ? "mcc-runtime-aarch64" : "mcc-runtime";
        runtimePath = env ? env : (std::filesystem::read_symlink("/proc/self/exe").parent_path() / name).string();
      }
      mcc::Progress progress(quiet || !emit.empty());
      progress.stage("import " + path);
      mcc::ModelDesc m = mcc::importModel(path);
      std::string lmHeadWas;
      if (const mcc::Weight *out = mcc::outputProjection(m))
        lmHeadWas = mcc::formatName(out->quant.format);
      bool quantizedHead = (lmHead == "q8_0" || (lmHead.empty() && mcc::quantizesOutputByDefault(m))) &&
                           mcc::quantizeOutputQ8_0(m);
      mcc::GraphOptions go;
      go.fuse = !noFuse;
      go.target = target;
      if (report)
        std::cout << mcc::graphReport(m, go, bandwidth);
      if (!emit.empty()) {
        mcc::Stage s = emit == "mlir"         ? mcc::Stage::Mlir
                       : emit == "mlir-fused" ? mcc::Stage::MlirFused
                       : emit == "llvm"       ? mcc::Stage::LLVMIR
                       : emit == "asm"        ? mcc::Stage::Asm
                                              : mcc::Stage::Object;
        writeText(output, mcc::emitStage(m, go, s));
        return 0;
      }
      progress.stage("check tokenizer and chat template");
      mcc::checkRuntimeSupport(m);
      std::vector<mcc::GeneratedCode> gens;
      std::vector<mcc::CodeView> codes;
      if (!noCodegen) {
        progress.stage("graph, fusion and code generation for " + mcc::targetList(go));
        gens = mcc::generateCode(m, go);
        for (const mcc::GeneratedCode &g : gens) {
          mcc::CodeView &code = codes.emplace_back();
          code.target = g.target;
          code.triple = g.triple;
          code.needs = g.needs;
          code.text = g.text.data();
          code.bytes = g.text.size();
          code.entries = g.entries;
          code.workspace_floats = g.workspace_floats;
        }
      }
      pack.zstd = packMode == "zstd";
      pack.chunk_bytes = chunkKiB << 10;
      if (pack.zstd && target.rfind("aarch64", 0) == 0)
        throw mcc::Error("--pack zstd: the AArch64 runtime reads raw-packed weights only");
      bool x86 = mcc::targetsFor(target.empty() ? mcc::defaultTargets() : target).front().isX86();
      if (weightsLayout == "panels" && !x86)
        throw mcc::Error("--weights panels: the AArch64 runtime reads weights row by row only");
      pack.panels = weightsLayout.empty() ? x86 && precision != "exact" : weightsLayout == "panels";
      pack.precision = precision;
      progress.stage(pack.zstd ? "repack, compress and write the weights" : "repack and write the weights");
      pack.progress = [&](uint64_t done, uint64_t total) { progress.bytes(done, total); };
      mcc::PackageStats st = mcc::writeExecutable(m, runtimePath, output, codes, pack);
      progress.done();
      if (!quiet && pack.zstd)
        std::printf("%s: weights zstd level %d: %.1f MiB -> %.1f MiB (ratio %.2f)\n", output.c_str(), pack.level,
                    double(st.data_bytes) / (1 << 20), double(st.stored_data_bytes) / (1 << 20),
                    double(st.data_bytes) / double(std::max<uint64_t>(1, st.stored_data_bytes)));
      if (!quiet)
        std::printf("%s: %s, %.1f MiB (runtime %.1f MiB, weights %.1f MiB, generated code %.1f KiB for %s)\n",
                    output.c_str(), m.name.c_str(), double(st.file_bytes) / (1 << 20),
                    double(st.runtime_bytes) / (1 << 20), double(st.weight_bytes) / (1 << 20),
                    double(st.code_bytes) / 1024, gens.empty() ? "none" : mcc::targetList(go).c_str());
      if (!quiet && quantizedHead)
        std::printf("%s: output projection %s -> Q8_0, quantized at compile time (--lm-head keep keeps it)\n",
                    output.c_str(), lmHeadWas.c_str());
      if (!quiet)
        std::printf("%s: model hash %s\n", output.c_str(), st.model_hash.c_str());
    }
    if (*inspect) {
      mcc::ModelDesc m = mcc::importModel(path);
      if (asJson)
        std::cout << mcc::inspectJson(m).dump(2) << "\n";
      else
        std::cout << mcc::inspectText(m);
    }
  } catch (const mcc::Error &e) {
    std::fprintf(stderr, "mcc: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "mcc: error: out of memory reading %s\n", path.c_str());
    return 1;
  }
  return 0;
}
