// Test helper: drives the runtime's tokenizer and chat templates on an
// imported model, so Python can compare them with the reference libraries.
//   mcc-probe tokenize MODEL   stdin: hex-encoded byte strings, one per line
//                              stdout: space-separated ids, one line each
//   mcc-probe chat MODEL       stdin: {"messages": [...], "add_generation_prompt": b} per line
//                              stdout: the rendered text as a JSON string, one per line
#include "format/Error.h"
#include "compiler/import/Import.h"
#include "runtime/chat/ChatTemplate.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

static std::string unhex(const std::string &h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out += char(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: mcc-probe tokenize|chat MODEL\n");
    return 2;
  }
  try {
    std::string mode = argv[1];
    mcc::ModelDesc m = mcc::importModel(argv[2]);
    std::string line;
    if (mode == "tokenize") {
      mcc::Tokenizer tok(m.tokenizer);
      while (std::getline(std::cin, line)) {
        auto ids = tok.encode(unhex(line));
        for (size_t i = 0; i < ids.size(); ++i)
          std::cout << (i ? " " : "") << ids[i];
        std::cout << "\n";
      }
    } else if (mode == "chat") {
      while (std::getline(std::cin, line)) {
        auto j = nlohmann::json::parse(line);
        std::vector<mcc::ChatMessage> msgs;
        for (auto &x : j["messages"])
          msgs.push_back({x["role"], x["content"]});
        // A test may bring its own template and special tokens.
        mcc::TokenizerDesc t = m.tokenizer;
        if (j.contains("template")) {
          t.chat_template = j["template"];
          t.tokens = {"<s>", "</s>"};
          t.bos = 0;
          t.eos = 1;
        }
        try {
          std::cout << nlohmann::json(mcc::renderChat(t, msgs, j["add_generation_prompt"])).dump() << "\n";
        } catch (const mcc::Error &e) {
          std::cout << nlohmann::json({{"error", e.what()}}).dump() << "\n";
        }
      }
    } else {
      std::fprintf(stderr, "mcc-probe: unknown mode '%s'\n", argv[1]);
      return 2;
    }
  } catch (const mcc::Error &e) {
    std::fprintf(stderr, "mcc-probe: error: %s\n", e.what());
    return 1;
  } catch (const nlohmann::json::exception &e) {
    // A line that is not the object the usage above describes.
    std::fprintf(stderr, "mcc-probe: error: stdin: %s\n", e.what());
    return 1;
  }
  return 0;
}
