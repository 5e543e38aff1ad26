#include "runtime/Payload.h"
#include "compiler/import/Error.h"

#include "compiler/import/Half.h"
#include "runtime/Integrity.h"

#include <cstring>
#include <nlohmann/json.hpp>

using json = nlohmann::json;

namespace mcc {

namespace {

json viewJson(const TensorView &t, uint64_t offset) {
  return {{"name", t.name}, {"dtype", dtypeName(t.dtype)}, {"shape", t.shape}, {"offset", offset}, {"bytes", t.bytes}};
}

DType dtypeFromName(const std::string &s, const std::string &path) {
  for (DType d : {DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::I16, DType::I8, DType::U8})
    if (s == dtypeName(d))
      return d;
  fail(path, "payload header: unknown dtype '", s, "'");
}

WeightFormat formatFromName(const std::string &s, const std::string &path) {
  for (int i = 0; i <= kLastWeightFormat; ++i)
    if (s == formatName(WeightFormat(i)))
      return WeightFormat(i);
  fail(path, "payload header: unknown weight format '", s, "'");
}

// Names what is stored in [from, to) of the weight data, for messages.
std::string whatLiesIn(const json &j, uint64_t from, uint64_t to) {
  auto overlaps = [&](const json &v) {
    uint64_t off = v.at("offset"), bytes = v.at("bytes");
    return off < to && off + bytes > from;
  };
  std::vector<std::string> names;
  for (const json &e : j.at("weights"))
    for (const char *part : {"data", "scales", "zeros", "g_idx", "perm"})
      if (e.contains(part) && overlaps(e[part])) {
        names.push_back("'" + e.at("name").get<std::string>() + "'");
        break;
      }
  if (j.contains("code") && overlaps(j["code"]))
    names.push_back("the generated code");
  if (names.empty())
    return "padding";
  std::string s = names.size() == 1 ? "holds " : "holds parts of ";
  for (size_t i = 0; i < names.size() && i < 3; ++i)
    s += (i ? ", " : "") + names[i];
  if (names.size() > 3)
    s += cat(" and ", names.size() - 3, " more");
  return s;
}

} // namespace

std::string payloadHeader(const ModelDesc &m, const std::vector<uint64_t> &offsets, const PackInfo &pack,
                          const CodeView *code, uint64_t codeOffset) {
  const HyperParams &hp = m.hp;
  size_t k = 0;
  json weights = json::array();
  for (const Weight &w : m.weights) {
    json e = {{"name", w.name},
              {"shape", w.shape},
              {"format", formatName(w.quant.format)},
              {"bits", w.quant.bits},
              {"group_size", w.quant.group_size},
              {"sym", w.quant.sym},
              {"zero_offset", w.quant.zero_offset},
              {"act_order", w.quant.act_order},
              {"data", viewJson(w.data, offsets[k++])}};
    if (w.scales)
      e["scales"] = viewJson(*w.scales, offsets[k++]);
    if (w.zeros)
      e["zeros"] = viewJson(*w.zeros, offsets[k++]);
    if (w.g_idx)
      e["g_idx"] = viewJson(*w.g_idx, offsets[k++]);
    if (w.perm)
      e["perm"] = viewJson(*w.perm, offsets[k++]);
    weights.push_back(std::move(e));
  }
  const TokenizerDesc &t = m.tokenizer;
  json j = {
      {"name", m.name},
      {"source", m.source},
      {"source_format", m.source_format},
      {"hp",
       {{"arch", archName(hp.arch)},
        {"hf_class", hp.hf_class},
        {"n_layers", hp.n_layers},
        {"hidden", hp.hidden},
        {"intermediate", hp.intermediate},
        {"n_heads", hp.n_heads},
        {"n_kv_heads", hp.n_kv_heads},
        {"head_dim", hp.head_dim},
        {"vocab", hp.vocab},
        {"context", hp.context},
        {"rms_eps", hp.rms_eps},
        {"rope_theta", hp.rope_theta},
        {"rope_dim", hp.rope_dim},
        {"rope_interleaved", hp.rope_style == RopeStyle::Interleaved},
        {"rope_scaling",
         {{"kind", ropeScalingName(hp.rope_scaling.kind)},
          {"factor", hp.rope_scaling.factor},
          {"original_context", hp.rope_scaling.original_context},
          {"low_freq_factor", hp.rope_scaling.low_freq_factor},
          {"high_freq_factor", hp.rope_scaling.high_freq_factor}}},
        {"tie_embeddings", hp.tie_embeddings},
        {"qkv_bias", hp.qkv_bias},
        {"qk_norm", hp.qk_norm},
        {"sliding_window", hp.sliding_window}}},
      {"tokenizer",
       {{"kind", t.kind == TokenizerDesc::Kind::ByteLevelBPE ? "bytelevel" : "sentencepiece"},
        {"pre", t.pre},
        {"pre_regexes", t.pre_regexes},
        {"tokens", t.tokens},
        {"scores", t.scores},
        {"types", t.types},
        {"merges", t.merges},
        {"bos", t.bos},
        {"eos", t.eos},
        {"unk", t.unk},
        {"pad", t.pad},
        {"stop_ids", t.stop_ids},
        {"add_bos", t.add_bos},
        {"add_space_prefix", t.add_space_prefix},
        {"chat_template", t.chat_template}}},
      {"weights", weights},
  };
  if (pack.zstd) {
    json chunks = json::array();
    for (const PackedChunk &c : pack.chunks)
      chunks.push_back({c.raw_bytes, c.offset, c.packed_bytes});
    // The unpacked size is integrity.data_bytes.
    j["pack"] = {{"mode", "zstd"}, {"level", pack.level}, {"chunks", chunks}};
  }
  j["integrity"] = {{"model_hash", modelHash(pack.hashes)},
                    {"data_bytes", pack.raw_bytes},
                    {"chunk_bytes", pack.chunk_bytes},
                    {"hashes", pack.hashes}};
  if (code)
    j["code"] = {{"target", code->target},         {"triple", code->triple},
                 {"offset", codeOffset},           {"bytes", code->bytes},
                 {"entries", code->entries},       {"workspace_floats", code->workspace_floats}};
  // Tokens may hold invalid UTF-8 (byte pieces); keep them byte-exact.
  return j.dump(-1, ' ', false, json::error_handler_t::strict);
}

ModelDesc modelFromPayload(const uint8_t *file, uint64_t fileSize, const std::string &path, CodeView *code,
                           OwnedBytes *unpacked, const PayloadOptions &opt, std::string *modelHashOut) {
  // The last 16 bytes (version, reserved, magic) mean the same in every
  // version.
  if (fileSize < 16)
    fail(path, "no model payload: file too small");
  uint32_t version;
  std::memcpy(&version, file + fileSize - 16, 4);
  if (std::memcmp(file + fileSize - 8, kPayloadMagic, 8) != 0)
    fail(path, "no model payload at the end of the file: truncated, or not made by `mcc compile`");
  if (version != kPayloadVersion)
    fail(path, "payload version ", version, " (this runtime reads ", kPayloadVersion, "): compile the model again");
  PayloadTrailer tr;
  if (fileSize < sizeof tr)
    fail(path, "no model payload: file too small");
  std::memcpy(&tr, file + fileSize - sizeof tr, sizeof tr);
  uint64_t end = fileSize - sizeof tr;
  if (tr.header_offset > end || tr.header_size > end - tr.header_offset || tr.data_offset > tr.header_offset)
    fail(path, "payload trailer points outside the file: truncated or corrupted");
  if (hashBytes(file + tr.header_offset, tr.header_size) != tr.header_hash)
    fail(path, "payload header is corrupted (its checksum does not match)");
  json j;
  try {
    j = json::parse(file + tr.header_offset, file + tr.header_offset + tr.header_size);
    ModelDesc m;
    m.name = j.at("name").get<std::string>();
    m.source = j.at("source").get<std::string>();
    m.source_format = j.at("source_format").get<std::string>();
    const json &h = j.at("hp");
    HyperParams &hp = m.hp;
    std::string arch = h.at("arch").get<std::string>();
    for (Arch a : {Arch::Llama, Arch::Qwen2, Arch::Qwen3, Arch::Mistral})
      if (arch == archName(a))
        hp.arch = a;
    hp.hf_class = h.at("hf_class").get<std::string>();
    hp.n_layers = h.at("n_layers");
    hp.hidden = h.at("hidden");
    hp.intermediate = h.at("intermediate");
    hp.n_heads = h.at("n_heads");
    hp.n_kv_heads = h.at("n_kv_heads");
    hp.head_dim = h.at("head_dim");
    hp.vocab = h.at("vocab");
    hp.context = h.at("context");
    hp.rms_eps = h.at("rms_eps");
    hp.rope_theta = h.at("rope_theta");
    hp.rope_dim = h.at("rope_dim");
    hp.rope_style = h.at("rope_interleaved").get<bool>() ? RopeStyle::Interleaved : RopeStyle::Neox;
    const json &rs = h.at("rope_scaling");
    std::string kind = rs.at("kind").get<std::string>();
    for (auto k : {RopeScaling::Kind::None, RopeScaling::Kind::Linear, RopeScaling::Kind::Dynamic,
                   RopeScaling::Kind::Yarn, RopeScaling::Kind::Llama3})
      if (kind == ropeScalingName(k))
        hp.rope_scaling.kind = k;
    hp.rope_scaling.factor = rs.at("factor");
    hp.rope_scaling.original_context = rs.at("original_context");
    hp.rope_scaling.low_freq_factor = rs.at("low_freq_factor");
    hp.rope_scaling.high_freq_factor = rs.at("high_freq_factor");
    hp.tie_embeddings = h.at("tie_embeddings");
    hp.qkv_bias = h.at("qkv_bias");
    hp.qk_norm = h.at("qk_norm");
    hp.sliding_window = h.at("sliding_window");

    const json &t = j.at("tokenizer");
    TokenizerDesc &tk = m.tokenizer;
    tk.kind = t.at("kind") == "bytelevel" ? TokenizerDesc::Kind::ByteLevelBPE : TokenizerDesc::Kind::SentencePieceBPE;
    tk.pre = t.at("pre");
    tk.pre_regexes = t.at("pre_regexes").get<std::vector<std::string>>();
    tk.tokens = t.at("tokens").get<std::vector<std::string>>();
    tk.scores = t.at("scores").get<std::vector<float>>();
    tk.types = t.at("types").get<std::vector<int32_t>>();
    tk.merges = t.at("merges").get<std::vector<std::string>>();
    tk.bos = t.at("bos");
    tk.eos = t.at("eos");
    tk.unk = t.at("unk");
    tk.pad = t.at("pad");
    tk.stop_ids = t.at("stop_ids").get<std::vector<int32_t>>();
    tk.add_bos = t.at("add_bos");
    tk.add_space_prefix = t.at("add_space_prefix");
    tk.chat_template = t.at("chat_template");

    const uint8_t *data = file + tr.data_offset;
    uint64_t dataSize = tr.header_offset - tr.data_offset;
    const json &integ = j.at("integrity");
    uint64_t chunkBytes = integ.at("chunk_bytes"), expectBytes = integ.at("data_bytes");
    std::vector<uint64_t> hashes = integ.at("hashes").get<std::vector<uint64_t>>();
    if (chunkBytes < 4096 || chunkBytes > (uint64_t(1) << 32) ||
        hashes.size() != (expectBytes + chunkBytes - 1) / chunkBytes)
      fail(path, "payload: the chunk hash table does not fit the weight data: corrupted");
    if (modelHashOut)
      *modelHashOut = integ.at("model_hash");
    int64_t badChunk = -1;
    if (j.contains("pack")) {
      const json &p = j["pack"];
      if (p.at("mode") != "zstd")
        fail(path, "payload: unknown packing '", p.at("mode").get<std::string>(), "'");
      std::vector<PackedChunk> chunks;
      for (const json &c : p.at("chunks"))
        chunks.push_back({c.at(0), c.at(1), c.at(2)});
      *unpacked = unpackZstd(data, dataSize, expectBytes, chunks, {chunkBytes, hashes}, opt.threads, path, &badChunk);
      data = unpacked->data();
      dataSize = unpacked->size();
    } else {
      // Raw: the data is the file itself, and a short file is a truncated one.
      if (dataSize != expectBytes)
        fail(path, "payload: ", dataSize, " bytes of weight data where the header says ", expectBytes,
             ": truncated or corrupted");
      if (opt.verify)
        badChunk = firstBadChunk(data, dataSize, chunkBytes, hashes, opt.threads);
    }
    if (badChunk >= 0) {
      uint64_t from = uint64_t(badChunk) * chunkBytes, to = std::min(expectBytes, from + chunkBytes);
      fail(path, "weight data chunk ", badChunk, " (bytes ", from, "..", to, ", ", whatLiesIn(j, from, to),
           ") is corrupted: its checksum does not match");
    }
    auto view = [&](const json &v) {
      TensorView tv;
      tv.name = v.at("name");
      tv.file = path;
      tv.dtype = dtypeFromName(v.at("dtype"), path);
      tv.shape = v.at("shape").get<std::vector<int64_t>>();
      uint64_t off = v.at("offset"), bytes = v.at("bytes");
      if (off > dataSize || bytes > dataSize - off)
        fail(path, "payload: tensor '", tv.name, "' lies outside the weight data: truncated or corrupted");
      tv.data = data + off;
      tv.bytes = bytes;
      return tv;
    };
    if (code && j.contains("code")) {
      const json &c = j["code"];
      uint64_t off = c.at("offset"), bytes = c.at("bytes");
      if (off > dataSize || bytes > dataSize - off)
        fail(path, "payload: the generated code lies outside the data: truncated or corrupted");
      code->target = c.at("target");
      code->triple = c.at("triple");
      code->text = data + off;
      code->bytes = bytes;
      code->entries = c.at("entries").get<std::map<std::string, uint64_t>>();
      code->workspace_floats = c.at("workspace_floats");
      if (code->workspace_floats < 0 || code->workspace_floats > (int64_t(1) << 34))
        fail(path, "payload: absurd workspace size for the generated code");
    }
    for (const json &e : j.at("weights")) {
      Weight w;
      w.name = e.at("name");
      w.shape = e.at("shape").get<std::vector<int64_t>>();
      w.quant.format = formatFromName(e.at("format"), path);
      w.quant.bits = e.at("bits");
      w.quant.group_size = e.at("group_size");
      w.quant.sym = e.at("sym");
      w.quant.zero_offset = e.at("zero_offset");
      w.quant.act_order = e.at("act_order");
      w.data = view(e.at("data"));
      if (e.contains("scales"))
        w.scales = view(e["scales"]);
      if (e.contains("zeros"))
        w.zeros = view(e["zeros"]);
      if (e.contains("g_idx"))
        w.g_idx = view(e["g_idx"]);
      if (e.contains("perm")) {
        w.perm = view(e["perm"]);
        if (w.perm->bytes != uint64_t(w.cols()) * 4)
          fail(path, "payload: tensor '", w.perm->name, "' does not hold one int32 per column");
        for (int64_t c = 0; c < w.cols(); ++c)
          if (loadU32(w.perm->data + 4 * c) >= uint64_t(w.cols()))
            fail(path, "payload: tensor '", w.perm->name, "' names a column past the last: corrupted");
      }
      if (w.scales)
        w.quant.scale_dtype = w.scales->dtype;
      m.weights.push_back(std::move(w));
    }
    return m;
  } catch (const json::exception &e) {
    fail(path, "payload header is corrupted: ", e.what());
  }
}

} // namespace mcc
