#include "runtime/cli/ChatLoop.h"
#include "format/Error.h"
#include "runtime/chat/ChatTemplate.h"

#include <iostream>
#include <sstream>

namespace mcc {

int runChat(Session &s, const SamplerConfig &sc, int n) {
  Sampler sampler(sc);
  std::vector<ChatMessage> messages;
  std::string previous; // the rendered conversation already in the cache
  std::string line;
  while (true) {
    std::cout << "> " << std::flush;
    if (!std::getline(std::cin, line))
      break;
    if (line.empty())
      continue;
    messages.push_back({"user", line});
    std::string rendered = renderChat(s.m.tokenizer, messages, true);
    std::string delta = rendered.compare(0, previous.size(), previous) == 0 ? rendered.substr(previous.size()) : rendered;
    if (delta.size() == rendered.size() && !previous.empty())
      throw Error("the chat template re-renders earlier turns differently; cannot keep the cache");
    const float *logits = s.feed(s.tok.encode(delta));
    std::ostringstream reply;
    struct Tee : std::streambuf {
      std::streambuf *a, *b;
      int overflow(int c) override {
        a->sputc(char(c));
        b->sputc(char(c));
        return c;
      }
    } tee;
    tee.a = std::cout.rdbuf();
    tee.b = reply.rdbuf();
    std::ostream both(&tee);
    s.generate(logits, n, sampler, both);
    std::cout << "\n";
    messages.push_back({"assistant", reply.str()});
    // The reply's end-of-turn token is in the cache only if we fed it; the
    // template renders it, so feed what the template says came after.
    std::string withReply = renderChat(s.m.tokenizer, messages, false);
    std::string tail = withReply.substr(std::min(withReply.size(), rendered.size() + reply.str().size()));
    s.feed(s.tok.encode(tail));
    previous = withReply;
  }
  return 0;
}

} // namespace mcc
