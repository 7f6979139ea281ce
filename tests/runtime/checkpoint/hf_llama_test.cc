#include "runtime/checkpoint/hf_llama.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/checkpoint/hf_gpt2.h"
#include "runtime/checkpoint/hf_llama_config.h"
#include "runtime/checkpoint/model_import.h"
#include "runtime/checkpoint/safetensors.h"
#include "runtime/model/parameter_layout.h"
#include "tests/runtime/checkpoint/hf_test_util.h"
#include "tests/runtime/checkpoint/test_util.h"

namespace meridian {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing_util::BitEqual;
using testing_util::ExpectErrorNaming;
using testing_util::Float32Bytes;
using testing_util::FreshTempDir;
using testing_util::OwnedTensor;
using testing_util::RandomFloats;
using testing_util::RawSafetensors;
using testing_util::RawTensor;
using testing_util::ReadAllTensors;
using testing_util::ReadBytes;
using testing_util::TruncateToBfloat16;
using testing_util::Uint16Bytes;
using testing_util::WriteAllTensors;
using testing_util::WriteBytes;

// L2 NH4 KVH2 (grouped-query) C16 (hs 4) F24 V40 (Vp 64) maxT 32, llama3
// rope scaling, eps 1e-6.
GPTConfig TinyLlama(bool tied) {
  GPTConfig c;
  c.arch = ModelArch::kLlama;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_kv_head = 2;
  c.n_embd = 16;
  c.ffn_hidden = 24;
  c.vocab_size = 40;
  c.padded_vocab_size = PadVocab(40);
  c.max_seq_len = 32;
  c.rope_theta = 10000.0;
  c.rope_scaling = RopeScaling{8.0, 1.0, 4.0, 16};
  c.norm_eps = 1e-6f;
  c.tie_embeddings = tied;
  return c;
}

// Random weights with zero padded rows (wte and an untied head): the rows
// Hugging Face does not hold.
std::vector<float> TinyParams(const GPTConfig& c) {
  std::vector<float> params = RandomFloats(NumParameters(c), 23);
  const ParameterLayout layout(c, WholeModel(c));
  for (int index : {kWte, kLmHead}) {
    const ParamTensorInfo& t = layout.tensor(index);
    if (t.count == 0) continue;
    std::fill(params.begin() + t.offset + size_t(c.vocab_size) * c.n_embd, params.begin() + t.offset + t.count, 0.0f);
  }
  return params;
}

void ExpectSameConfig(const GPTConfig& a, const GPTConfig& b) {
  EXPECT_EQ(DescribeConfig(a), DescribeConfig(b));
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.n_kv_head, b.n_kv_head);
  EXPECT_EQ(a.ffn_hidden, b.ffn_hidden);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rope_scaling.factor, b.rope_scaling.factor);
  EXPECT_EQ(a.rope_scaling.low_freq_factor, b.rope_scaling.low_freq_factor);
  EXPECT_EQ(a.rope_scaling.high_freq_factor, b.rope_scaling.high_freq_factor);
  EXPECT_EQ(a.rope_scaling.original_max_position_embeddings, b.rope_scaling.original_max_position_embeddings);
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.tie_embeddings, b.tie_embeddings);
}

// Hugging Face's names in LlamaForCausalLM's state_dict order, with shapes.
std::vector<std::pair<std::string, std::vector<uint64_t>>> ExpectedTensors(bool tied) {
  std::vector<std::pair<std::string, std::vector<uint64_t>>> out = {{"model.embed_tokens.weight", {40, 16}}};
  for (int l = 0; l < 2; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    out.push_back({p + "self_attn.q_proj.weight", {16, 16}});
    out.push_back({p + "self_attn.k_proj.weight", {8, 16}});
    out.push_back({p + "self_attn.v_proj.weight", {8, 16}});
    out.push_back({p + "self_attn.o_proj.weight", {16, 16}});
    out.push_back({p + "mlp.gate_proj.weight", {24, 16}});
    out.push_back({p + "mlp.up_proj.weight", {24, 16}});
    out.push_back({p + "mlp.down_proj.weight", {16, 24}});
    out.push_back({p + "input_layernorm.weight", {16}});
    out.push_back({p + "post_attention_layernorm.weight", {16}});
  }
  out.push_back({"model.norm.weight", {16}});
  if (!tied) out.push_back({"lm_head.weight", {40, 16}});
  return out;
}

class HfLlamaTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dir_ = FreshTempDir() + "/hf";
    config_ = TinyLlama(GetParam());
    params_ = TinyParams(config_);
    ASSERT_TRUE(WriteHfLlama(dir_, config_, params_.data()).ok());
    weights_ = dir_ + "/model.safetensors";
    config_path_ = dir_ + "/config.json";
  }

  void ExpectSameModel(const Result<LlmcModel>& model) {
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    ExpectSameConfig(model->config, config_);
    EXPECT_TRUE(BitEqual(model->params, params_));
  }

  // Rewrites model.safetensors after `edit` changes its tensors.
  void Edit(const std::function<void(std::vector<OwnedTensor>&)>& edit) {
    std::vector<OwnedTensor> tensors = ReadAllTensors(weights_);
    edit(tensors);
    WriteAllTensors(weights_, tensors);
  }

  // config.json with `field` set to `value` (erased when `value` is discarded).
  Status ReadWithConfig(const std::string& field, const json& value) {
    json j = json::parse(FormatHfLlamaConfig(config_));
    if (value.is_discarded()) {
      j.erase(field);
    } else {
      j[field] = value;
    }
    WriteBytes(config_path_, j.dump());
    return ReadHfLlama(dir_).status();
  }

  std::string dir_, weights_, config_path_;
  GPTConfig config_;
  std::vector<float> params_;
};

INSTANTIATE_TEST_SUITE_P(TiedAndUntied, HfLlamaTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Tied" : "Untied"; });

TEST_P(HfLlamaTest, ExportedModelReadsBackBitIdentically) {
  EXPECT_FALSE(fs::exists(dir_ + "/model.safetensors.index.json"));
  ExpectSameModel(ReadHfLlama(dir_));
  ExpectSameModel(ReadHfLlama(weights_));  // the file, config.json beside it
  EXPECT_EQ(*DetectModelFileFormat(dir_), ModelFileFormat::kHfLlama);
  EXPECT_EQ(*DetectModelFileFormat(weights_), ModelFileFormat::kHfLlama);
  ExpectSameModel(ReadModelWeights(dir_));
}

TEST_P(HfLlamaTest, ForcedShardsReadBackBitIdentically) {
  const std::string dir = dir_ + "-sharded";
  ASSERT_TRUE(WriteHfLlama(dir, config_, params_.data(), /*max_shard_bytes=*/4096).ok());
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors"));
  const json index = json::parse(ReadBytes(dir + "/model.safetensors.index.json"));
  const auto expected = ExpectedTensors(config_.tie_embeddings);
  ASSERT_EQ(index["weight_map"].size(), expected.size());
  std::set<std::string> shards;
  uint64_t total = 0;
  for (const auto& [name, shape] : expected) {
    const std::string shard = index["weight_map"].at(name);
    shards.insert(shard);
    uint64_t bytes = 4;
    for (uint64_t d : shape) bytes *= d;
    total += bytes;
    ASSERT_NE(SafetensorsFile::Open(dir + "/" + shard)->Find(name), nullptr) << name << " in " << shard;
  }
  EXPECT_EQ(index["metadata"]["total_size"], total);
  ASSERT_GT(shards.size(), 2u);
  const std::string last = "model-0000" + std::to_string(shards.size()) + "-of-0000" + std::to_string(shards.size()) +
                           ".safetensors";
  EXPECT_EQ(*shards.begin(), "model-00001-of-0000" + std::to_string(shards.size()) + ".safetensors");
  EXPECT_EQ(*shards.rbegin(), last);
  for (const std::string& shard : shards) EXPECT_LE(fs::file_size(dir + "/" + shard), 4096u + 2048u) << shard;
  ExpectSameModel(ReadHfLlama(dir));
  ExpectSameModel(ReadModelWeights(dir));

  // A single-file export over it removes the shards and the index.
  ASSERT_TRUE(WriteHfLlama(dir, config_, params_.data()).ok());
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir + "/" + last));
  ExpectSameModel(ReadHfLlama(dir));
}

// The exact header a safetensors reader (transformers, the safetensors
// package) sees: names, order, dtypes, shapes and offsets.
TEST_P(HfLlamaTest, ExportHeaderHasHuggingFaceNamesShapesAndDtypes) {
  const std::string bytes = ReadBytes(weights_);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);  // the data section is 8-byte aligned
  const nlohmann::ordered_json header = nlohmann::ordered_json::parse(bytes.substr(8, n));
  auto it = header.begin();
  ASSERT_EQ(it.key(), "__metadata__");
  EXPECT_EQ(it.value(), nlohmann::ordered_json({{"format", "pt"}}));
  uint64_t offset = 0;
  for (const auto& [name, shape] : ExpectedTensors(config_.tie_embeddings)) {
    ++it;
    ASSERT_NE(it, header.end()) << "missing " << name;
    EXPECT_EQ(it.key(), name);
    EXPECT_EQ(it.value()["dtype"], "F32") << name;
    EXPECT_EQ(it.value()["shape"].get<std::vector<uint64_t>>(), shape) << name;
    uint64_t size = 4;
    for (uint64_t d : shape) size *= d;
    EXPECT_EQ(it.value()["data_offsets"], nlohmann::ordered_json({offset, offset + size})) << name;
    offset += size;
  }
  EXPECT_EQ(++it, header.end());
  EXPECT_EQ(bytes.size(), 8 + n + offset);

  // The stacked tensors split at the right rows.
  Result<SafetensorsFile> f = SafetensorsFile::Open(weights_);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const ParameterLayout layout(config_, WholeModel(config_));
  auto expect_rows = [&](const std::string& name, size_t offset_floats) {
    const std::vector<float> values = *f->ReadFloat32(name);
    EXPECT_EQ(std::memcmp(values.data(), params_.data() + offset_floats, values.size() * 4), 0) << name;
  };
  const size_t qkv = layout.LayerOffset(kQkvw, 1), fc = layout.LayerOffset(kFcw, 1);
  expect_rows("model.layers.1.self_attn.q_proj.weight", qkv);
  expect_rows("model.layers.1.self_attn.k_proj.weight", qkv + 16 * 16);
  expect_rows("model.layers.1.self_attn.v_proj.weight", qkv + 24 * 16);
  expect_rows("model.layers.1.mlp.gate_proj.weight", fc);
  expect_rows("model.layers.1.mlp.up_proj.weight", fc + 24 * 16);
  expect_rows("model.layers.1.mlp.down_proj.weight", layout.LayerOffset(kFcprojw, 1));
  expect_rows("model.embed_tokens.weight", layout.tensor(kWte).offset);
  if (!config_.tie_embeddings) expect_rows("lm_head.weight", layout.tensor(kLmHead).offset);
}

TEST_P(HfLlamaTest, ExportedConfigIsWhatTransformersExpects) {
  const json j = json::parse(ReadBytes(config_path_));
  EXPECT_EQ(j["architectures"], json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(j["model_type"], "llama");
  EXPECT_EQ(j["hidden_size"], 16);
  EXPECT_EQ(j["intermediate_size"], 24);
  EXPECT_EQ(j["num_attention_heads"], 4);
  EXPECT_EQ(j["num_key_value_heads"], 2);
  EXPECT_EQ(j["num_hidden_layers"], 2);
  EXPECT_EQ(j["head_dim"], 4);
  EXPECT_EQ(j["vocab_size"], 40);
  EXPECT_EQ(j["max_position_embeddings"], 32);
  EXPECT_EQ(j["rms_norm_eps"], 1e-6);  // written as the float's shortest decimal
  EXPECT_EQ(j["rope_theta"], 10000.0);
  EXPECT_EQ(j["rope_scaling"], json({{"factor", 8.0},
                                     {"high_freq_factor", 4.0},
                                     {"low_freq_factor", 1.0},
                                     {"original_max_position_embeddings", 16},
                                     {"rope_type", "llama3"}}));
  EXPECT_EQ(j["tie_word_embeddings"], config_.tie_embeddings);
  EXPECT_EQ(j["hidden_act"], "silu");
  EXPECT_EQ(j["attention_bias"], false);
  EXPECT_EQ(j["mlp_bias"], false);
  EXPECT_EQ(j["torch_dtype"], "float32");
  EXPECT_TRUE(j["bos_token_id"].is_null());  // neither the Llama 3 nor the GPT-2 vocabulary

  Result<GPTConfig> llama3 = PresetConfig("llama3.2-1b");
  ASSERT_TRUE(llama3.ok());
  const json k = json::parse(FormatHfLlamaConfig(*llama3));
  EXPECT_EQ(k["bos_token_id"], 128000);
  EXPECT_EQ(k["eos_token_id"], 128001);
  EXPECT_EQ(k["rms_norm_eps"], 1e-5);
  Result<GPTConfig> back = ParseHfLlamaConfig(FormatHfLlamaConfig(*llama3), "c");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameConfig(*back, *llama3);
}

TEST_P(HfLlamaTest, Bfloat16AndFloat16WeightsLoadConverted) {
  // Every tensor as BF16 (truncated), except model.norm.weight as F16.
  std::vector<RawTensor> raw;
  std::vector<float> expected = params_;
  const ParameterLayout layout(config_, WholeModel(config_));
  for (const OwnedTensor& t : ReadAllTensors(weights_)) {
    if (t.name == "model.norm.weight") {
      std::vector<uint16_t> half;
      for (size_t i = 0; i < t.values.size(); ++i) half.push_back(static_cast<uint16_t>(0x3C00 + i));  // 1 + i/1024
      raw.push_back({t.name, "F16", t.shape, Uint16Bytes(half)});
      continue;
    }
    std::vector<uint16_t> bf16;
    for (float v : t.values) bf16.push_back(TruncateToBfloat16(v));
    raw.push_back({t.name, "BF16", t.shape, Uint16Bytes(bf16)});
  }
  WriteBytes(weights_, RawSafetensors(raw));
  for (float& v : expected) v = Bfloat16ToFloat(TruncateToBfloat16(v));  // zero padding stays zero
  const size_t lnfw = layout.tensor(kLnfw).offset;
  for (size_t i = 0; i < 16; ++i) expected[lnfw + i] = 1.0f + static_cast<float>(i) / 1024.0f;

  Result<LlmcModel> model = ReadHfLlama(dir_);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_TRUE(BitEqual(model->params, expected));
  EXPECT_EQ(model->params[lnfw + 3], 1.0f + 3.0f / 1024.0f);
  EXPECT_NE(model->params[1], params_[1]);  // truncated: the test checks conversion, not a copy
}

TEST_P(HfLlamaTest, StrictConfigErrorsNameTheField) {
  const json discarded(json::value_t::discarded);
  json yarn = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 16}};
  ExpectErrorNaming(ReadWithConfig("rope_scaling", yarn), Status::Code::kInvalidArgument, "'rope_scaling.rope_type'",
                    "\"yarn\"");
  ExpectErrorNaming(ReadWithConfig("rope_scaling", {{"type", "linear"}, {"factor", 2.0}}),
                    Status::Code::kInvalidArgument, "'rope_scaling.type'", "\"linear\"");
  ExpectErrorNaming(ReadWithConfig("attention_bias", true), Status::Code::kInvalidArgument, config_path_,
                    "'attention_bias'");
  ExpectErrorNaming(ReadWithConfig("mlp_bias", true), Status::Code::kInvalidArgument, "'mlp_bias'");
  ExpectErrorNaming(ReadWithConfig("hidden_act", "gelu"), Status::Code::kInvalidArgument, "'hidden_act'", "gelu");
  ExpectErrorNaming(ReadWithConfig("head_dim", 8), Status::Code::kInvalidArgument, "'head_dim'");
  ExpectErrorNaming(ReadWithConfig("pretraining_tp", 2), Status::Code::kInvalidArgument, "'pretraining_tp'");
  ExpectErrorNaming(ReadWithConfig("attention_dropout", 0.1), Status::Code::kInvalidArgument, "'attention_dropout'");
  ExpectErrorNaming(ReadWithConfig("sliding_window", 4096), Status::Code::kInvalidArgument, "'sliding_window'");
  ExpectErrorNaming(ReadWithConfig("output_attentions", true), Status::Code::kInvalidArgument, "'output_attentions'");
  ExpectErrorNaming(ReadWithConfig("architectures", json::array({"LlamaModel"})), Status::Code::kInvalidArgument,
                    "'architectures'");
  ExpectErrorNaming(ReadWithConfig("model_type", discarded), Status::Code::kCorruption, "'model_type' is missing");
  ExpectErrorNaming(ReadWithConfig("hidden_size", discarded), Status::Code::kCorruption, "'hidden_size' is missing");
  ExpectErrorNaming(ReadWithConfig("num_key_value_heads", 3), Status::Code::kInvalidArgument, "n_kv_head");
  ExpectErrorNaming(ReadWithConfig("rms_norm_eps", "small"), Status::Code::kCorruption, "'rms_norm_eps'");
  // Bookkeeping and generic switches at their defaults load.
  EXPECT_TRUE(ReadWithConfig("torch_dtype", "bfloat16").ok());
  EXPECT_TRUE(ReadWithConfig("eos_token_id", json::array({1, 2})).ok());
  EXPECT_TRUE(ReadWithConfig("transformers_version", "4.45.0").ok());
  EXPECT_TRUE(ReadWithConfig("output_attentions", false).ok());
  EXPECT_TRUE(ReadWithConfig("head_dim", nullptr).ok());
  EXPECT_TRUE(ReadWithConfig("rope_scaling", {{"rope_type", "llama3"},
                                              {"type", "llama3"},
                                              {"factor", 8.0},
                                              {"low_freq_factor", 1.0},
                                              {"high_freq_factor", 4.0},
                                              {"original_max_position_embeddings", 16}})
                  .ok());
  // LlamaConfig's default is an untied head: a tied export without the
  // field then lacks lm_head.weight.
  const Status untied = ReadWithConfig("tie_word_embeddings", discarded);
  if (config_.tie_embeddings) {
    ExpectErrorNaming(untied, Status::Code::kCorruption, "'lm_head.weight' is missing", "tie_word_embeddings");
  } else {
    EXPECT_TRUE(untied.ok()) << untied.ToString();
  }
}

TEST_P(HfLlamaTest, MissingTensorIsNamedWithItsShape) {
  Edit([](std::vector<OwnedTensor>& tensors) {
    std::erase_if(tensors, [](const OwnedTensor& t) { return t.name == "model.layers.1.self_attn.k_proj.weight"; });
  });
  ExpectErrorNaming(ReadHfLlama(dir_).status(), Status::Code::kCorruption,
                    "'model.layers.1.self_attn.k_proj.weight' is missing", "expected shape [8, 16]");
}

TEST_P(HfLlamaTest, ExtraTensorIsNamed) {
  Edit([](std::vector<OwnedTensor>& tensors) {
    tensors.push_back({"model.layers.2.input_layernorm.weight", {16}, std::vector<float>(16)});
  });
  ExpectErrorNaming(ReadHfLlama(dir_).status(), Status::Code::kCorruption, "'model.layers.2.input_layernorm.weight'",
                    "not part of");
}

TEST_P(HfLlamaTest, RotaryBuffersOfOlderExportsAreIgnored) {
  Edit([](std::vector<OwnedTensor>& tensors) {
    tensors.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", {2}, {1.0f, 0.01f}});
  });
  ExpectSameModel(ReadHfLlama(dir_));
}

TEST_P(HfLlamaTest, MisshapenTensorIsNamedWithBothShapes) {
  Edit([](std::vector<OwnedTensor>& tensors) {
    for (OwnedTensor& t : tensors) {
      if (t.name == "model.layers.0.mlp.down_proj.weight") t.shape = {24, 16};  // transposed
    }
  });
  ExpectErrorNaming(ReadHfLlama(dir_).status(), Status::Code::kCorruption,
                    "'model.layers.0.mlp.down_proj.weight' has shape [24, 16]", "expected [16, 24]");
}

TEST_P(HfLlamaTest, HeadMustMatchTheTying) {
  if (config_.tie_embeddings) {
    // A saved copy of the embedding is accepted; anything else is refused.
    std::vector<float> embedding;
    Edit([&](std::vector<OwnedTensor>& tensors) {
      embedding = tensors[0].values;
      tensors.push_back({"lm_head.weight", {40, 16}, embedding});
    });
    ExpectSameModel(ReadHfLlama(dir_));
    Edit([](std::vector<OwnedTensor>& tensors) { tensors.back().values[5] += 1.0f; });
    ExpectErrorNaming(ReadHfLlama(dir_).status(), Status::Code::kInvalidArgument, "'lm_head.weight' differs",
                      "tie_word_embeddings");
  } else {
    Edit([](std::vector<OwnedTensor>& tensors) {
      std::erase_if(tensors, [](const OwnedTensor& t) { return t.name == "lm_head.weight"; });
    });
    ExpectErrorNaming(ReadHfLlama(dir_).status(), Status::Code::kCorruption, "'lm_head.weight' is missing",
                      "[40, 16]");
  }
}

TEST_P(HfLlamaTest, ShardProblemsAreNamed) {
  const std::string dir = dir_ + "-sharded";
  ASSERT_TRUE(WriteHfLlama(dir, config_, params_.data(), 4096).ok());
  const std::string index_path = dir + "/model.safetensors.index.json";
  const json index = json::parse(ReadBytes(index_path));
  const std::string shard = index["weight_map"]["model.norm.weight"];

  // A tensor the index maps to a shard that lacks it.
  json moved = index;
  moved["weight_map"]["model.norm.weight"] = "model-00001-of-" + shard.substr(15);
  WriteBytes(index_path, moved.dump());
  ExpectErrorNaming(ReadHfLlama(dir).status(), Status::Code::kCorruption, "model.norm.weight");

  // A shard that escapes the directory.
  json escaping = index;
  escaping["weight_map"]["model.norm.weight"] = "../" + shard;
  WriteBytes(index_path, escaping.dump());
  ExpectErrorNaming(ReadHfLlama(dir).status(), Status::Code::kCorruption, "'weight_map.model.norm.weight'");

  // Both layouts at once: which is current?
  WriteBytes(index_path, index.dump());
  fs::copy_file(weights_, dir + "/model.safetensors");
  ExpectErrorNaming(ReadHfLlama(dir).status(), Status::Code::kCorruption, "both");
  fs::remove(dir + "/model.safetensors");

  // A missing shard file, named with the index and a tensor it holds.
  fs::remove(dir + "/" + shard);
  const Status missing = ReadHfLlama(dir).status();
  ExpectErrorNaming(missing, Status::Code::kNotFound, "'" + shard + "'", "model.safetensors.index.json");
}

TEST_P(HfLlamaTest, MissingFilesAreNamed) {
  fs::remove(config_path_);
  ExpectErrorNaming(ReadHfLlama(dir_).status(), Status::Code::kNotFound, config_path_);
  ASSERT_TRUE(WriteHfLlama(dir_, config_, params_.data()).ok());
  fs::remove(weights_);
  ExpectErrorNaming(ReadHfLlama(dir_).status(), Status::Code::kNotFound, weights_);
}

TEST_P(HfLlamaTest, OtherFormatsRefuseLlama) {
  const Status llmc = WriteLlmcCheckpoint(dir_ + "/model.bin", config_, params_.data());
  ExpectErrorNaming(llmc, Status::Code::kInvalidArgument, "GPT-2 models only", "llama");
  ExpectErrorNaming(WriteHfGpt2(dir_ + "/gpt2", config_, params_.data()), Status::Code::kInvalidArgument, "llama");
  GPTConfig gpt2;
  gpt2.n_layer = 1;
  gpt2.n_head = 2;
  gpt2.n_embd = 8;
  gpt2.vocab_size = gpt2.padded_vocab_size = 64;
  gpt2.max_seq_len = 8;
  const std::vector<float> gpt2_params(NumParameters(gpt2), 0.5f);
  ExpectErrorNaming(WriteHfLlama(dir_ + "/gpt2", gpt2, gpt2_params.data()), Status::Code::kInvalidArgument, "gpt2");
  // WriteHfModel picks the writer by the architecture.
  ASSERT_TRUE(WriteHfModel(dir_ + "/gpt2", gpt2, gpt2_params.data()).ok());
  EXPECT_EQ(*DetectModelFileFormat(dir_ + "/gpt2"), ModelFileFormat::kHfGpt2);
  ASSERT_TRUE(WriteHfModel(dir_ + "/llama", config_, params_.data()).ok());
  ExpectSameModel(ReadModelWeights(dir_ + "/llama"));

  json j = json::parse(ReadBytes(config_path_));
  j["model_type"] = "mistral";
  WriteBytes(config_path_, j.dump());
  ExpectErrorNaming(DetectModelFileFormat(dir_).status(), Status::Code::kInvalidArgument, "model_type", "mistral");
}

}  // namespace
}  // namespace meridian
