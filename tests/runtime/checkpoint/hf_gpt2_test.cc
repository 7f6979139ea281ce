#include "runtime/checkpoint/hf_gpt2.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/checkpoint/hf_gpt2_config.h"
#include "runtime/checkpoint/model_import.h"
#include "runtime/checkpoint/safetensors.h"
#include "runtime/model/parameter_layout.h"
#include "tests/runtime/checkpoint/hf_test_util.h"
#include "tests/runtime/checkpoint/test_util.h"

namespace meridian {
namespace {

using testing_util::BitEqual;
using testing_util::ExpectErrorNaming;
using testing_util::FreshTempDir;
using testing_util::OwnedTensor;
using testing_util::RandomFloats;
using testing_util::ReadAllTensors;
using testing_util::ReadBytes;
using testing_util::WriteAllTensors;
using testing_util::WriteBytes;

// L2 H2 C16 V40 (Vp 64) maxT 8.
GPTConfig HfTinyConfig() {
  GPTConfig c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 16;
  c.vocab_size = 40;
  c.padded_vocab_size = PadVocab(40);
  c.max_seq_len = 8;
  return c;
}

// Random weights with zero padded wte rows: the rows Hugging Face does not hold.
std::vector<float> TinyParams(const GPTConfig& c) {
  std::vector<float> params = RandomFloats(NumParameters(c), 11);
  const size_t wte = ParameterLayout(c, WholeModel(c)).tensor(kWte).offset;
  std::fill(params.begin() + wte + static_cast<size_t>(c.vocab_size) * c.n_embd,
            params.begin() + wte + static_cast<size_t>(c.padded_vocab_size) * c.n_embd, 0.0f);
  return params;
}

class HfGpt2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTempDir() + "/hf";
    config_ = HfTinyConfig();
    params_ = TinyParams(config_);
    ASSERT_TRUE(WriteHfGpt2(dir_, config_, params_.data()).ok());
    weights_ = dir_ + "/model.safetensors";
  }

  // Rewrites model.safetensors after `edit` changes its tensors.
  void Edit(const std::function<void(std::vector<OwnedTensor>&)>& edit) {
    std::vector<OwnedTensor> tensors = ReadAllTensors(weights_);
    edit(tensors);
    WriteAllTensors(weights_, tensors);
  }

  void ExpectSameModel(const Result<LlmcModel>& model) {
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    EXPECT_EQ(DescribeConfig(model->config), DescribeConfig(config_));
    EXPECT_TRUE(BitEqual(model->params, params_));
  }

  std::string dir_, weights_;
  GPTConfig config_;
  std::vector<float> params_;
};

TEST_F(HfGpt2Test, ExportedModelReadsBackBitIdentically) {
  ExpectSameModel(ReadHfGpt2(dir_));
  ExpectSameModel(ReadHfGpt2(dir_ + "/"));
  ExpectSameModel(ReadHfGpt2(weights_));  // the file, config.json beside it
}

TEST_F(HfGpt2Test, ExportHasTransformersNamesAndLayout) {
  Result<SafetensorsFile> f = SafetensorsFile::Open(weights_);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->tensors().size(), 4u + 12u * 2u);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->Find("lm_head.weight"), nullptr);
  const size_t C = 16, V = 40;
  EXPECT_EQ(f->Find("transformer.wte.weight")->shape, (std::vector<uint64_t>{V, C}));
  EXPECT_EQ(f->Find("transformer.wpe.weight")->shape, (std::vector<uint64_t>{8, C}));
  EXPECT_EQ(f->Find("transformer.h.1.attn.c_attn.weight")->shape, (std::vector<uint64_t>{C, 3 * C}));
  EXPECT_EQ(f->Find("transformer.h.1.mlp.c_fc.weight")->shape, (std::vector<uint64_t>{C, 4 * C}));
  EXPECT_EQ(f->Find("transformer.h.1.mlp.c_proj.weight")->shape, (std::vector<uint64_t>{4 * C, C}));
  EXPECT_EQ(f->Find("transformer.ln_f.bias")->shape, (std::vector<uint64_t>{C}));

  const ParameterLayout layout(config_, WholeModel(config_));
  // Conv1D: HF c_attn[i][o] is llm.c qkvw[o][i].
  const std::vector<float> c_attn = *f->ReadFloat32("transformer.h.1.attn.c_attn.weight");
  const float* qkvw = params_.data() + layout.LayerOffset(kQkvw, 1);
  for (size_t i = 0; i < C; ++i) {
    for (size_t o = 0; o < 3 * C; ++o) ASSERT_EQ(c_attn[i * 3 * C + o], qkvw[o * C + i]) << i << "," << o;
  }
  const std::vector<float> c_proj = *f->ReadFloat32("transformer.h.0.mlp.c_proj.weight");  // [4C, C]
  const float* fcprojw = params_.data() + layout.LayerOffset(kFcprojw, 0);                // [C, 4C]
  for (size_t i = 0; i < 4 * C; ++i) {
    for (size_t o = 0; o < C; ++o) ASSERT_EQ(c_proj[i * C + o], fcprojw[o * 4 * C + i]);
  }
  const std::vector<float> bias = *f->ReadFloat32("transformer.h.1.attn.c_attn.bias");
  EXPECT_EQ(std::memcmp(bias.data(), params_.data() + layout.LayerOffset(kQkvb, 1), bias.size() * 4), 0);
  const std::vector<float> wte = *f->ReadFloat32("transformer.wte.weight");
  EXPECT_EQ(std::memcmp(wte.data(), params_.data(), wte.size() * 4), 0);
}

TEST_F(HfGpt2Test, ExportedConfigIsWhatTransformersExpects) {
  const nlohmann::json j = nlohmann::json::parse(ReadBytes(dir_ + "/config.json"));
  EXPECT_EQ(j["model_type"], "gpt2");
  EXPECT_EQ(j["architectures"], nlohmann::json::array({"GPT2LMHeadModel"}));
  EXPECT_EQ(j["n_layer"], 2);
  EXPECT_EQ(j["n_head"], 2);
  EXPECT_EQ(j["n_embd"], 16);
  EXPECT_EQ(j["vocab_size"], 40);
  EXPECT_EQ(j["n_positions"], 8);
  EXPECT_EQ(j["n_ctx"], 8);
  EXPECT_EQ(j["layer_norm_epsilon"], 1e-5);
  EXPECT_EQ(j["activation_function"], "gelu_new");
  EXPECT_EQ(j["resid_pdrop"], 0.0);
  EXPECT_TRUE(j["bos_token_id"].is_null());  // not the GPT-2 vocabulary
  GPTConfig gpt2 = config_;
  gpt2.vocab_size = 50257;
  const nlohmann::json g = nlohmann::json::parse(FormatHfGpt2Config(gpt2));
  EXPECT_EQ(g["bos_token_id"], 50256);
  EXPECT_EQ(g["eos_token_id"], 50256);
  EXPECT_EQ(ParseHfGpt2Config(FormatHfGpt2Config(gpt2), "c").value().padded_vocab_size, 50304);
}

TEST_F(HfGpt2Test, BareNamesMaskBuffersAndATiedHeadLoad) {
  Edit([](std::vector<OwnedTensor>& tensors) {
    std::vector<float> wte;
    for (OwnedTensor& t : tensors) {
      t.name = t.name.substr(std::string("transformer.").size());  // as GPT2Model saves
      if (t.name == "wte.weight") wte = t.values;
    }
    tensors.push_back({"lm_head.weight", {40, 16}, wte});
    tensors.push_back({"h.0.attn.bias", {1, 1, 8, 8}, std::vector<float>(64, 1.0f)});
    tensors.push_back({"h.1.attn.masked_bias", {}, {-1e4f}});
    tensors.push_back({"score.weight", {3, 16}, std::vector<float>(48)});  // outside the model
  });
  ExpectSameModel(ReadHfGpt2(dir_));
}

TEST_F(HfGpt2Test, UntiedHeadIsRefused) {
  Edit([](std::vector<OwnedTensor>& tensors) {
    tensors.push_back({"lm_head.weight", {40, 16}, std::vector<float>(640, 0.5f)});
  });
  ExpectErrorNaming(ReadHfGpt2(dir_).status(), Status::Code::kInvalidArgument, "lm_head.weight", "untied");
}

TEST_F(HfGpt2Test, MissingTensorIsNamedWithItsShape) {
  Edit([](std::vector<OwnedTensor>& tensors) {
    std::erase_if(tensors, [](const OwnedTensor& t) { return t.name == "transformer.h.1.mlp.c_fc.weight"; });
  });
  ExpectErrorNaming(ReadHfGpt2(dir_).status(), Status::Code::kCorruption,
                    "'transformer.h.1.mlp.c_fc.weight' is missing", "expected shape [16, 64]");
}

TEST_F(HfGpt2Test, MisshapenTensorIsNamedWithBothShapes) {
  Edit([](std::vector<OwnedTensor>& tensors) {
    for (OwnedTensor& t : tensors) {
      if (t.name == "transformer.h.0.attn.c_attn.weight") t.shape = {48, 16};  // llm.c's orientation
    }
  });
  const Status s = ReadHfGpt2(dir_).status();
  ExpectErrorNaming(s, Status::Code::kCorruption, "'transformer.h.0.attn.c_attn.weight' has shape [48, 16]",
                    "expected [16, 48]");
  EXPECT_NE(s.message().find(weights_), std::string::npos) << s.ToString();
}

TEST_F(HfGpt2Test, ALayerBeyondTheConfigIsRefused) {
  Edit([](std::vector<OwnedTensor>& tensors) {
    tensors.push_back({"transformer.h.2.ln_1.weight", {16}, std::vector<float>(16)});
  });
  ExpectErrorNaming(ReadHfGpt2(dir_).status(), Status::Code::kCorruption, "'transformer.h.2.ln_1.weight'",
                    "not part of GPT-2");
}

TEST_F(HfGpt2Test, ConfigClaimingMoreLayersNamesTheFirstMissingOne) {
  std::string text = ReadBytes(dir_ + "/config.json");
  nlohmann::json j = nlohmann::json::parse(text);
  j["n_layer"] = 2000000000;  // must fail at layer 2 without allocating for 2e9 layers
  WriteBytes(dir_ + "/config.json", j.dump());
  ExpectErrorNaming(ReadHfGpt2(dir_).status(), Status::Code::kCorruption, "'transformer.h.2.ln_1.weight' is missing");
}

TEST_F(HfGpt2Test, Float16WeightsLoadConverted) {
  // Rewrite ln_f.weight as F16 by hand; everything else stays F32.
  std::vector<OwnedTensor> tensors = ReadAllTensors(weights_);
  nlohmann::json entries = nlohmann::json::object();
  std::string data;
  for (const OwnedTensor& t : tensors) {
    const bool half = t.name == "transformer.ln_f.weight";
    const size_t begin = data.size();
    if (half) {
      for (size_t i = 0; i < t.values.size(); ++i) {
        const uint16_t one_and_a_bit = static_cast<uint16_t>(0x3C00 + i);  // 1 + i * 2^-10
        data.append(reinterpret_cast<const char*>(&one_and_a_bit), 2);
      }
    } else {
      data.append(reinterpret_cast<const char*>(t.values.data()), t.values.size() * 4);
    }
    entries[t.name] = {{"dtype", half ? "F16" : "F32"}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  const std::string header = entries.dump();
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(uint64_t{header.size()} >> (8 * i));
  WriteBytes(weights_, bytes + header + data);

  Result<LlmcModel> model = ReadHfGpt2(dir_);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const size_t lnfw = ParameterLayout(config_, WholeModel(config_)).tensor(kLnfw).offset;
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(model->params[lnfw + i], 1.0f + i / 1024.0f);
  for (size_t i = 0; i < lnfw; ++i) ASSERT_EQ(model->params[i], params_[i]);
}

TEST_F(HfGpt2Test, UnsupportedConfigsAreRefusedByField) {
  auto with = [&](const char* field, nlohmann::json value) {
    nlohmann::json j = nlohmann::json::parse(FormatHfGpt2Config(config_));
    if (value.is_discarded()) {
      j.erase(field);
    } else {
      j[field] = value;
    }
    WriteBytes(dir_ + "/config.json", j.dump());
    return ReadHfGpt2(dir_).status();
  };
  const std::string config = dir_ + "/config.json";
  ExpectErrorNaming(with("layer_norm_epsilon", 1e-6), Status::Code::kInvalidArgument, config, "layer_norm_epsilon");
  ExpectErrorNaming(with("activation_function", "relu"), Status::Code::kInvalidArgument, config, "activation_function");
  ExpectErrorNaming(with("n_inner", 32), Status::Code::kInvalidArgument, config, "n_inner");
  ExpectErrorNaming(with("tie_word_embeddings", false), Status::Code::kInvalidArgument, config, "tie_word_embeddings");
  ExpectErrorNaming(with("scale_attn_by_inverse_layer_idx", true), Status::Code::kInvalidArgument, config,
                    "scale_attn_by_inverse_layer_idx");
  ExpectErrorNaming(with("model_type", "llama"), Status::Code::kInvalidArgument, config, "model_type");
  ExpectErrorNaming(with("n_layer", nlohmann::json(nlohmann::json::value_t::discarded)), Status::Code::kCorruption,
                    config, "'n_layer' is missing");
  ExpectErrorNaming(with("n_head", 3), Status::Code::kInvalidArgument, config, "divisible");
  ExpectErrorNaming(with("vocab_size", -1), Status::Code::kCorruption, config, "vocab_size");
  EXPECT_TRUE(with("activation_function", "gelu_pytorch_tanh").ok());
  EXPECT_TRUE(with("layer_norm_epsilon", static_cast<double>(1e-5f)).ok());  // 1e-5 via float32
  WriteBytes(config, "{\"n_layer\": ");
  ExpectErrorNaming(ReadHfGpt2(dir_).status(), Status::Code::kCorruption, config, "not valid JSON");
}

TEST_F(HfGpt2Test, MissingFilesAreNamed) {
  std::filesystem::remove(dir_ + "/config.json");
  ExpectErrorNaming(ReadHfGpt2(dir_).status(), Status::Code::kNotFound, dir_ + "/config.json");
  std::filesystem::remove(weights_);
  ExpectErrorNaming(ReadHfGpt2(dir_).status(), Status::Code::kNotFound, weights_);
  WriteBytes(dir_ + "/pytorch_model.bin", "x");
  ExpectErrorNaming(ReadHfGpt2(dir_).status(), Status::Code::kNotFound, "pytorch_model.bin", "safe_serialization");
  WriteBytes(dir_ + "/model.safetensors.index.json", "{}");
  ExpectErrorNaming(ReadHfGpt2(dir_).status(), Status::Code::kNotFound, "sharded");
}

TEST_F(HfGpt2Test, WriterRefusesBadArguments) {
  EXPECT_EQ(WriteHfGpt2(dir_, config_, nullptr).code(), Status::Code::kInvalidArgument);
  GPTConfig bad = config_;
  bad.n_head = 3;
  EXPECT_EQ(WriteHfGpt2(dir_, bad, params_.data()).code(), Status::Code::kInvalidArgument);
  WriteBytes(dir_ + "/file", "x");
  EXPECT_EQ(WriteHfGpt2(dir_ + "/file/sub", config_, params_.data()).code(), Status::Code::kIOError);
}

TEST_F(HfGpt2Test, InitFromDetectsEitherFormat) {
  const std::string llmc = dir_ + "/../model.bin";
  ASSERT_TRUE(WriteLlmcCheckpoint(llmc, config_, params_.data()).ok());
  EXPECT_EQ(*DetectModelFileFormat(dir_), ModelFileFormat::kHfGpt2);
  EXPECT_EQ(*DetectModelFileFormat(weights_), ModelFileFormat::kHfGpt2);
  EXPECT_EQ(*DetectModelFileFormat(llmc), ModelFileFormat::kLlmc);
  // Content decides for a file without the .safetensors suffix.
  std::filesystem::copy_file(weights_, dir_ + "/weights.bin");
  EXPECT_EQ(*DetectModelFileFormat(dir_ + "/weights.bin"), ModelFileFormat::kHfGpt2);
  ExpectSameModel(ReadModelWeights(dir_ + "/weights.bin"));
  ExpectSameModel(ReadModelWeights(dir_));
  ExpectSameModel(ReadModelWeights(llmc));
  WriteBytes(dir_ + "/garbage.bin", "garbage");
  EXPECT_EQ(*DetectModelFileFormat(dir_ + "/garbage.bin"), ModelFileFormat::kLlmc);
  ExpectErrorNaming(ReadModelWeights(dir_ + "/garbage.bin").status(), Status::Code::kCorruption, "garbage.bin");
  EXPECT_EQ(DetectModelFileFormat(dir_ + "/none.bin").status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace meridian
