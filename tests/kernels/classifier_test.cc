#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/classifier.h"
#include "tests/kernels/kernel_test_util.h"
#include "tests/kernels/reference_kernels.h"

namespace meridian {
namespace {

using namespace kernel_test;

struct ClassifierShape {
  int N, V, Vp;
};

// V=1, V == Vp, V < Vp by a little and a lot, one row, B*T=128 rows, and
// GPT-2's real vocabulary padded to 50304.
const ClassifierShape kShapes[] = {{1, 7, 7},       {3, 13, 16},     {5, 33, 64}, {2, 1, 8},
                                   {128, 1000, 1024}, {4, 50257, 50304}};

// A value in the padded columns that would dominate the softmax (and change
// every loss) if the kernel read it.
constexpr float kPadValue = 50.0f;

struct ClassifierInputs {
  std::vector<float> logits;  // (N,Vp), padded columns set to kPadValue
  std::vector<int> targets;   // (N)
};

ClassifierInputs MakeInputs(std::mt19937& rng, const ClassifierShape& s) {
  ClassifierInputs in;
  in.logits = RandomFloats(rng, (size_t)s.N * s.Vp, -4.0f, 4.0f);
  for (int n = 0; n < s.N; ++n)
    for (int j = s.V; j < s.Vp; ++j) in.logits[(size_t)n * s.Vp + j] = kPadValue;
  // Row 0 shifted far up: exp() would overflow without subtracting the max.
  for (int j = 0; j < s.V; ++j) in.logits[j] += 100.0f;
  in.targets = RandomInts(rng, s.N, 0, s.V - 1);
  return in;
}

testing::Message Describe(const ClassifierShape& s) {
  return testing::Message() << "N=" << s.N << " V=" << s.V << " Vp=" << s.Vp;
}

TEST(SoftmaxCrossEntropy, LossesAndGradientMatchDoubleReference) {
  std::mt19937 rng(701);
  for (const ClassifierShape& s : kShapes) {
    SCOPED_TRACE(Describe(s));
    ClassifierInputs in = MakeInputs(rng, s);
    const float dloss = 1.0f / (float)s.N;  // mean over rows, as the model uses it
    std::vector<double> want_losses(s.N), want_dlogits((size_t)s.N * s.Vp);
    ref::SoftmaxCrossEntropy(want_losses.data(), want_dlogits.data(), ToDouble(in.logits).data(), in.targets.data(),
                             s.N, s.V, s.Vp, dloss);
    std::vector<float> losses = Poisoned(s.N);
    cpu::SoftmaxCrossEntropy(in.logits.data(), losses.data(), in.targets.data(), s.N, s.V, s.Vp, dloss, true);
    EXPECT_TRUE(AllClose(losses, want_losses, kForwardTol));
    EXPECT_TRUE(GuardIntact(losses, s.N));
    EXPECT_TRUE(AllClose(in.logits, want_dlogits, kBackwardTol));
    // Padded columns: exactly zero gradient.
    for (int n = 0; n < s.N; ++n)
      for (int j = s.V; j < s.Vp; ++j) ASSERT_EQ(in.logits[(size_t)n * s.Vp + j], 0.0f) << "n=" << n << " j=" << j;
    // Each row's gradient sums to zero (softmax minus a one-hot).
    for (int n = 0; n < s.N; ++n) {
      double sum = 0.0;
      for (int j = 0; j < s.V; ++j) sum += in.logits[(size_t)n * s.Vp + j];
      EXPECT_NEAR(sum, 0.0, 1e-6 * dloss) << "n=" << n;
    }
  }
}

TEST(SoftmaxCrossEntropy, PaddedColumnsDoNotAffectLossesOrGradient) {
  std::mt19937 rng(702);
  for (const ClassifierShape& s : kShapes) {
    if (s.V == s.Vp) continue;
    SCOPED_TRACE(Describe(s));
    const ClassifierInputs in = MakeInputs(rng, s);
    // Same real logits, padded columns -1000, 0 and kPadValue: bit-identical results.
    std::vector<float> losses[3], dlogits[3];
    const float pads[3] = {-1000.0f, 0.0f, kPadValue};
    for (int k = 0; k < 3; ++k) {
      dlogits[k] = in.logits;
      for (int n = 0; n < s.N; ++n)
        for (int j = s.V; j < s.Vp; ++j) dlogits[k][(size_t)n * s.Vp + j] = pads[k];
      losses[k].assign(s.N, 0.0f);
      cpu::SoftmaxCrossEntropy(dlogits[k].data(), losses[k].data(), in.targets.data(), s.N, s.V, s.Vp, 0.25f, true);
    }
    for (int k = 1; k < 3; ++k) {
      EXPECT_TRUE(BitIdentical(losses[0], losses[k])) << "pad " << pads[k];
      EXPECT_TRUE(BitIdentical(dlogits[0], dlogits[k])) << "pad " << pads[k];
    }
  }
}

TEST(SoftmaxCrossEntropy, LossesWithoutGradientAreTheSame) {
  std::mt19937 rng(703);
  for (const ClassifierShape& s : kShapes) {
    SCOPED_TRACE(Describe(s));
    const ClassifierInputs in = MakeInputs(rng, s);
    std::vector<float> with_grad = in.logits, without_grad = in.logits;
    std::vector<float> losses_with(s.N), losses_without = Poisoned(s.N);
    cpu::SoftmaxCrossEntropy(with_grad.data(), losses_with.data(), in.targets.data(), s.N, s.V, s.Vp, 0.5f, true);
    cpu::SoftmaxCrossEntropy(without_grad.data(), losses_without.data(), in.targets.data(), s.N, s.V, s.Vp, 0.5f,
                             false);
    EXPECT_TRUE(BitIdentical(losses_with, std::vector<float>(losses_without.begin(), losses_without.begin() + s.N)));
    EXPECT_TRUE(GuardIntact(losses_without, s.N));
  }
}

TEST(SoftmaxCrossEntropy, UniformLogitsGiveLogVAndSmallDlossScalesTheGradient) {
  const int N = 2, V = 19, Vp = 24;
  std::vector<float> logits((size_t)N * Vp, 3.0f), losses(N);
  const std::vector<int> targets = {0, 18};
  const float dloss = 1e-3f;
  cpu::SoftmaxCrossEntropy(logits.data(), losses.data(), targets.data(), N, V, Vp, dloss, true);
  for (int n = 0; n < N; ++n) {
    EXPECT_NEAR(losses[n], std::log((double)V), 1e-6);
    for (int j = 0; j < V; ++j) {
      const double want = (1.0 / V - (j == targets[n] ? 1.0 : 0.0)) * dloss;
      EXPECT_NEAR(logits[(size_t)n * Vp + j], want, 1e-6 * dloss) << "n=" << n << " j=" << j;
    }
  }
}

TEST(SoftmaxCrossEntropy, DoubleReferenceGradientMatchesFiniteDifferences) {
  std::mt19937 rng(704);
  const int N = 3, V = 7, Vp = 9;
  const double dloss = 1.0 / 3.0;
  const std::vector<double> logits = ToDouble(RandomFloats(rng, (size_t)N * Vp, -3.0f, 3.0f));
  const std::vector<int> targets = RandomInts(rng, N, 0, V - 1);
  std::vector<double> losses(N), dlogits(logits.size());
  ref::SoftmaxCrossEntropy(losses.data(), dlogits.data(), logits.data(), targets.data(), N, V, Vp, dloss);
  auto total_loss = [&](const std::vector<double>& x) {
    ref::SoftmaxCrossEntropy(losses.data(), nullptr, x.data(), targets.data(), N, V, Vp, dloss);
    double sum = 0.0;
    for (double l : losses) sum += l;
    return dloss * sum;
  };
  // Padded columns included: their finite-difference gradient is 0 too.
  EXPECT_TRUE(AllClose(dlogits, ref::FiniteDifferenceGradient(total_loss, logits), kFiniteDiffTol));
}

// ---- SoftmaxRow -----------------------------------------------------------

TEST(SoftmaxRow, MatchesDoubleReferenceAndSumsToOneAtEveryTemperature) {
  std::mt19937 rng(711);
  for (int V : {1, 7, 33, 1000, 50257}) {
    for (float temperature : {0.3f, 1.0f, 2.5f}) {
      SCOPED_TRACE(testing::Message() << "V=" << V << " temperature=" << temperature);
      const std::vector<float> logits = RandomFloats(rng, V, -5.0f, 5.0f);
      std::vector<float> probs = Poisoned(V);
      cpu::SoftmaxRow(probs.data(), logits.data(), V, temperature);
      std::vector<double> want(V);
      ref::SoftmaxRow(want.data(), ToDouble(logits).data(), V, temperature);
      EXPECT_TRUE(AllClose(probs, want, kForwardTol));
      EXPECT_TRUE(GuardIntact(probs, V));
      double sum = 0.0;
      for (int j = 0; j < V; ++j) {
        EXPECT_GE(probs[j], 0.0f);
        sum += probs[j];
      }
      EXPECT_NEAR(sum, 1.0, 1e-6);
    }
  }
}

TEST(SoftmaxRow, TemperatureDividesTheLogits) {
  std::mt19937 rng(712);
  const int V = 33;
  const std::vector<float> logits = RandomFloats(rng, V, -3.0f, 3.0f);
  const int top = (int)(std::max_element(logits.begin(), logits.end()) - logits.begin());
  float top_prob_prev = 2.0f;
  for (float temperature : {0.25f, 0.5f, 1.0f, 2.0f, 4.0f}) {
    SCOPED_TRACE(testing::Message() << "temperature=" << temperature);
    std::vector<float> probs(V), scaled(V), probs_of_scaled(V);
    cpu::SoftmaxRow(probs.data(), logits.data(), V, temperature);
    // softmax(l / T) at T equals softmax of (l / T) at 1.
    for (int j = 0; j < V; ++j) scaled[j] = logits[j] / temperature;
    cpu::SoftmaxRow(probs_of_scaled.data(), scaled.data(), V, 1.0f);
    EXPECT_TRUE(AllClose(probs, ToDouble(probs_of_scaled), kForwardTol));
    // Probability ratios are exp((l_i - l_j) / T).
    for (int j = 0; j < V; ++j)
      EXPECT_NEAR(std::log((double)probs[j] / probs[top]), ((double)logits[j] - logits[top]) / temperature, 1e-5);
    // Hotter is flatter: the top token's share falls as T rises.
    EXPECT_LT(probs[top], top_prob_prev);
    top_prob_prev = probs[top];
  }
}

}  // namespace
}  // namespace meridian
