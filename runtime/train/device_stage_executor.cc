#include "runtime/train/device_stage_executor.h"

#include <string>

namespace meridian {

namespace {

class StepExecutor : public StageExecutor {
 public:
  StepExecutor(DeviceStep* step, int B, int T)
      : step_(step), B_(B), T_(T), count_((size_t)B * T * step->layout().config().n_embd) {}

  int num_slots() const override { return step_->num_slots(); }
  size_t boundary_count() const override { return count_; }
  Status ZeroGrads() override { return step_->ZeroGrads(); }
  void set_loss_scale(float scale) override { step_->set_loss_scale(scale); }

  // The stage's role decides which inputs it takes; a mismatch is a wiring
  // error, reported here rather than as a device fault.
  Status Forward(int slot, const int* tokens, const float* input, const int* targets, bool compute_grad) override {
    MERIDIAN_RETURN_IF_ERROR(CheckSlot(slot));
    const StageSpec& s = stage();
    if (s.first != (tokens != nullptr) || s.first == (input != nullptr))
      return Status::FailedPrecondition(Name() + (s.first ? " takes tokens, not activations"
                                                          : " takes activations from the previous stage"));
    if (targets != nullptr && !s.last) return Status::FailedPrecondition(Name() + " has no loss to take targets for");
    return step_->Forward(slot, tokens, input, targets, B_, T_, compute_grad);
  }
  const float* output(int slot) const override { return step_->output(slot); }
  Status AddLoss(int slot) override {
    MERIDIAN_RETURN_IF_ERROR(CheckSlot(slot));
    return step_->AddLoss(slot);
  }
  Result<double> TakeLossSum() override { return step_->TakeLossSum(); }
  Status Backward(int slot, const float* output_grad) override {
    MERIDIAN_RETURN_IF_ERROR(CheckSlot(slot));
    if (stage().last != (output_grad == nullptr))
      return Status::FailedPrecondition(Name() + (stage().last ? " starts its backward from the loss"
                                                               : " needs the gradient of its output"));
    return step_->Backward(slot, output_grad);
  }
  Result<const float*> input_grad(int slot) override {
    MERIDIAN_RETURN_IF_ERROR(CheckSlot(slot));
    return step_->InputGrad(slot);
  }
  float* receive_buffer() override { return step_->receive_buffer(); }

 private:
  const StageSpec& stage() const { return step_->layout().stage(); }
  std::string Name() const {
    return "the GPU stage holding layers [" + std::to_string(stage().layer_begin) + "," +
           std::to_string(stage().layer_end) + ")";
  }
  Status CheckSlot(int slot) const {
    if (slot < 0 || slot >= step_->num_slots())
      return Status::FailedPrecondition(Name() + " has " + std::to_string(step_->num_slots()) +
                                        " micro-batch slots, not slot " + std::to_string(slot));
    return Status::OK();
  }

  DeviceStep* step_;
  int B_, T_;
  size_t count_;
};

}  // namespace

std::unique_ptr<StageExecutor> DeviceStageExecutor(DeviceStep* step, int B, int T) {
  return std::make_unique<StepExecutor>(step, B, T);
}

}  // namespace meridian
