#include "runtime/parallel/stage_executor.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace meridian {

namespace {

class CpuExecutor : public StageExecutor {
 public:
  CpuExecutor(GPTModel* model, int B, int T)
      : model_(model),
        B_(B),
        T_(T),
        count_((size_t)B * T * model->config().n_embd),
        receive_(count_, 0.0f),
        input_grad_(model->layout().stage().first ? 0 : model->num_slots(), std::vector<float>(count_)) {}

  int num_slots() const override { return model_->num_slots(); }
  size_t boundary_count() const override { return count_; }
  Status ZeroGrads() override {
    model_->ZeroGrads();
    return Status::OK();
  }
  void set_loss_scale(float scale) override { model_->set_loss_scale(scale); }

  Status Forward(int slot, const int* tokens, const float* input, const int* targets, bool compute_grad) override {
    model_->Forward(tokens, input, targets, B_, T_, compute_grad, slot);
    return Status::OK();
  }
  const float* output(int slot) const override { return model_->output_acts(slot); }
  Status AddLoss(int slot) override {
    loss_sum_ += model_->mean_loss(slot);
    return Status::OK();
  }
  Result<double> TakeLossSum() override { return std::exchange(loss_sum_, 0.0); }
  Status Backward(int slot, const float* output_grad) override {
    model_->Backward(output_grad, slot);
    return Status::OK();
  }
  // The model keeps one input gradient; the slot's copy lives while its
  // send to the previous stage is in flight.
  Result<const float*> input_grad(int slot) override {
    std::copy(model_->dinput(), model_->dinput() + count_, input_grad_[slot].begin());
    return (const float*)input_grad_[slot].data();
  }
  float* receive_buffer() override { return receive_.data(); }

 private:
  GPTModel* model_;
  int B_, T_;
  size_t count_;
  std::vector<float> receive_;
  std::vector<std::vector<float>> input_grad_;  // per slot; none on the first stage
  double loss_sum_ = 0.0;
};

}  // namespace

std::unique_ptr<StageExecutor> CpuStageExecutor(GPTModel* model, int B, int T) {
  return std::make_unique<CpuExecutor>(model, B, T);
}

}  // namespace meridian
