#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "runtime/optim/adamw_optimizer.h"
#include "runtime/optim/lr_schedule.h"

namespace meridian {
namespace {

TEST(LrSchedule, WarmsUpLinearlyThenDecaysByCosineToTheFloor) {
  LrSchedule s{1.0f, 0.1f, 4, 13};  // decay over steps 4..12
  EXPECT_FLOAT_EQ(s.At(0), 0.25f);
  EXPECT_FLOAT_EQ(s.At(3), 1.0f);
  EXPECT_FLOAT_EQ(s.At(4), 1.0f);
  EXPECT_NEAR(s.At(8), 0.55f, 1e-6);  // halfway through the decay
  EXPECT_FLOAT_EQ(s.At(12), 0.1f);
  for (long t = 4; t < 12; ++t) EXPECT_GE(s.At(t), s.At(t + 1));
}

TEST(LrSchedule, IsConstantWithoutWarmupOrDecayRange) {
  LrSchedule s{0.5f, 0.5f, 0, 1};
  EXPECT_FLOAT_EQ(s.At(0), 0.5f);
}

TEST(AdamWOptimizer, DecaysMatricesButNotBiasesOrLayerNorm) {
  GPTConfig c;
  c.max_seq_len = 4; c.vocab_size = 8; c.padded_vocab_size = 8; c.n_layer = 1; c.n_head = 1; c.n_embd = 4;
  ParameterLayout layout(c, WholeModel(c));
  AdamWConfig cfg;
  cfg.weight_decay = 0.5f;
  AdamWOptimizer opt(layout, cfg);
  std::vector<float> params(layout.total(), 1.0f), grads(layout.total(), 0.0f);
  opt.Step(params.data(), grads.data(), 0.1f, 1.0f);
  // Zero gradient: only decay moves a parameter, by lr * wd * p.
  EXPECT_FLOAT_EQ(params[layout.tensor(kQkvw).offset], 1.0f - 0.1f * 0.5f);
  EXPECT_FLOAT_EQ(params[layout.tensor(kWte).offset], 1.0f - 0.1f * 0.5f);
  EXPECT_FLOAT_EQ(params[layout.tensor(kQkvb).offset], 1.0f);
  EXPECT_FLOAT_EQ(params[layout.tensor(kLn1w).offset], 1.0f);
  EXPECT_FLOAT_EQ(params[layout.tensor(kLnfb).offset], 1.0f);
}

TEST(AdamWOptimizer, ShardedStepsEqualOneWholeStep) {
  GPTConfig c;
  c.max_seq_len = 4; c.vocab_size = 8; c.padded_vocab_size = 8; c.n_layer = 2; c.n_head = 2; c.n_embd = 4;
  ParameterLayout layout(c, WholeModel(c));
  std::vector<float> p1(layout.total()), g(layout.total());
  for (size_t i = 0; i < g.size(); ++i) {
    p1[i] = std::sin((float)i);
    g[i] = std::cos((float)i * 0.3f);
  }
  std::vector<float> p2 = p1;
  AdamWOptimizer whole(layout, AdamWConfig{});
  const size_t cut = layout.total() / 3;  // inside some tensor, not at a boundary
  AdamWOptimizer a(layout, AdamWConfig{}, 0, cut), b(layout, AdamWConfig{}, cut, layout.total());
  for (int step = 0; step < 3; ++step) {
    whole.Step(p1.data(), g.data(), 1e-2f, 0.5f);
    a.Step(p2.data(), g.data(), 1e-2f, 0.5f);
    b.Step(p2.data(), g.data(), 1e-2f, 0.5f);
  }
  EXPECT_EQ(p1, p2);
}

}  // namespace
}  // namespace meridian
