// Runs one optimizer step's micro-batches through this rank's stage: the
// schedule's forwards and backwards on the stage's executor, activations
// sent forward and their gradients sent back through the pipeline group.
// It never knows the device: buffers go from the executor to the
// Communicator as they are. Sends are non-blocking (a blocking send in 1F1B
// can deadlock against the neighbour's send); receives block under the
// watchdog.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "runtime/comm/communicator.h"
#include "runtime/parallel/pipeline_schedule.h"
#include "runtime/parallel/stage_executor.h"

namespace meridian {

class PipelineRunner {
 public:
  // fetch(i, inputs, targets) fills micro-batch i's (B,T) tokens; it is
  // called on the first and last stage, in micro-batch order.
  using FetchFn = std::function<Status(int microbatch, int* inputs, int* targets)>;
  // Called before each backward with its micro-batch index.
  using BeforeBackwardFn = std::function<void(int microbatch)>;

  // REQUIRES: the executor has PipelineSlots(kind, stage, pp, microbatches)
  // slots; it and pp_group outlive the runner.
  PipelineRunner(StageExecutor* stage, Communicator* pp_group, PipelineScheduleKind kind, int microbatches, int B,
                 int T);

  // Runs the step; *loss_sum (last stage) is the sum of the micro-batches'
  // mean losses. Gradients accumulate in the executor's stage.
  Status RunStep(const FetchFn& fetch, const BeforeBackwardFn& before_backward, double* loss_sum);

  // Forward passes only (evaluation): `batches` micro-batches, no gradients.
  Status RunForwardOnly(const FetchFn& fetch, int batches, double* loss_sum);

  // Seconds this stage spent computing in the last step (forward+backward).
  double compute_s() const { return compute_s_; }

 private:
  Status Run(const std::vector<PipelineAction>& schedule, bool compute_grad, const FetchFn& fetch,
             const BeforeBackwardFn& before_backward, double* loss_sum);

  StageExecutor* executor_;
  Communicator* pp_;
  int stage_, num_stages_, microbatches_, B_, T_;
  std::vector<PipelineAction> schedule_;
  std::vector<int> inputs_, targets_;  // per slot, (B,T), host
  std::vector<std::unique_ptr<CommRequest>> act_send_, grad_send_;  // per slot
  double compute_s_ = 0.0;
};

}  // namespace meridian
