#include "runtime/train/stage_update.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/reduce.h"

namespace meridian {

Result<double> StageUpdate::GlobalGradNorm() {
  // Sum of squares over the gradients this rank is the owner of: its ZeRO
  // shard, or (without ZeRO, where replicas hold equal gradients) its stage
  // on replica 0 only. The last stage skips the tied embedding when the
  // first stage also holds it, so it counts once. Device gradients stay on
  // the device; only the sums come back.
  double local = 0.0;
  const size_t shard_begin = sync_->shard_begin(), shard_end = sync_->shard_end();
  size_t skip_begin = 0, skip_end = 0;
  const StageSpec& s = layout_.stage();
  if (s.last && !s.first) {
    skip_begin = layout_.tensor(kWte).offset;
    skip_end = skip_begin + layout_.tensor(kWte).count;
  }
  auto add = [&](size_t lo, size_t hi) -> Status {
    if (lo >= hi) return Status::OK();
    MERIDIAN_ASSIGN_OR_RETURN(double sum, GradSumOfSquares(lo, hi));
    local += sum;
    return Status::OK();
  };
  MERIDIAN_RETURN_IF_ERROR(add(shard_begin, std::min(shard_end, std::max(shard_begin, skip_begin))));
  MERIDIAN_RETURN_IF_ERROR(add(std::max(shard_begin, skip_end), shard_end));
  MERIDIAN_RETURN_IF_ERROR(sync_->norm_group()->AllReduceDouble(&local, 1, ReduceOp::kSum));
  return std::sqrt(local);
}

namespace {

class HostStageUpdate : public StageUpdate {
 public:
  HostStageUpdate(GPTModel* model, AdamWOptimizer* optimizer, GradientSync* sync)
      : StageUpdate(model->layout(), optimizer, sync), model_(model) {}

  float* grads() override { return model_->grads(); }
  float* params() override { return model_->params(); }
  Status OptimizerStep(float lr, float grad_scale) override {
    optimizer_->Step(model_->params(), model_->grads(), lr, grad_scale);
    return sync_->AfterOptimizerStep(model_->params());
  }

 private:
  Result<double> GradSumOfSquares(size_t begin, size_t end) override {
    return cpu::SumOfSquares(model_->grads() + begin, end - begin);
  }
  GPTModel* model_;
};

class DeviceStageUpdate : public StageUpdate {
 public:
  DeviceStageUpdate(DeviceStep* step, AdamWOptimizer* optimizer, GradientSync* sync)
      : StageUpdate(step->layout(), optimizer, sync), step_(step) {}

  float* grads() override { return step_->grads(); }
  float* params() override { return step_->params(); }
  Status OptimizerStep(float lr, float grad_scale) override {
    // The host optimizer keeps the step count that checkpoints carry.
    optimizer_->set_step(optimizer_->step() + 1);
    MERIDIAN_RETURN_IF_ERROR(step_->OptimizerStep(lr, grad_scale, optimizer_->step()));
    return sync_->AfterOptimizerStep(step_->params());
  }

 private:
  Result<double> GradSumOfSquares(size_t begin, size_t end) override { return step_->GradSumOfSquares(begin, end); }
  DeviceStep* step_;
};

}  // namespace

std::unique_ptr<StageUpdate> StageUpdate::OnHost(GPTModel* model, AdamWOptimizer* optimizer, GradientSync* sync) {
  return std::make_unique<HostStageUpdate>(model, optimizer, sync);
}

Result<std::unique_ptr<StageUpdate>> StageUpdate::OnDevice(DeviceStep* step, AdamWOptimizer* optimizer,
                                                           GradientSync* sync) {
  if (optimizer->begin() != sync->shard_begin() || optimizer->end() != sync->shard_end())
    return Status::InvalidArgument("stage update: the optimizer's range [" + std::to_string(optimizer->begin()) +
                                   "," + std::to_string(optimizer->end()) + ") is not the sync's shard [" +
                                   std::to_string(sync->shard_begin()) + "," + std::to_string(sync->shard_end()) +
                                   ")");
  MERIDIAN_RETURN_IF_ERROR(step->SetOptimizerShard(sync->shard_begin(), sync->shard_end()));
  return std::unique_ptr<StageUpdate>(new DeviceStageUpdate(step, optimizer, sync));
}

}  // namespace meridian
