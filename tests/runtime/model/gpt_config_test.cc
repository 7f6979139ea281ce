#include "runtime/model/gpt_config.h"

#include <gtest/gtest.h>

#include "runtime/model/parameter_layout.h"

namespace meridian {
namespace {

TEST(GPTConfig, PresetsHaveTheGpt2ParameterCounts) {
  GPTConfig d12 = *PresetConfig("d12");
  d12.padded_vocab_size = 50304;
  // GPT-2 124M as llm.c counts it, with the padded vocabulary.
  EXPECT_EQ(NumParameters(d12), 124475904u);
  EXPECT_FALSE(PresetConfig("d7").ok());
  EXPECT_NE(PresetConfig("d7").status().message().find("d7"), std::string::npos);
}

TEST(GPTConfig, LlamaPresetsHaveThePublishedParameterCounts) {
  // Hugging Face's num_parameters() of meta-llama/Llama-3.2-1B (tied head)
  // and meta-llama/Meta-Llama-3-8B (untied).
  const GPTConfig one_b = *PresetConfig("llama3.2-1b");
  EXPECT_EQ(NumParameters(one_b), 1235814400u);
  EXPECT_EQ(one_b.kv_heads(), 8);
  EXPECT_EQ(one_b.qkv_size(), 3072);
  const GPTConfig eight_b = *PresetConfig("llama3-8b");
  EXPECT_EQ(NumParameters(eight_b), 8030261248u);
  EXPECT_TRUE(ValidateConfig(*PresetConfig("llama-tiny")).ok());
  EXPECT_NE(PresetConfig("llama9").status().message().find("llama-tiny"), std::string::npos);
}

TEST(GPTConfig, LlamaValidationNamesTheBadField) {
  GPTConfig c = *PresetConfig("llama-tiny");
  c.n_kv_head = 3;  // does not divide 8 heads
  EXPECT_NE(ValidateConfig(c).message().find("n_kv_head"), std::string::npos);
  c = *PresetConfig("llama-tiny");
  c.rope_scaling.factor = 8.0;
  c.rope_scaling.high_freq_factor = 0.5;
  EXPECT_NE(ValidateConfig(c).message().find("rope_scaling.high_freq_factor"), std::string::npos);
  GPTConfig gpt2;
  gpt2.tie_embeddings = false;
  EXPECT_NE(ValidateConfig(gpt2).message().find("tie_embeddings"), std::string::npos);
}

TEST(GPTConfig, ValidationNamesTheBadField) {
  GPTConfig c;
  c.n_embd = 100;
  c.n_head = 3;
  Status s = ValidateConfig(c);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("n_embd"), std::string::npos);
  c = GPTConfig();
  c.padded_vocab_size = 10;
  EXPECT_NE(ValidateConfig(c).message().find("padded_vocab_size"), std::string::npos);
}

TEST(ParameterLayout, StagesHoldOnlyTheirTensors) {
  GPTConfig c = *PresetConfig("d4");
  ParameterLayout first(c, StageSpec{0, 2, true, false}), last(c, StageSpec{2, 4, false, true});
  EXPECT_GT(first.tensor(kWpe).count, 0u);
  EXPECT_EQ(first.tensor(kLnfw).count, 0u);
  EXPECT_EQ(last.tensor(kWpe).count, 0u);
  EXPECT_GT(last.tensor(kWte).count, 0u);  // tied LM head
  EXPECT_EQ(first.tensor(kQkvw).count, 2u * 3 * c.n_embd * c.n_embd);
  EXPECT_EQ(last.tensor(kLmHead).count, 0u);  // GPT-2's head is always tied
}

TEST(ParameterLayout, LlamaStagesHoldNoBiasesAndAnUntiedHeadOnTheLast) {
  GPTConfig c = *PresetConfig("llama3-8b");
  ParameterLayout first(c, StageSpec{0, 16, true, false}), last(c, StageSpec{16, 32, false, true});
  for (int t : {kWpe, kLn1b, kQkvb, kAttprojb, kLn2b, kFcb, kFcprojb, kLnfb}) {
    EXPECT_EQ(first.tensor(t).count, 0u) << first.tensor(t).name;
    EXPECT_EQ(last.tensor(t).count, 0u) << last.tensor(t).name;
  }
  EXPECT_GT(first.tensor(kWte).count, 0u);
  EXPECT_EQ(last.tensor(kWte).count, 0u);  // untied: the head is lm_head
  EXPECT_EQ(last.tensor(kLmHead).count, 128256u * 4096);
  EXPECT_EQ(first.LayerCount(kQkvw), (32u + 2 * 8) * 128 * 4096);  // q, k, v of GQA
  EXPECT_EQ(first.LayerCount(kFcw), 2u * 14336 * 4096);            // gate and up
  EXPECT_EQ(first.total() + last.total(), NumParameters(c));
}

}  // namespace
}  // namespace meridian
