// The pipeline runner alone: threads as stages (InProcessWorld) and a fake
// stage executor that adds one to what it is given, so what arrives where,
// in which order and in which slot is plain to check, for 1F1B and GPipe.
#include "runtime/parallel/pipeline_runner.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/runtime/comm/in_process_communicator.h"

namespace meridian {
namespace {

constexpr int kB = 2, kT = 3;
constexpr size_t kCount = kB * kT;  // one float per token crosses a boundary

// Stage s outputs its input + 1 (the first stage's input: the tokens); the
// last stage's loss is the mean of its output. Backward passes the output
// gradient through (the last stage starts from d mean = 1 / count).
class AddOneStage : public StageExecutor {
 public:
  AddOneStage(int slots, bool first, bool last)
      : first_(first), last_(last), out_(slots, std::vector<float>(kCount)), in_grad_(slots, std::vector<float>(kCount)),
        receive_(kCount) {}

  int num_slots() const override { return (int)out_.size(); }
  size_t boundary_count() const override { return kCount; }
  Status ZeroGrads() override { return Status::OK(); }
  void set_loss_scale(float) override {}
  Status Forward(int slot, const int* tokens, const float* input, const int* targets, bool) override {
    if (first_ != (tokens != nullptr) || first_ == (input != nullptr) || last_ != (targets != nullptr))
      return Status::Internal("wrong inputs for this stage");
    for (size_t j = 0; j < kCount; ++j) out_[slot][j] = (first_ ? (float)tokens[j] : input[j]) + 1.0f;
    Log('F', slot);
    return Status::OK();
  }
  const float* output(int slot) const override { return out_[slot].data(); }
  Status AddLoss(int slot) override {
    double mean = 0;
    for (float v : out_[slot]) mean += v;
    loss_sum_ += mean / kCount;
    return Status::OK();
  }
  Result<double> TakeLossSum() override {
    const double sum = loss_sum_;
    loss_sum_ = 0.0;
    return sum;
  }
  Status Backward(int slot, const float* output_grad) override {
    if (last_ != (output_grad == nullptr)) return Status::Internal("wrong output gradient for this stage");
    for (size_t j = 0; j < kCount; ++j) in_grad_[slot][j] = last_ ? 1.0f / kCount : output_grad[j];
    if (!last_) grads_seen.push_back(output_grad[kCount - 1]);
    Log('B', slot);
    ++backwards;
    return Status::OK();
  }
  Result<const float*> input_grad(int slot) override { return (const float*)in_grad_[slot].data(); }
  float* receive_buffer() override { return receive_.data(); }

  std::vector<std::string> log;  // "F<value>@<slot>" / "B<value>@<slot>"
  int backwards = 0;
  std::vector<float> grads_seen;  // the output gradients received, in order

 private:
  void Log(char action, int slot) {
    char entry[32];
    std::snprintf(entry, sizeof entry, "%c%d@%d", action, (int)out_[slot][0], slot);
    log.push_back(entry);
  }

  bool first_, last_;
  std::vector<std::vector<float>> out_, in_grad_;
  std::vector<float> receive_;
  double loss_sum_ = 0.0;
};

struct StageResult {
  std::vector<std::string> log;
  double loss_sum = 0;
  int backwards = 0;
  std::vector<float> grads_seen;
};

std::vector<StageResult> RunPipeline(PipelineScheduleKind kind, int stages, int microbatches, bool forward_only) {
  InProcessWorld world(stages);
  std::vector<StageResult> results(stages);
  Status s = RunRanks(world, [&](int stage, Communicator* pp) -> Status {
    AddOneStage executor(PipelineSlots(kind, stage, stages, microbatches), stage == 0, stage == stages - 1);
    PipelineRunner runner(&executor, pp, kind, microbatches, kB, kT);
    // Micro-batch i's tokens are all 10 * i, so every value names its micro-batch.
    auto fetch = [](int i, int* inputs, int* targets) {
      for (size_t j = 0; j < kCount; ++j) inputs[j] = targets[j] = 10 * i;
      return Status::OK();
    };
    StageResult& r = results[stage];
    if (forward_only) {
      MERIDIAN_RETURN_IF_ERROR(runner.RunForwardOnly(fetch, microbatches, &r.loss_sum));
    } else {
      MERIDIAN_RETURN_IF_ERROR(runner.RunStep(fetch, nullptr, &r.loss_sum));
    }
    r.log = executor.log;
    r.backwards = executor.backwards;
    r.grads_seen = executor.grads_seen;
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return results;
}

class PipelineRunnerTest : public ::testing::TestWithParam<PipelineScheduleKind> {};

TEST_P(PipelineRunnerTest, ActivationsFlowForwardAndEveryMicroBatchRunsOnceOnEveryStage) {
  const int stages = 3, microbatches = 4;
  std::vector<StageResult> r = RunPipeline(GetParam(), stages, microbatches, false);
  // The last stage sees micro-batch i's tokens plus one per stage.
  double expected_loss = 0;
  for (int i = 0; i < microbatches; ++i) expected_loss += 10 * i + stages;
  EXPECT_DOUBLE_EQ(r[stages - 1].loss_sum, expected_loss);
  for (int s = 0; s < stages; ++s) {
    EXPECT_EQ(r[s].backwards, microbatches) << "stage " << s;
    // Gradients flow back from the last stage unchanged.
    if (s < stages - 1) {
      EXPECT_EQ(r[s].grads_seen, std::vector<float>(microbatches, 1.0f / kCount)) << "stage " << s;
    }
    // The stage's actions in its schedule's order, on the right values.
    const std::vector<PipelineAction> schedule = BuildPipelineSchedule(GetParam(), s, stages, microbatches);
    ASSERT_EQ(r[s].log.size(), schedule.size()) << "stage " << s;
    const int slots = PipelineSlots(GetParam(), s, stages, microbatches);
    for (size_t k = 0; k < schedule.size(); ++k) {
      const PipelineAction& a = schedule[k];
      char want[32];
      std::snprintf(want, sizeof want, "%c%d@%d", a.forward ? 'F' : 'B', 10 * a.microbatch + s + 1,
                    a.microbatch % slots);
      EXPECT_EQ(r[s].log[k], want) << "stage " << s << " action " << k;
    }
  }
}

TEST_P(PipelineRunnerTest, ForwardOnlyRunsNoBackward) {
  std::vector<StageResult> r = RunPipeline(GetParam(), 2, 3, true);
  EXPECT_DOUBLE_EQ(r[1].loss_sum, 2 + 12 + 22);
  EXPECT_EQ(r[0].backwards + r[1].backwards, 0);
}

INSTANTIATE_TEST_SUITE_P(Schedules, PipelineRunnerTest,
                         ::testing::Values(PipelineScheduleKind::k1F1B, PipelineScheduleKind::kGPipe),
                         [](const auto& info) {
                           return std::string(info.param == PipelineScheduleKind::k1F1B ? "OneFOneB" : "GPipe");
                         });

}  // namespace
}  // namespace meridian
