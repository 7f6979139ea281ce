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
}

}  // namespace
}  // namespace meridian
