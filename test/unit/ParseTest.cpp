// Parsers on in-memory images: what they accept and the field they blame.
#include "format/Error.h"
#include "compiler/import/Gguf.h"
#include "compiler/import/HFConfig.h"
#include "compiler/import/Safetensors.h"

#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <vector>

using namespace mcc;

static std::vector<uint8_t> st(const std::string &header, size_t dataBytes) {
  std::vector<uint8_t> b(8 + header.size() + dataBytes);
  uint64_t n = header.size();
  std::memcpy(b.data(), &n, 8);
  std::memcpy(b.data() + 8, header.data(), header.size());
  return b;
}

static std::string errorOf(auto &&f) {
  try {
    f();
  } catch (const Error &e) {
    return e.what();
  }
  return "no error";
}

TEST(Safetensors, ParsesTensorsAndMetadata) {
  auto b = st(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},)"
              R"("b":{"dtype":"I32","shape":[],"data_offsets":[12,16]}})", 16);
  SafetensorsFile f = parseSafetensors(b, "m.safetensors");
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors["a"].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.tensors["a"].data, b.data() + b.size() - 16);
  EXPECT_EQ(f.tensors["b"].bytes, 4u);
  EXPECT_EQ(f.metadata["format"], "pt");
}

TEST(Safetensors, RejectsNegativeAndFloatShapes) {
  auto neg = st(R"({"a":{"dtype":"F16","shape":[-1],"data_offsets":[0,2]}})", 2);
  EXPECT_NE(errorOf([&] { parseSafetensors(neg, "x"); }).find("shape dimension is not a non-negative integer"),
            std::string::npos);
  auto flt = st(R"({"a":{"dtype":"F16","shape":[1.5],"data_offsets":[0,2]}})", 2);
  EXPECT_NE(errorOf([&] { parseSafetensors(flt, "x"); }).find("x: tensor 'a'"), std::string::npos);
}

TEST(Safetensors, RejectsReversedOffsets) {
  auto b = st(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", 4);
  EXPECT_NE(errorOf([&] { parseSafetensors(b, "x"); }).find("are reversed"), std::string::npos);
}

TEST(Safetensors, EmptyTensorsMayShareAnOffset) {
  auto b = st(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 2);
  EXPECT_EQ(parseSafetensors(b, "x").tensors.size(), 2u);
}

TEST(HFConfig, DefaultsAndDerivedFields) {
  HFConfig c = parseHFConfig(R"({"architectures":["MistralForCausalLM"],"hidden_size":4096,
    "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,
    "vocab_size":32000,"sliding_window":null,"eos_token_id":[2, 32000]})", "config.json");
  EXPECT_EQ(c.hp.arch, Arch::Mistral);
  EXPECT_EQ(c.hp.head_dim, 128);
  EXPECT_EQ(c.hp.sliding_window, 0);
  EXPECT_FLOAT_EQ(c.hp.rope_theta, 10000.0f);
  EXPECT_EQ(c.eos, (std::vector<int32_t>{2, 32000}));
  EXPECT_FALSE(c.hp.tie_embeddings);
}

TEST(HFConfig, Qwen2SlidingWindowOnlyWhenEnabled) {
  std::string base = R"({"architectures":["Qwen2ForCausalLM"],"hidden_size":64,"intermediate_size":128,
    "num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10,"sliding_window":32,"use_sliding_window":)";
  EXPECT_EQ(parseHFConfig(base + "false}", "c").hp.sliding_window, 0);
  EXPECT_EQ(parseHFConfig(base + "true}", "c").hp.sliding_window, 32);
  EXPECT_TRUE(parseHFConfig(base + "false}", "c").hp.qkv_bias);
}

TEST(HFConfig, QuantizationConfigs) {
  QuantConfig g = parseQuantConfig(R"({"bits":4,"group_size":128,"desc_act":true,"sym":false,
    "checkpoint_format":"gptq_v2"})", "quantize_config.json");
  EXPECT_EQ(g.method, QuantConfig::Method::GPTQ);
  EXPECT_FALSE(g.v1_zeros);
  EXPECT_TRUE(g.desc_act);
  QuantConfig a = parseQuantConfig(R"({"zero_point":true,"q_group_size":64,"w_bit":4,"version":"GEMM"})", "q");
  EXPECT_EQ(a.method, QuantConfig::Method::AWQ);
  EXPECT_EQ(a.group_size, 64);
  EXPECT_NE(errorOf([] { parseQuantConfig(R"({"quant_method":"awq","bits":4,"group_size":128,"version":"gemv"})", "q"); })
                .find("only the AWQ GEMM packing"),
            std::string::npos);
}

TEST(HFConfig, RopeScalingKinds) {
  std::string base = R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,
    "num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10,"rope_scaling":)";
  EXPECT_EQ(parseHFConfig(base + R"({"type":"linear","factor":2.0}})", "c").hp.rope_scaling.kind,
            RopeScaling::Kind::Linear);
  EXPECT_EQ(parseHFConfig(base + R"({"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}})", "c")
                .hp.rope_scaling.original_context,
            32768);
  EXPECT_NE(errorOf([&] { parseHFConfig(base + R"({"rope_type":"longrope"}})", "c"); }).find("'longrope'"),
            std::string::npos);
}

static std::vector<uint8_t> ggufImage(uint32_t version, uint64_t nt, uint64_t nkv, const std::string &rest) {
  std::vector<uint8_t> b(24 + rest.size());
  std::memcpy(b.data(), "GGUF", 4);
  std::memcpy(b.data() + 4, &version, 4);
  std::memcpy(b.data() + 8, &nt, 8);
  std::memcpy(b.data() + 16, &nkv, 8);
  std::memcpy(b.data() + 24, rest.data(), rest.size());
  return b;
}

static std::string kvU32(const std::string &key, uint32_t v) {
  std::string s(8, '\0');
  uint64_t n = key.size();
  std::memcpy(s.data(), &n, 8);
  s += key;
  uint32_t t = 4;
  s.append(reinterpret_cast<char *>(&t), 4);
  s.append(reinterpret_cast<char *>(&v), 4);
  return s;
}

TEST(Gguf, MetadataAndTypedGetters) {
  auto b = ggufImage(3, 0, 2, kvU32("general.alignment", 64) + kvU32("llama.block_count", 30));
  GgufFile g = parseGguf(b, "m.gguf");
  EXPECT_EQ(g.alignment, 64u);
  EXPECT_EQ(g.requireUInt("llama.block_count"), 30u);
  EXPECT_NE(errorOf([&] { g.getString("llama.block_count"); }).find("expected a string"), std::string::npos);
  EXPECT_NE(errorOf([&] { g.requireUInt("llama.context_length"); }).find("'llama.context_length' is missing"),
            std::string::npos);
}

TEST(Gguf, RejectsNonPowerOfTwoAlignmentAndDuplicateKeys) {
  auto b = ggufImage(3, 0, 1, kvU32("general.alignment", 48));
  EXPECT_NE(errorOf([&] { parseGguf(b, "m"); }).find("power of two"), std::string::npos);
  auto d = ggufImage(3, 0, 2, kvU32("a.b", 1) + kvU32("a.b", 2));
  EXPECT_NE(errorOf([&] { parseGguf(d, "m"); }).find("'a.b' appears twice"), std::string::npos);
}
