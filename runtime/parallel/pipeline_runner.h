// Runs one optimizer step's micro-batches through this rank's stage: the
// schedule's forwards and backwards, activations sent forward and their
// gradients sent back through the pipeline group. Sends are non-blocking
// (a blocking send in 1F1B can deadlock against the neighbour's send);
// receives block under the watchdog.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "runtime/comm/communicator.h"
#include "runtime/model/gpt_model.h"
#include "runtime/parallel/pipeline_schedule.h"

namespace meridian {

class PipelineRunner {
 public:
  // fetch(i, inputs, targets) fills micro-batch i's (B,T) tokens; it is
  // called on the first and last stage, in micro-batch order.
  using FetchFn = std::function<Status(int microbatch, int* inputs, int* targets)>;
  // Called before each backward with its micro-batch index.
  using BeforeBackwardFn = std::function<void(int microbatch)>;

  // REQUIRES: model has PipelineSlots(kind, stage, pp, microbatches) slots.
  PipelineRunner(GPTModel* model, Communicator* pp_group, PipelineScheduleKind kind, int microbatches, int B, int T);

  // Runs the step; *loss_sum (last stage) is the sum of the micro-batches'
  // mean losses. Gradients accumulate into the model's gradient buffer.
  Status RunStep(const FetchFn& fetch, const BeforeBackwardFn& before_backward, double* loss_sum);

  // Forward passes only (evaluation): `batches` micro-batches, no gradients.
  Status RunForwardOnly(const FetchFn& fetch, int batches, double* loss_sum);

  // Seconds this stage spent computing in the last step (forward+backward).
  double compute_s() const { return compute_s_; }

 private:
  Status Run(const std::vector<PipelineAction>& schedule, bool compute_grad, const FetchFn& fetch,
             const BeforeBackwardFn& before_backward, double* loss_sum);

  GPTModel* model_;
  Communicator* pp_;
  int stage_, num_stages_, microbatches_, B_, T_;
  std::vector<PipelineAction> schedule_;
  std::vector<int> inputs_, targets_;  // per slot, (B,T)
  std::vector<float> recv_buffer_;
  std::vector<std::vector<float>> dinput_send_;  // per slot
  std::vector<std::unique_ptr<CommRequest>> act_send_, grad_send_;  // per slot
  double compute_s_ = 0.0;
};

}  // namespace meridian
