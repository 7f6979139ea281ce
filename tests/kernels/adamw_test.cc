#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/adamw.h"
#include "tests/kernels/kernel_test_util.h"
#include "tests/kernels/reference_kernels.h"

namespace meridian {
namespace {

using namespace kernel_test;

ref::AdamWParams ToRef(const cpu::AdamWParams& hp) {
  return {hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay, hp.grad_scale, hp.step};
}

// Runs `steps` updates of the kernel and of the double torch formula from
// the same start, with fresh gradients each step, and compares parameters,
// both moments and the total parameter change after every step.
void RunAndCompare(size_t n, cpu::AdamWParams hp, int steps, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> params = RandomFloats(rng, n), m(n, 0.0f), v(n, 0.0f);
  const std::vector<float> params0 = params;
  std::vector<double> want_params = ToDouble(params), want_m(n, 0.0), want_v(n, 0.0);
  for (int step = 1; step <= steps; ++step) {
    SCOPED_TRACE(testing::Message() << "step " << step);
    std::vector<float> grads = RandomFloats(rng, n, -2.0f, 2.0f);
    // Some exact zeros and some gradients so small that eps dominates sqrt(v_hat).
    for (size_t i = 0; i < n; i += 11) grads[i] = 0.0f;
    for (size_t i = 5; i < n; i += 13) grads[i] *= 1e-9f;
    hp.step = step;
    cpu::AdamWUpdate(params.data(), grads.data(), m.data(), v.data(), n, hp);
    ref::AdamWUpdate(want_params.data(), ToDouble(grads).data(), want_m.data(), want_v.data(), n, ToRef(hp));
    EXPECT_TRUE(AllClose(params, want_params, kForwardTol));
    EXPECT_TRUE(AllClose(m, want_m, kForwardTol));
    EXPECT_TRUE(AllClose(v, want_v, kForwardTol));
    // The change from the start on its own, not hidden behind |p| ~ 1. The
    // float parameters round at ~6e-8 of |p|, so this check needs lr >~ 1e-3
    // to leave the change well above that (worst here: 3.8e-5 at lr 1e-3).
    std::vector<float> delta(n);
    std::vector<double> want_delta(n);
    for (size_t i = 0; i < n; ++i) {
      delta[i] = params[i] - params0[i];
      want_delta[i] = want_params[i] - params0[i];
    }
    EXPECT_TRUE(AllClose(delta, want_delta, kBackwardTol));
  }
}

TEST(AdamW, MatchesTorchFormulaInDoubleOverSeveralSteps) {
  cpu::AdamWParams hp;
  hp.lr = 1e-2f;
  hp.beta1 = 0.9f;
  hp.beta2 = 0.95f;
  hp.eps = 1e-8f;
  hp.weight_decay = 0.1f;
  hp.grad_scale = 0.7f;
  RunAndCompare(1003, hp, 10, 801);
}

TEST(AdamW, MatchesTorchFormulaWithoutDecayOrScaling) {
  cpu::AdamWParams hp;
  hp.lr = 3e-3f;
  hp.beta1 = 0.8f;
  hp.beta2 = 0.999f;
  hp.eps = 1e-6f;
  hp.weight_decay = 0.0f;
  hp.grad_scale = 1.0f;
  RunAndCompare(33, hp, 7, 802);
}

TEST(AdamW, MatchesTorchFormulaOnOneElementAndLargeBuffers) {
  cpu::AdamWParams hp;
  hp.lr = 1e-3f;
  hp.weight_decay = 0.5f;
  hp.grad_scale = 0.25f;
  RunAndCompare(1, hp, 5, 803);
  RunAndCompare(100'003, hp, 3, 804);
}

TEST(AdamW, FirstStepMovesByLrTimesSignOfGradientPlusDecay) {
  // At t=1, m_hat = g and v_hat = g^2, so the Adam step is lr * g / (|g| + eps).
  std::vector<float> params = {1.0f, -2.0f, 0.5f};
  const std::vector<float> grads = {4.0f, -0.5f, 0.0f};
  std::vector<float> m(3, 0.0f), v(3, 0.0f);
  cpu::AdamWParams hp;
  hp.lr = 0.1f;
  hp.weight_decay = 0.2f;
  hp.grad_scale = 0.5f;
  hp.step = 1;
  cpu::AdamWUpdate(params.data(), grads.data(), m.data(), v.data(), 3, hp);
  EXPECT_NEAR(params[0], 1.0 * (1 - 0.1 * 0.2) - 0.1, 1e-6);
  EXPECT_NEAR(params[1], -2.0 * (1 - 0.1 * 0.2) + 0.1, 1e-6);
  EXPECT_NEAR(params[2], 0.5 * (1 - 0.1 * 0.2), 1e-6);  // zero gradient: decay only
  EXPECT_NEAR(m[0], 0.1 * 2.0, 1e-6);                    // (1 - beta1) * g * grad_scale
  EXPECT_NEAR(v[0], 0.05 * 4.0, 1e-6);                   // (1 - beta2) * (g * grad_scale)^2
}

}  // namespace
}  // namespace meridian
