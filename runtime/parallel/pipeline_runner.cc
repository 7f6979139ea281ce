#include "runtime/parallel/pipeline_runner.h"

#include <chrono>

namespace meridian {

namespace {
int ActTag(int microbatch) { return 2 * microbatch; }
int GradTag(int microbatch) { return 2 * microbatch + 1; }
}  // namespace

PipelineRunner::PipelineRunner(StageExecutor* stage, Communicator* pp_group, PipelineScheduleKind kind,
                               int microbatches, int B, int T)
    : executor_(stage), pp_(pp_group), stage_(pp_group->rank()), num_stages_(pp_group->size()),
      microbatches_(microbatches), B_(B), T_(T) {
  schedule_ = BuildPipelineSchedule(kind, stage_, num_stages_, microbatches);
  const int slots = stage->num_slots();
  inputs_.assign((size_t)slots * B * T, 0);
  targets_.assign((size_t)slots * B * T, 0);
  act_send_.resize(slots);
  grad_send_.resize(slots);
}

Status PipelineRunner::RunStep(const FetchFn& fetch, const BeforeBackwardFn& before_backward, double* loss_sum) {
  return Run(schedule_, true, fetch, before_backward, loss_sum);
}

Status PipelineRunner::RunForwardOnly(const FetchFn& fetch, int batches, double* loss_sum) {
  std::vector<PipelineAction> forwards;
  for (int i = 0; i < batches; ++i) forwards.push_back({true, i});
  return Run(forwards, false, fetch, nullptr, loss_sum);
}

Status PipelineRunner::Run(const std::vector<PipelineAction>& schedule, bool compute_grad, const FetchFn& fetch,
                           const BeforeBackwardFn& before_backward, double* loss_sum) {
  const bool first = stage_ == 0, last = stage_ == num_stages_ - 1;
  const int slots = executor_->num_slots();
  const size_t BT = (size_t)B_ * T_, count = executor_->boundary_count();
  *loss_sum = 0.0;
  compute_s_ = 0.0;
  auto timed = [&](auto&& f) -> Status {
    const auto t0 = std::chrono::steady_clock::now();
    Status s = f();
    compute_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return s;
  };
  // A slot's buffers are reused once the send that reads them is done.
  auto wait = [](std::unique_ptr<CommRequest>& request) -> Status {
    if (!request) return Status::OK();
    Status s = request->Wait();
    request.reset();
    return s;
  };
  for (const PipelineAction& a : schedule) {
    const int slot = a.microbatch % slots;
    int* inputs = inputs_.data() + slot * BT;
    int* targets = targets_.data() + slot * BT;
    if (a.forward) {
      MERIDIAN_RETURN_IF_ERROR(wait(act_send_[slot]));
      if (first || last) MERIDIAN_RETURN_IF_ERROR(fetch(a.microbatch, inputs, targets));
      float* input = nullptr;
      if (!first) {
        input = executor_->receive_buffer();
        MERIDIAN_RETURN_IF_ERROR(pp_->Recv(input, count, stage_ - 1, ActTag(a.microbatch)));
      }
      MERIDIAN_RETURN_IF_ERROR(timed([&] {
        return executor_->Forward(slot, first ? inputs : nullptr, input, last ? targets : nullptr, compute_grad);
      }));
      if (last) {
        MERIDIAN_RETURN_IF_ERROR(executor_->AddLoss(slot));
      } else {
        MERIDIAN_ASSIGN_OR_RETURN(act_send_[slot],
                                  pp_->ISend(executor_->output(slot), count, stage_ + 1, ActTag(a.microbatch)));
      }
    } else {
      float* output_grad = nullptr;
      if (!last) {
        output_grad = executor_->receive_buffer();
        MERIDIAN_RETURN_IF_ERROR(pp_->Recv(output_grad, count, stage_ + 1, GradTag(a.microbatch)));
      }
      if (before_backward) before_backward(a.microbatch);
      MERIDIAN_RETURN_IF_ERROR(timed([&] { return executor_->Backward(slot, output_grad); }));
      if (!first) {
        MERIDIAN_RETURN_IF_ERROR(wait(grad_send_[slot]));  // input_grad rewrites the slot's buffer
        MERIDIAN_ASSIGN_OR_RETURN(const float* input_grad, executor_->input_grad(slot));
        MERIDIAN_ASSIGN_OR_RETURN(grad_send_[slot], pp_->ISend(input_grad, count, stage_ - 1, GradTag(a.microbatch)));
      }
    }
  }
  for (auto* list : {&act_send_, &grad_send_}) {
    for (auto& req : *list) {
      if (req) MERIDIAN_RETURN_IF_ERROR(req->Wait());
      req.reset();
    }
  }
  if (last) {
    MERIDIAN_ASSIGN_OR_RETURN(*loss_sum, executor_->TakeLossSum());
  }
  return Status::OK();
}

}  // namespace meridian
