#include "runtime/parallel/pipeline_runner.h"

#include <chrono>

namespace meridian {

namespace {
int ActTag(int microbatch) { return 2 * microbatch; }
int GradTag(int microbatch) { return 2 * microbatch + 1; }
}  // namespace

PipelineRunner::PipelineRunner(GPTModel* model, Communicator* pp_group, PipelineScheduleKind kind, int microbatches,
                               int B, int T)
    : model_(model), pp_(pp_group), stage_(pp_group->rank()), num_stages_(pp_group->size()),
      microbatches_(microbatches), B_(B), T_(T) {
  schedule_ = BuildPipelineSchedule(kind, stage_, num_stages_, microbatches);
  const int slots = model->num_slots();
  const size_t btc = (size_t)B * T * model->config().n_embd;
  inputs_.assign((size_t)slots * B * T, 0);
  targets_.assign((size_t)slots * B * T, 0);
  recv_buffer_.assign(btc, 0.0f);
  dinput_send_.assign(slots, std::vector<float>(stage_ > 0 ? btc : 0));
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
  const int slots = model_->num_slots();
  const size_t BT = (size_t)B_ * T_, btc = BT * model_->config().n_embd;
  *loss_sum = 0.0;
  compute_s_ = 0.0;
  auto timed = [&](auto&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    compute_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  for (const PipelineAction& a : schedule) {
    const int slot = a.microbatch % slots;
    int* inputs = inputs_.data() + slot * BT;
    int* targets = targets_.data() + slot * BT;
    if (a.forward) {
      // The slot's previous activations may still be on their way out.
      if (act_send_[slot]) {
        MERIDIAN_RETURN_IF_ERROR(act_send_[slot]->Wait());
        act_send_[slot].reset();
      }
      if (first || last) MERIDIAN_RETURN_IF_ERROR(fetch(a.microbatch, inputs, targets));
      if (!first) MERIDIAN_RETURN_IF_ERROR(pp_->Recv(recv_buffer_.data(), btc, stage_ - 1, ActTag(a.microbatch)));
      timed([&] {
        model_->Forward(first ? inputs : nullptr, first ? nullptr : recv_buffer_.data(), last ? targets : nullptr,
                        B_, T_, compute_grad, slot);
      });
      if (last) {
        *loss_sum += model_->mean_loss(slot);
      } else {
        MERIDIAN_ASSIGN_OR_RETURN(act_send_[slot],
                                  pp_->ISend(model_->output_acts(slot), btc, stage_ + 1, ActTag(a.microbatch)));
      }
    } else {
      if (!last) MERIDIAN_RETURN_IF_ERROR(pp_->Recv(recv_buffer_.data(), btc, stage_ + 1, GradTag(a.microbatch)));
      if (before_backward) before_backward(a.microbatch);
      timed([&] { model_->Backward(last ? nullptr : recv_buffer_.data(), slot); });
      if (!first) {
        if (grad_send_[slot]) {
          MERIDIAN_RETURN_IF_ERROR(grad_send_[slot]->Wait());
          grad_send_[slot].reset();
        }
        std::copy(model_->dinput(), model_->dinput() + btc, dinput_send_[slot].begin());
        MERIDIAN_ASSIGN_OR_RETURN(grad_send_[slot],
                                  pp_->ISend(dinput_send_[slot].data(), btc, stage_ - 1, GradTag(a.microbatch)));
      }
    }
  }
  for (auto* list : {&act_send_, &grad_send_}) {
    for (auto& req : *list) {
      if (req) MERIDIAN_RETURN_IF_ERROR(req->Wait());
      req.reset();
    }
  }
  return Status::OK();
}

}  // namespace meridian
