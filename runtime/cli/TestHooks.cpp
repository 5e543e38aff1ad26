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
    if (o.oneAtATime && o.rows > 1) {
      // Each token a step of `rows` sequences, as the server batches its
      // requests' next tokens: the runtime's pass over one row per slot.
      Forward fwd(m, s.fwd.context(), s.pool, o.rows);
      if (o.exact)
        fwd.setPrecision(kernels::Precision::Exact);
      std::vector<int> slot(size_t(o.rows)), pos(slot.size());
      // Every row's logits, as the server wants them (a product's row
      // count picks its kernels: one row's would take the vocabulary
      // projection through the decode kernels); row 0's are written.
      std::vector<uint8_t> want(slot.size(), 1);
      for (int r = 0; r < o.rows; ++r)
        slot[size_t(r)] = r;
      for (size_t p = 0; p < ids.size(); ++p) {
        std::vector<int32_t> step(slot.size(), ids[p]);
        std::fill(pos.begin(), pos.end(), int(p));
        out.write(reinterpret_cast<const char *>(fwd.forwardRows(step.data(), slot.data(), pos.data(), want.data(),
                                                                 o.rows)),
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
