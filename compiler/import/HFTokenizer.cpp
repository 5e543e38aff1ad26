#include "compiler/import/HFTokenizer.h"
#include "format/Error.h"
#include "format/MappedFile.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mcc {

namespace {

constexpr int64_t kMaxVocab = 1 << 22;

json parseFile(const std::string &path) {
  MappedFile f(path);
  auto b = f.bytes();
  try {
    json j = json::parse(b.begin(), b.end());
    if (!j.is_object())
      fail(path, "not a JSON object");
    return j;
  } catch (const json::exception &e) {
    fail(path, "not valid JSON: ", e.what());
  }
}

// Does any node of the pre-tokenizer/decoder tree have this "type"?
bool hasType(const json &j, const char *type) {
  if (j.is_object()) {
    auto t = j.find("type");
    if (t != j.end() && t->is_string() && *t == type)
      return true;
    for (auto &[k, v] : j.items())
      if (hasType(v, type))
        return true;
  } else if (j.is_array()) {
    for (auto &v : j)
      if (hasType(v, type))
        return true;
  }
  return false;
}

void collectRegexes(const json &j, std::vector<std::string> &out) {
  if (j.is_array()) {
    for (auto &v : j)
      collectRegexes(v, out);
    return;
  }
  if (!j.is_object())
    return;
  std::string type = j.value("type", "");
  if (type == "Sequence" && j.contains("pretokenizers"))
    collectRegexes(j["pretokenizers"], out);
  else if (type == "Split" && j.contains("pattern") && j["pattern"].is_object()) {
    auto &p = j["pattern"];
    if (p.contains("Regex") && p["Regex"].is_string())
      out.push_back(p["Regex"].get<std::string>());
    else if (p.contains("String") && p["String"].is_string())
      out.push_back(p["String"].get<std::string>());
  } else if (type == "ByteLevel" && j.value("use_regex", true))
    out.push_back("<gpt2>"); // ByteLevel's built-in GPT-2 pattern
  else if (type == "Digits")
    out.push_back(j.value("individual_digits", false) ? "<digits-individual>" : "<digits>");
}

// "bos_token": "<s>" or {"content": "<s>", ...}
std::string tokenText(const json &j, const char *key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return {};
  if (it->is_string())
    return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  return {};
}

int32_t idOf(const TokenizerDesc &t, const std::string &text) {
  if (text.empty())
    return -1;
  auto it = std::find(t.tokens.begin(), t.tokens.end(), text);
  return it == t.tokens.end() ? -1 : int32_t(it - t.tokens.begin());
}

void addStop(TokenizerDesc &t, int32_t id) {
  if (id >= 0 && id < int32_t(t.tokens.size()) &&
      std::find(t.stop_ids.begin(), t.stop_ids.end(), id) == t.stop_ids.end())
    t.stop_ids.push_back(id);
}

} // namespace

TokenizerDesc parseTokenizerJson(std::string_view text, const std::string &path) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception &e) {
    fail(path, "not valid JSON: ", e.what());
  }
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    fail(path, "field 'model' is missing or not an object");
  const json &m = j["model"];
  std::string type = m.value("type", "BPE");
  if (!m.contains("type") && !m.contains("merges"))
    type = "?";
  if (type != "BPE")
    fail(path, "field 'model.type' = '", type, "': only BPE tokenizers are supported");
  if (!m.contains("vocab") || !m["vocab"].is_object())
    fail(path, "field 'model.vocab' is missing or not an object");

  TokenizerDesc t;
  std::vector<std::pair<int64_t, std::string>> entries;
  for (auto &[tok, id] : m["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= kMaxVocab)
      fail(path, "field 'model.vocab' gives token '", tok, "' an invalid id");
    entries.push_back({id.get<int64_t>(), tok});
  }
  std::vector<std::pair<int64_t, bool>> added; // id, special
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    if (!j["added_tokens"].is_array())
      fail(path, "field 'added_tokens' is not an array");
    for (auto &a : j["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
          !a["content"].is_string())
        fail(path, "field 'added_tokens' has an entry without an integer id and string content");
      int64_t id = a["id"].get<int64_t>();
      if (id < 0 || id >= kMaxVocab)
        fail(path, "field 'added_tokens' has id ", id, " out of range");
      entries.push_back({id, a["content"].get<std::string>()});
      added.push_back({id, a.value("special", false)});
    }
  }
  int64_t n = 0;
  for (auto &e : entries)
    n = std::max(n, e.first + 1);
  t.tokens.assign(size_t(n), {});
  std::vector<bool> seen(static_cast<size_t>(n), false);
  for (auto &[id, tok] : entries) {
    if (seen[size_t(id)] && t.tokens[size_t(id)] != tok)
      fail(path, "token id ", id, " is given to both '", t.tokens[size_t(id)], "' and '", tok, "'");
    seen[size_t(id)] = true;
    t.tokens[size_t(id)] = tok;
  }
  for (int64_t i = 0; i < n; ++i)
    if (!seen[size_t(i)])
      fail(path, "token id ", i, " has no token (ids must be dense)");

  t.types.assign(size_t(n), 1);
  for (auto &[id, special] : added)
    t.types[size_t(id)] = special ? 3 : 4;

  bool byteFallback = m.value("byte_fallback", false);
  const json pre = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : json();
  const json dec = j.contains("decoder") ? j["decoder"] : json();
  if (byteFallback || hasType(dec, "ByteFallback") || hasType(pre, "Metaspace") || hasType(dec, "Metaspace")) {
    t.kind = TokenizerDesc::Kind::SentencePieceBPE;
    for (int64_t i = 0; i < n; ++i) {
      const std::string &s = t.tokens[size_t(i)];
      if (s.size() == 6 && s.rfind("<0x", 0) == 0 && s[5] == '>')
        t.types[size_t(i)] = 6;
    }
    const json norm = j.contains("normalizer") ? j["normalizer"] : json();
    t.add_space_prefix = hasType(norm, "Prepend") || hasType(pre, "Metaspace");
  } else if (hasType(pre, "ByteLevel") || hasType(dec, "ByteLevel")) {
    t.kind = TokenizerDesc::Kind::ByteLevelBPE;
  } else {
    fail(path, "tokenizer has neither a ByteLevel pre-tokenizer nor byte fallback: not a supported BPE");
  }
  collectRegexes(pre, t.pre_regexes);
  t.pre = t.kind == TokenizerDesc::Kind::ByteLevelBPE ? "hf-regex" : "sentencepiece";
  // Metaspace with prepend_scheme "first" adds "▁" only at the start of the
  // text, not after each special token.
  if (pre.is_object() && pre.value("type", "") == "Metaspace" && pre.value("prepend_scheme", "always") == "first")
    t.pre = "sentencepiece-first";

  if (m.contains("merges") && !m["merges"].is_null()) {
    if (!m["merges"].is_array())
      fail(path, "field 'model.merges' is not an array");
    t.merges.reserve(m["merges"].size());
    for (auto &mg : m["merges"]) {
      // Older files write "a b", newer ones ["a", "b"].
      if (mg.is_string())
        t.merges.push_back(mg.get<std::string>());
      else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string())
        t.merges.push_back(mg[0].get<std::string>() + " " + mg[1].get<std::string>());
      else
        fail(path, "field 'model.merges' has an entry that is not a pair of strings");
    }
  }
  if (m.contains("unk_token") && m["unk_token"].is_string()) {
    t.unk = idOf(t, m["unk_token"].get<std::string>());
    if (t.unk >= 0)
      t.types[size_t(t.unk)] = 2;
  }
  // A post-processor that puts a special token before every single sequence adds BOS.
  if (j.contains("post_processor") && j["post_processor"].is_object()) {
    const json &pp = j["post_processor"];
    const json *single = nullptr;
    if (pp.contains("single"))
      single = &pp["single"];
    else if (pp.contains("processors") && pp["processors"].is_array())
      for (auto &p : pp["processors"])
        if (p.is_object() && p.contains("single"))
          single = &p["single"];
    if (single && single->is_array() && !single->empty() && (*single)[0].is_object() &&
        (*single)[0].contains("SpecialToken"))
      t.add_bos = true;
  }
  return t;
}

TokenizerDesc loadHFTokenizer(const std::string &dir, const HFConfig &config) {
  fs::path d(dir);
  std::string tjPath = (d / "tokenizer.json").string();
  if (!fs::exists(tjPath))
    fail(tjPath, "missing: mcc needs tokenizer.json beside the checkpoint");
  MappedFile tj(tjPath);
  auto b = tj.bytes();
  TokenizerDesc t = parseTokenizerJson(std::string_view(reinterpret_cast<const char *>(b.data()), b.size()), tjPath);

  std::string bosText, eosText;
  std::string tcPath = (d / "tokenizer_config.json").string();
  if (fs::exists(tcPath)) {
    json tc = parseFile(tcPath);
    bosText = tokenText(tc, "bos_token");
    eosText = tokenText(tc, "eos_token");
    if (tc.contains("add_bos_token") && tc["add_bos_token"].is_boolean())
      t.add_bos = tc["add_bos_token"].get<bool>();
    if (tc.contains("chat_template")) {
      const json &ct = tc["chat_template"];
      if (ct.is_string())
        t.chat_template = ct.get<std::string>();
      else if (ct.is_array()) // named templates: use "default"
        for (auto &e : ct)
          if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
            t.chat_template = e["template"].get<std::string>();
    }
  }
  std::string jinja = (d / "chat_template.jinja").string();
  if (t.chat_template.empty() && fs::exists(jinja)) {
    MappedFile f(jinja);
    t.chat_template.assign(reinterpret_cast<const char *>(f.bytes().data()), f.size());
  }
  t.bos = idOf(t, bosText);
  t.eos = idOf(t, eosText);
  auto checkId = [&](int32_t id, const char *what) {
    if (id >= int32_t(t.tokens.size()))
      fail((d / "config.json").string(), "field '", what, "' = ", id, " is not a token of tokenizer.json (",
           t.tokens.size(), " tokens)");
    return id;
  };
  if (t.bos < 0 && config.bos >= 0)
    t.bos = checkId(config.bos, "bos_token_id");
  for (int32_t e : config.eos)
    checkId(e, "eos_token_id");
  if (t.eos < 0 && !config.eos.empty())
    t.eos = config.eos[0];
  addStop(t, t.eos);
  for (int32_t e : config.eos)
    addStop(t, e);
  std::string gcPath = (d / "generation_config.json").string();
  if (fs::exists(gcPath)) {
    json gc = parseFile(gcPath);
    auto it = gc.find("eos_token_id");
    if (it != gc.end()) {
      std::vector<json> ids = it->is_array() ? it->get<std::vector<json>>() : std::vector<json>{*it};
      for (auto &x : ids)
        if (x.is_number_integer())
          addStop(t, int32_t(x.get<int64_t>()));
    }
  }
  return t;
}

} // namespace mcc
