#include "runtime/train/stage_backend.h"

#include <gtest/gtest.h>

#include "tests/runtime/checkpoint/test_util.h"

namespace meridian {
namespace {

StageBackendOptions LastOfTwoStages(Device device, PipelineScheduleKind schedule) {
  StageBackendOptions o;
  o.device = device;
  o.batch = 2;
  o.seq = 8;
  o.stage = StageSpec{1, 2, false, true};
  o.stage_index = 1;
  o.pp = 2;
  o.microbatches = 4;
  o.schedule = schedule;
  return o;
}

TEST(StageBackend, TheCpuComputesOnTheHostModelWithItsScheduleAndActivations) {
  for (PipelineScheduleKind kind : {PipelineScheduleKind::k1F1B, PipelineScheduleKind::kGPipe}) {
    auto backend = StageBackend::Create(testing_util::TinyConfig(), LastOfTwoStages(Device::kCpu, kind));
    ASSERT_TRUE(backend.ok()) << backend.status().ToString();
    StageBackend& b = **backend;
    EXPECT_EQ(b.schedule(), kind);
    ASSERT_NE(b.model(), nullptr);
    ASSERT_NE(b.executor(), nullptr);
    EXPECT_EQ(b.memory(), HostMemory());
    EXPECT_EQ(b.model()->layout().stage().layer_begin, 1);
    EXPECT_GT(b.model()->activation_bytes(), 0u);
    // Nothing to copy between host and device.
    EXPECT_TRUE(b.SyncHostCopy(nullptr).ok());
  }
}

TEST(StageBackend, TheHookSeesTheCpuBackwardOfEveryLocalLayer) {
  auto backend = StageBackend::Create(testing_util::TinyConfig(), LastOfTwoStages(Device::kCpu, PipelineScheduleKind::k1F1B));
  ASSERT_TRUE(backend.ok());
  StageBackend& b = **backend;
  std::vector<int> layers;
  b.set_backward_hook([&](int layer) { layers.push_back(layer); });
  b.model()->InitializeWeights(1);
  std::vector<int> targets(2 * 8, 3);
  std::vector<float> input(b.executor()->boundary_count(), 0.1f);  // the previous stage's activations
  ASSERT_TRUE(b.executor()->ZeroGrads().ok());
  ASSERT_TRUE(b.executor()->Forward(0, nullptr, input.data(), targets.data(), true).ok());
  ASSERT_TRUE(b.executor()->Backward(0, nullptr).ok());
  EXPECT_EQ(layers, (std::vector<int>{0, -1}));  // its one layer, then the embeddings' turn
}

// Without a GPU (or without CUDA in the build) the device backend is
// refused with a reason, never half made.
TEST(StageBackend, CudaWithoutADeviceIsRefusedByName) {
  auto backend = StageBackend::Create(testing_util::TinyConfig(), LastOfTwoStages(Device::kCuda, PipelineScheduleKind::kGPipe));
  if (backend.ok()) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_FALSE(backend.status().message().empty());
}

}  // namespace
}  // namespace meridian
