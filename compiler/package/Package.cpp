#include "compiler/package/Package.h"
#include "format/Error.h"
#include "format/MappedFile.h"
#include "compiler/pack/Repack.h"
#include "format/Integrity.h"
#include "format/Payload.h"
#include "runtime/chat/ChatTemplate.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>
#include <zstd.h>

namespace mcc {

namespace {

// The temporary output, removed if compilation is interrupted.
char gTempPath[4096];
void removeTemp(int sig) {
  if (gTempPath[0])
    ::unlink(gTempPath);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// The output file, written in whole aligned pieces: the page cache sizes its
// folios by the writes that fill it, and 2 MiB folios at 2 MiB offsets are
// what the runtime's mapping of the weights can map with one TLB entry each.
// Written a tensor at a time (most far smaller than 2 MiB), a 0.5B model's
// weights sat 15 % in such folios and decoded at 105 tok/s (114-121 in a
// fast minute); written in 4 MiB pieces, 97 % and 127 (164-170): 2 threads,
// in turns, the same contents.
class Out {
public:
  static constexpr uint64_t kPiece = 4 << 20;

  explicit Out(const std::string &path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0)
      fail(path, "cannot write: ", std::strerror(errno));
    buf_.reserve(kPiece);
  }
  ~Out() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  void write(const void *p, uint64_t n) {
    const auto *b = static_cast<const uint8_t *>(p);
    while (n) {
      uint64_t k = std::min(n, kPiece - pos_ % kPiece);
      buf_.insert(buf_.end(), b, b + k);
      b += k, n -= k, pos_ += k;
      if (pos_ % kPiece == 0)
        flush();
    }
  }
  void pad(uint64_t align) {
    static const char zeros[4096] = {};
    uint64_t n = (align - pos_ % align) % align;
    while (n) {
      uint64_t k = std::min<uint64_t>(n, sizeof zeros);
      write(zeros, k);
      n -= k;
    }
  }
  uint64_t pos() const { return pos_; }
  // A hole: the file system stores nothing for it, and it reads as zeros.
  void skip(uint64_t n) {
    flush();
    pos_ += n;
    if (n && ::lseek(fd_, off_t(pos_), SEEK_SET) < 0)
      fail(path_, "seek failed: ", std::strerror(errno));
  }
  void close() {
    flush();
    // A hole at the end is not written: the size says it is there.
    int fd = fd_;
    fd_ = -1;
    bool ok = ::ftruncate(fd, off_t(pos_)) == 0 && ::fsync(fd) == 0;
    int err = errno;
    if (::close(fd) != 0 && ok)
      ok = false, err = errno;
    if (!ok)
      fail(path_, "write failed: ", std::strerror(err));
  }

private:
  void flush() {
    for (size_t done = 0; done < buf_.size();) {
      ssize_t w = ::write(fd_, buf_.data() + done, buf_.size() - done);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        fail(path_, "write failed: ", std::strerror(w < 0 ? errno : ENOSPC));
      done += size_t(w);
    }
    buf_.clear();
  }

  std::string path_;
  int fd_ = -1;
  uint64_t pos_ = 0;
  std::vector<uint8_t> buf_;
};

// The weight data as the runtime sees it (offsets are into it), written
// either as is or as independently compressed zstd frames, and hashed in
// chunks as it goes (zstd frames and hashed chunks are the same chunks).
class DataSink {
public:
  DataSink(Out &out, const PackOptions &o) : out_(out), opt_(o), start_(out.pos()), hasher_(o.chunk_bytes) {}

  void write(const uint8_t *p, uint64_t n) {
    hasher_.update(p, n);
    if (!opt_.zstd) {
      out_.write(p, n);
      pos_ += n;
      return;
    }
    while (n) {
      uint64_t k = std::min<uint64_t>(n, opt_.chunk_bytes - pending_.back().size());
      pending_.back().insert(pending_.back().end(), p, p + k);
      p += k, n -= k, pos_ += k;
      if (pending_.back().size() == opt_.chunk_bytes) {
        if (pending_.size() == batch())
          flush();
        pending_.emplace_back();
      }
    }
  }
  // n zero bytes; raw, they are a hole in the file.
  void zeros(uint64_t n) {
    static const uint8_t z[1 << 16] = {};
    if (!opt_.zstd) {
      for (uint64_t left = n; left;) {
        uint64_t k = std::min<uint64_t>(left, sizeof z);
        hasher_.update(z, k);
        left -= k;
      }
      out_.skip(n);
      pos_ += n;
      return;
    }
    for (uint64_t left = n; left;) {
      uint64_t k = std::min<uint64_t>(left, sizeof z);
      write(z, k);
      left -= k;
    }
  }
  void pad(uint64_t align) {
    static const uint8_t zeros[4096] = {};
    for (uint64_t n = (align - pos_ % align) % align; n;) {
      uint64_t k = std::min<uint64_t>(n, sizeof zeros);
      write(zeros, k);
      n -= k;
    }
  }
  uint64_t pos() const { return pos_; }
  // Writes what is pending; returns the chunk table (empty when raw).
  PackInfo finish() {
    if (opt_.zstd)
      flush();
    info_.zstd = opt_.zstd;
    info_.level = opt_.level;
    info_.raw_bytes = pos_;
    info_.chunk_bytes = opt_.chunk_bytes;
    info_.hashes = hasher_.finish();
    return info_;
  }

private:
  size_t batch() const { return 2 * std::max(1u, std::thread::hardware_concurrency()); }

  // Compresses the pending chunks on every core, then writes them in order.
  void flush() {
    std::vector<std::string> frames(pending_.size());
    std::atomic<size_t> next{0};
    std::atomic<bool> bad{false};
    auto work = [&] {
      ZSTD_CCtx *ctx = ZSTD_createCCtx();
      // No zstd checksum: the runtime checks each chunk's own hash.
      ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, opt_.level);
      for (size_t i; (i = next.fetch_add(1)) < pending_.size();) {
        const std::vector<uint8_t> &in = pending_[i];
        frames[i].resize(ZSTD_compressBound(in.size()));
        size_t n = ZSTD_compress2(ctx, frames[i].data(), frames[i].size(), in.data(), in.size());
        if (ZSTD_isError(n))
          bad = true;
        else
          frames[i].resize(n);
      }
      ZSTD_freeCCtx(ctx);
    };
    std::vector<std::thread> threads;
    for (unsigned t = 1; t < std::max(1u, std::thread::hardware_concurrency()); ++t)
      threads.emplace_back(work);
    work();
    for (auto &t : threads)
      t.join();
    if (bad)
      throw Error("zstd compression failed");
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (pending_[i].empty())
        continue;
      info_.chunks.push_back({pending_[i].size(), out_.pos() - start_, frames[i].size()});
      out_.write(frames[i].data(), frames[i].size());
    }
    pending_.assign(1, {});
  }

  Out &out_;
  PackOptions opt_;
  uint64_t start_, pos_ = 0;
  std::vector<std::vector<uint8_t>> pending_{1};
  ChunkHasher hasher_;
  PackInfo info_;
};

} // namespace

void checkRuntimeSupport(const ModelDesc &m) {
  try {
    Tokenizer t(m.tokenizer);
  } catch (const Error &e) {
    fail(m.source, e.what());
  }
  // The executable renders every conversation with the model's template: a
  // template that cannot render fails here, on the developer's machine, not
  // on the box. A user / assistant / user exchange is what every chat
  // template accepts.
  if (!m.tokenizer.chat_template.empty()) {
    try {
      renderChat(m.tokenizer, {{"user", "Hello."}, {"assistant", "Hi."}, {"user", "What is 2 + 2?"}}, true);
    } catch (const Error &e) {
      fail(m.source, "the model's chat template does not render a sample conversation: ", e.what());
    }
  }
  auto k = m.hp.rope_scaling.kind;
  if (k == RopeScaling::Kind::Yarn || k == RopeScaling::Kind::Dynamic)
    fail(m.source, "rope scaling '", ropeScalingName(k), "' is not supported by the runtime yet");
}

PackageStats writeExecutable(const ModelDesc &m, const std::string &runtimePath, const std::string &out,
                             const std::vector<CodeView> &codes, const PackOptions &pack) {
  MappedFile runtime(runtimePath);
  std::string tmp = out + ".tmp." + std::to_string(::getpid());
  std::snprintf(gTempPath, sizeof gTempPath, "%s", tmp.c_str());
  auto oldInt = std::signal(SIGINT, removeTemp);
  auto oldTerm = std::signal(SIGTERM, removeTemp);
  PackageStats st;
  try {
    Out o(tmp);
    o.write(runtime.bytes().data(), runtime.size());
    st.runtime_bytes = runtime.size();
    o.pad(kPayloadAlign);
    uint64_t dataOffset = o.pos();
    DataSink sink(o, pack);
    sink.zeros(uint64_t(pack.pad_gib) << 30);
    // The header describes what was written: repacked weights replace their
    // source (their views' bytes are gone by then; the header needs only
    // names, shapes and sizes). One weight is repacked at a time.
    PayloadHeader h;
    h.precision = pack.precision;
    std::vector<uint64_t> &offsets = h.offsets;
    ModelDesc &written = h.model;
    written.name = m.name;
    written.source = m.source;
    written.source_format = m.source_format;
    written.hp = m.hp;
    written.tokenizer = m.tokenizer;
    uint64_t total = 0, done = 0;
    for (const Weight &src : m.weights)
      total += src.storedBytes();
    for (const Weight &src : m.weights) {
      std::optional<PackedWeight> packed = repack(src);
      std::optional<PackedWeight> panels;
      if (pack.panels)
        panels = toPanels(packed ? packed->weight : src);
      const Weight &w = panels ? panels->weight : packed ? packed->weight : src;
      forEachViewOf(w, [&](const char *, const TensorView &t) {
        sink.pad(kTensorAlign);
        offsets.push_back(sink.pos());
        sink.write(t.data, t.bytes);
        st.weight_bytes += t.bytes;
      });
      written.weights.push_back(w);
      done += src.storedBytes();
      if (pack.progress)
        pack.progress(done, total);
    }
    for (const CodeView &code : codes) {
      sink.pad(kPayloadAlign);
      CodeView &c = h.codes.emplace_back(code);
      c.offset = sink.pos();
      sink.write(code.text, code.bytes);
      st.code_bytes += code.bytes;
    }
    h.pack = sink.finish();
    const PackInfo &packed = h.pack;
    st.data_bytes = packed.raw_bytes;
    st.stored_data_bytes = o.pos() - dataOffset;
    std::string header = writePayloadHeader(h);
    st.model_hash = modelHash(packed.hashes);
    PayloadTrailer tr{};
    tr.data_offset = dataOffset;
    tr.header_offset = o.pos();
    tr.header_size = header.size();
    tr.header_hash = hashBytes(header.data(), header.size());
    tr.version = kPayloadVersion;
    std::memcpy(tr.magic, kPayloadMagic, 8);
    o.write(header.data(), header.size());
    o.write(&tr, sizeof tr);
    st.header_bytes = header.size();
    st.file_bytes = o.pos();
    o.close();
    if (::chmod(tmp.c_str(), 0755) != 0 || ::rename(tmp.c_str(), out.c_str()) != 0)
      fail(out, "cannot move the result into place: ", std::strerror(errno));
  } catch (...) {
    ::unlink(tmp.c_str());
    gTempPath[0] = 0;
    std::signal(SIGINT, oldInt);
    std::signal(SIGTERM, oldTerm);
    throw;
  }
  gTempPath[0] = 0;
  std::signal(SIGINT, oldInt);
  std::signal(SIGTERM, oldTerm);
  return st;
}

} // namespace mcc
