#include "runtime/train/device_stage_executor.h"

namespace meridian {

namespace {

class WholeModelExecutor : public StageExecutor {
 public:
  WholeModelExecutor(DeviceStep* step, int B, int T) : step_(step), B_(B), T_(T) {}

  int num_slots() const override { return 1; }
  size_t boundary_count() const override { return 0; }
  Status ZeroGrads() override { return step_->ZeroGrads(); }
  void set_loss_scale(float scale) override { step_->set_loss_scale(scale); }

  Status Forward(int slot, const int* tokens, const float* input, const int* targets, bool compute_grad) override {
    if (slot != 0 || input != nullptr)
      return Status::FailedPrecondition("the GPU step runs the whole model, one micro-batch at a time");
    return step_->Forward(tokens, targets, B_, T_, compute_grad);
  }
  const float* output(int) const override { return nullptr; }
  Status AddLoss(int, double* sum) override {
    MERIDIAN_ASSIGN_OR_RETURN(double loss, step_->MeanLoss());
    *sum += loss;
    return Status::OK();
  }
  Status Backward(int slot, const float* output_grad) override {
    if (slot != 0 || output_grad != nullptr)
      return Status::FailedPrecondition("the GPU step runs the whole model, one micro-batch at a time");
    return step_->Backward();
  }
  const float* input_grad(int) override { return nullptr; }
  float* receive_buffer() override { return nullptr; }

 private:
  DeviceStep* step_;
  int B_, T_;
};

}  // namespace

std::unique_ptr<StageExecutor> DeviceStageExecutor(DeviceStep* step, int B, int T) {
  return std::make_unique<WholeModelExecutor>(step, B, T);
}

}  // namespace meridian
