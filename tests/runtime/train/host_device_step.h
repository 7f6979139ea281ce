// DeviceStep's contract for one pipeline stage, emulated in host memory, so
// the wiring around the GPU step (the pipeline runner, gradient sync,
// StageUpdate) is tested without a GPU. A CPU GPTModel does the math.
//
// Like the CUDA step it keeps two copies of the weights: params() is the
// float master copy that AdamW and the sync strategies update, and the
// model's own weights are the compute copy the forward reads (bf16 on a
// GPU). AdamW refreshes the compute copy of the weights it updates, and
// memory().WeightsChanged the whole of it, as on the device: wiring that
// forgets the refresh after an all-gather or an outer step computes with
// stale weights here too.
#pragma once

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/adamw.h"
#include "kernels/cpu/reduce.h"
#include "runtime/model/gpt_model.h"
#include "runtime/train/device_step.h"

namespace meridian {

class HostDeviceStep : public DeviceStep {
 public:
  HostDeviceStep(const GPTConfig& config, const StageSpec& stage, int slots, int B, int T,
                 const AdamWConfig& adam = AdamWConfig{}, unsigned long long seed = 7)
      : model_(config, stage, B, T, slots),
        adam_(adam),
        count_((size_t)B * T * config.n_embd),
        receive_(count_),
        input_grads_(stage.first ? 0 : slots, std::vector<float>(count_)),
        memory_(this) {
    model_.InitializeWeights(seed);
    master_.assign(model_.params(), model_.params() + model_.num_params());
    (void)SetOptimizerShard(0, model_.num_params());
  }
  const ParameterLayout& layout() const override { return model_.layout(); }
  int num_slots() const override { return model_.num_slots(); }
  Status Forward(int slot, const int* tokens, const float* input, const int* targets, int B, int T,
                 bool compute_grad) override {
    model_.Forward(tokens, input, targets, B, T, compute_grad, slot);
    return Status::OK();
  }
  const float* output(int slot) override { return model_.output_acts(slot); }
  Status AddLoss(int slot) override {
    loss_sum_ += model_.mean_loss(slot);
    return Status::OK();
  }
  Result<double> TakeLossSum() override { return std::exchange(loss_sum_, 0.0); }
  Status Backward(int slot, const float* output_grad) override {
    model_.Backward(output_grad, slot);
    return Status::OK();
  }
  Result<const float*> InputGrad(int slot) override {
    if (slot >= (int)input_grads_.size()) return Status::InvalidArgument("no input gradient");
    std::copy(model_.dinput(), model_.dinput() + count_, input_grads_[slot].begin());
    return (const float*)input_grads_[slot].data();
  }
  float* receive_buffer() override { return receive_.data(); }
  void set_loss_scale(float scale) override { model_.set_loss_scale(scale); }
  void set_backward_hook(std::function<void(int)> hook) override { model_.set_backward_hook(std::move(hook)); }
  Status ZeroGrads() override {
    model_.ZeroGrads();
    return Status::OK();
  }
  Result<double> GradSumOfSquares(size_t begin, size_t end) override {
    return cpu::SumOfSquares(model_.grads() + begin, end - begin);
  }
  float* grads() override { return model_.grads(); }
  float* params() override { return master_.data(); }
  StageMemory* memory() override { return &memory_; }

  Status SetOptimizerShard(size_t begin, size_t end) override {
    if (begin > end || end > model_.num_params()) return Status::InvalidArgument("shard outside the stage");
    shard_begin_ = begin;
    shard_end_ = end;
    m_.assign(end - begin, 0.0f);
    v_.assign(end - begin, 0.0f);
    return Status::OK();
  }
  // The CUDA step's walk: the tensors overlapping the shard, moments
  // indexed from its start, the compute copy of the shard refreshed.
  Status OptimizerStep(float lr, float grad_scale, long t) override {
    cpu::AdamWParams hp;
    hp.lr = lr;
    hp.beta1 = adam_.beta1;
    hp.beta2 = adam_.beta2;
    hp.eps = adam_.eps;
    hp.grad_scale = grad_scale;
    hp.step = t;
    for (const ParamTensorInfo& info : model_.layout().tensors()) {
      const size_t lo = std::max(shard_begin_, info.offset), hi = std::min(shard_end_, info.offset + info.count);
      if (lo >= hi) continue;
      hp.weight_decay = info.weight_decay ? adam_.weight_decay : 0.0f;
      const size_t k = lo - shard_begin_;
      cpu::AdamWUpdate(master_.data() + lo, model_.grads() + lo, m_.data() + k, v_.data() + k, hi - lo, hp);
      std::copy(master_.begin() + lo, master_.begin() + hi, model_.params() + lo);
    }
    ++optimizer_steps_;
    return Status::OK();
  }
  Status Download(float* params, float* m, float* v) override {
    if (params != nullptr) std::copy(master_.begin(), master_.end(), params);
    if (m != nullptr) std::copy(m_.begin(), m_.end(), m);
    if (v != nullptr) std::copy(v_.begin(), v_.end(), v);
    return Status::OK();
  }
  Status Upload(const float* params, const float* m, const float* v) override {
    if (params != nullptr) {
      std::copy(params, params + model_.num_params(), master_.begin());
      std::copy(params, params + model_.num_params(), model_.params());
    }
    if (m != nullptr) std::copy(m, m + m_.size(), m_.begin());
    if (v != nullptr) std::copy(v, v + v_.size(), v_.begin());
    return Status::OK();
  }
  Status SendHost(Communicator* comm, const float* host, size_t count, int peer, int tag) override {
    return comm->Send(host, count, peer, tag);
  }
  Status RecvHost(Communicator* comm, float* host, size_t count, int peer, int tag) override {
    return comm->Recv(host, count, peer, tag);
  }
  size_t activation_bytes() const override { return model_.activation_bytes(); }
  size_t state_bytes() const override { return (master_.size() + m_.size() + v_.size()) * sizeof(float); }
  std::string Describe() const override { return "host emulation"; }

  const std::vector<float>& m() const { return m_; }
  int weights_changed_calls() const { return weights_changed_calls_; }
  int optimizer_steps() const { return optimizer_steps_; }

  GPTModel model_;  // its weights are the compute copy

 private:
  // Host operations, and the compute copy refreshed from the master weights.
  class Memory : public StageMemory {
   public:
    explicit Memory(HostDeviceStep* step) : step_(step) {}
    Result<StageBuffer> Allocate(size_t count) override { return HostMemory()->Allocate(count); }
    Status Scale(float* data, size_t count, float factor) override { return HostMemory()->Scale(data, count, factor); }
    Status Copy(float* dst, const float* src, size_t count) override { return HostMemory()->Copy(dst, src, count); }
    Status ToHost(float* host, const float* src, size_t count) override {
      return HostMemory()->ToHost(host, src, count);
    }
    Status FromHost(float* dst, const float* host, size_t count) override {
      return HostMemory()->FromHost(dst, host, count);
    }
    Status WeightsChanged(float* params, size_t count) override {
      if (params != step_->master_.data() || count != step_->master_.size())
        return Status::InvalidArgument("WeightsChanged: not the stage's master weights");
      std::copy(step_->master_.begin(), step_->master_.end(), step_->model_.params());
      ++step_->weights_changed_calls_;
      return Status::OK();
    }

   private:
    HostDeviceStep* step_;
  };

  AdamWConfig adam_;
  size_t count_;
  std::vector<float> master_;
  std::vector<float> receive_;
  std::vector<std::vector<float>> input_grads_;
  std::vector<float> m_, v_;
  size_t shard_begin_ = 0, shard_end_ = 0;
  double loss_sum_ = 0.0;
  int weights_changed_calls_ = 0, optimizer_steps_ = 0;
  Memory memory_;
};

}  // namespace meridian
