#include "runtime/cli/TestHooks.h"
#include "format/Error.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

namespace mcc {

int runTokens(Session &s, const RunOptions &o) {
  const ModelDesc &m = s.m;
  std::vector<int32_t> ids;
  std::istringstream in(o.tokens);
  for (int64_t v; in >> v;) {
    if (v < 0 || v >= m.hp.vocab)
      throw Error(cat("--tokens: ", v, " is not a token id"));
    ids.push_back(int32_t(v));
  }
  if (!o.dumpLogits.empty()) {
    std::ofstream out(o.dumpLogits, std::ios::binary);
    if (o.oneAtATime && (o.rows > 1 || o.admit > 0)) {
      // Each token a step of `rows` sequences, as the server batches its
      // requests' next tokens: the runtime's pass over one row per slot.
      // With `admit`, the step also feeds that many prompt tokens of one
      // more sequence (the text's first ones, at positions 0.. again every
      // step), as a server's step that admits a request.
      if (ids.empty())
        throw Error("--tokens: no token ids");
      if (o.rows + o.admit > Forward::kMaxBatch)
        throw Error(cat("--rows ", o.rows, " and --admit ", o.admit, ": more than ", Forward::kMaxBatch,
                        " rows a step"));
      if (o.admit > s.fwd.context())
        throw Error(cat("--admit ", o.admit, ": more than the context of ", s.fwd.context(), " tokens"));
      Forward fwd(m, s.fwd.context(), s.pool, o.rows + (o.admit > 0));
      if (o.exact)
        fwd.setPrecision(kernels::Precision::Exact);
      fwd.setKvType(o.kv);
      const size_t n = size_t(o.rows + o.admit);
      std::vector<int> slot(n), pos(n);
      // Every generating row's logits, as the server wants them (a
      // product's row count picks its kernels: one row's would take the
      // vocabulary projection through the decode kernels), and the prompt's
      // last; row 0's are written.
      std::vector<uint8_t> want(n, 0);
      for (int r = 0; r < o.rows; ++r)
        slot[size_t(r)] = r, want[size_t(r)] = 1;
      for (int k = 0; k < o.admit; ++k)
        slot[size_t(o.rows + k)] = o.rows, pos[size_t(o.rows + k)] = k;
      if (o.admit > 0)
        want[n - 1] = 1;
      std::vector<int32_t> step(n);
      for (int k = 0; k < o.admit; ++k)
        step[size_t(o.rows + k)] = ids[size_t(k) % ids.size()];
      for (size_t p = 0; p < ids.size(); ++p) {
        std::fill_n(step.begin(), o.rows, ids[p]);
        std::fill_n(pos.begin(), o.rows, int(p));
        out.write(reinterpret_cast<const char *>(
                      fwd.forwardRows(step.data(), slot.data(), pos.data(), want.data(), int(n))),
                  std::streamsize(size_t(m.hp.vocab) * sizeof(float)));
      }
    } else if (o.oneAtATime) {
      // Each token a step of its own: the decode kernels, as generation runs.
      for (int32_t id : ids)
        out.write(reinterpret_cast<const char *>(s.feed({id})), std::streamsize(size_t(m.hp.vocab) * sizeof(float)));
    } else {
      out.write(reinterpret_cast<const char *>(s.feed(ids, true)),
                std::streamsize(ids.size() * size_t(m.hp.vocab) * sizeof(float)));
    }
    if (!out)
      throw Error(cat(o.dumpLogits, ": cannot write the logits"));
    return 0;
  }
  Sampler sampler(o.sampler);
  const float *logits = s.feed(ids);
  std::vector<float> buf(size_t(m.hp.vocab));
  for (int i = 0; i < o.n && int(s.history.size()) < s.fwd.context(); ++i) {
    std::copy(logits, logits + m.hp.vocab, buf.begin());
    int32_t id = sampler.sample(buf.data(), int32_t(m.hp.vocab), s.history);
    std::cout << (i ? " " : "") << id;
    logits = s.feed({id});
  }
  std::cout << "\n";
  return 0;
}

} // namespace mcc
