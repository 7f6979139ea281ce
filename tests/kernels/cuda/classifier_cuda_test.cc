#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/classifier.h"
#include "kernels/cuda/classifier.cuh"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace meridian {
namespace {

using namespace cuda_test;

template <typename T>
class SoftmaxCrossEntropyCuda : public testing::Test {};
using StorageTypes = testing::Types<float, bf16>;
TYPED_TEST_SUITE(SoftmaxCrossEntropyCuda, StorageTypes);

struct ClassifierShape {
  int N, V, Vp;
};

// V = 1, V == Vp, fewer columns than the block has threads, an odd row
// count, and GPT-2's vocabulary padded to 50304 on a few rows.
const ClassifierShape kShapes[] = {{2, 1, 8}, {3, 77, 77}, {7, 77, 80}, {33, 1000, 1024}, {5, 50257, 50304}};

std::string Describe(const ClassifierShape& s) {
  return "N=" + std::to_string(s.N) + " V=" + std::to_string(s.V) + " Vp=" + std::to_string(s.Vp);
}

struct ClassifierInputs {
  std::vector<float> logits;  // (N,Vp), rounded to the storage type
  std::vector<int> targets;   // (N)
};

template <typename T>
ClassifierInputs MakeInputs(std::mt19937& rng, const ClassifierShape& s) {
  ClassifierInputs in;
  in.logits = RandomFloats(rng, (size_t)s.N * s.Vp, -4.0f, 4.0f);
  // Row 0 shifted far up: exp() overflows unless the max is subtracted.
  for (int j = 0; j < s.V; ++j) in.logits[j] += 100.0f;
  in.logits = RoundTo<T>(in.logits);
  // NaN in the padded columns: reading one poisons the row's loss.
  for (int n = 0; n < s.N; ++n)
    for (int j = s.V; j < s.Vp; ++j) in.logits[(size_t)n * s.Vp + j] = NAN;
  std::uniform_int_distribution<int> dist(0, s.V - 1);
  in.targets.resize(s.N);
  for (int& t : in.targets) t = dist(rng);
  // The first and last real columns as targets too.
  in.targets[0] = s.V - 1;
  in.targets[s.N - 1] = 0;
  return in;
}

TYPED_TEST(SoftmaxCrossEntropyCuda, LossesAndGradientMatchTheCpuKernel) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1101);
  for (const ClassifierShape& s : kShapes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " " + Describe(s));
    const ClassifierInputs in = MakeInputs<T>(rng, s);
    const float dloss = 1.0f / (float)s.N;  // the mean over rows, as the model scales it
    const size_t NVp = (size_t)s.N * s.Vp;
    auto d_logits = Upload<T>(in.logits);
    auto d_targets = UploadInts(in.targets);
    auto d_losses = Poisoned<float>(s.N);
    const Status st = cuda::SoftmaxCrossEntropy<T>(d_logits.data(), d_losses.data(), d_targets.data(), s.N, s.V,
                                                   s.Vp, dloss, true, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> dlogits = in.logits;
    std::vector<float> losses(s.N);
    cpu::SoftmaxCrossEntropy(dlogits.data(), losses.data(), in.targets.data(), s.N, s.V, s.Vp, dloss, true);
    // Float math on the same inputs for both storage types; the sums of
    // exponentials are ordered differently.
    ExpectClose(Download(d_losses.data(), s.N), losses, Tolerance<float>(true), "losses");
    const std::vector<float> got = Download(d_logits.data(), NVp);
    ExpectClose(got, dlogits, Tolerance<T>(), "dlogits");
    for (int n = 0; n < s.N; ++n)
      for (int j = s.V; j < s.Vp; ++j) ASSERT_EQ(got[(size_t)n * s.Vp + j], 0.0f) << "row " << n << " column " << j;
  }
}

TYPED_TEST(SoftmaxCrossEntropyCuda, LossesWithoutGradientMatchTheCpuKernel) {
  using T = TypeParam;
  MERIDIAN_SKIP_WITHOUT_GPU();
  std::mt19937 rng(1102);
  for (const ClassifierShape& s : kShapes) {
    SCOPED_TRACE(std::string(TypeName<T>()) + " " + Describe(s));
    const ClassifierInputs in = MakeInputs<T>(rng, s);
    auto d_logits = Upload<T>(in.logits);
    auto d_targets = UploadInts(in.targets);
    auto d_losses = Poisoned<float>(s.N);
    const Status st = cuda::SoftmaxCrossEntropy<T>(d_logits.data(), d_losses.data(), d_targets.data(), s.N, s.V,
                                                   s.Vp, 1.0f, false, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<float> scratch = in.logits;
    std::vector<float> losses(s.N);
    cpu::SoftmaxCrossEntropy(scratch.data(), losses.data(), in.targets.data(), s.N, s.V, s.Vp, 1.0f, false);
    ExpectClose(Download(d_losses.data(), s.N), losses, Tolerance<float>(true), "losses");
  }
}

TEST(SoftmaxCrossEntropyCudaArguments, BadVocabularySizesAreRefusedAndNoRowsAreANoOp) {
  // Checked before any device work, so this runs without a GPU.
  EXPECT_EQ(cuda::SoftmaxCrossEntropy<float>(nullptr, nullptr, nullptr, 4, 0, 8, 1.0f, true, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::SoftmaxCrossEntropy<bf16>(nullptr, nullptr, nullptr, 4, 9, 8, 1.0f, true, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::SoftmaxCrossEntropy<float>(nullptr, nullptr, nullptr, -1, 8, 8, 1.0f, true, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(cuda::SoftmaxCrossEntropy<float>(nullptr, nullptr, nullptr, 4, 8, 8, 1.0f, true, nullptr).code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(cuda::SoftmaxCrossEntropy<bf16>(nullptr, nullptr, nullptr, 0, 8, 8, 1.0f, true, nullptr).ok());
}

}  // namespace
}  // namespace meridian
