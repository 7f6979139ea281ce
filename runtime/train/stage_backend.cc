#include "runtime/train/stage_backend.h"

#include <fmt/format.h>

#include "runtime/train/device_stage_executor.h"

namespace meridian {

namespace {

class CpuBackend : public StageBackend {
 public:
  CpuBackend(const GPTConfig& config, const StageBackendOptions& o) {
    schedule_ = o.schedule;
    stage_index_ = o.stage_index;
    const int slots = PipelineSlots(schedule_, o.stage_index, o.pp, o.microbatches);
    model_ = std::make_unique<GPTModel>(config, o.stage, o.batch, o.seq, slots);
    executor_ = CpuStageExecutor(model_.get(), o.batch, o.seq);
  }
  StageMemory* memory() override { return HostMemory(); }
  void set_backward_hook(std::function<void(int)> hook) override { model_->set_backward_hook(std::move(hook)); }
  std::string Describe(const AdamWOptimizer& optimizer, bool zero1) const override {
    return fmt::format("stage {}, {} parameters, AdamW state {:.1f} MiB{}, activations {:.1f} MiB", stage_index_,
                       model_->num_params(), optimizer.state_bytes() / 1048576.0, zero1 ? " (ZeRO-1 shard)" : "",
                       model_->activation_bytes() / 1048576.0);
  }
  Result<std::unique_ptr<StageUpdate>> CreateUpdate(AdamWOptimizer* optimizer, GradientSync* sync) override {
    return StageUpdate::OnHost(model_.get(), optimizer, sync);
  }
  void ConnectHostTransfers(DistributedState*, Communicator*) override {}
  Status SyncHostCopy(AdamWOptimizer*) override { return Status::OK(); }
  Status UploadHostCopy(AdamWOptimizer*) override { return Status::OK(); }

 private:
  int stage_index_ = 0;
};

class DeviceBackend : public StageBackend {
 public:
  static Result<std::unique_ptr<StageBackend>> Create(const GPTConfig& config, const StageBackendOptions& o) {
    std::unique_ptr<DeviceBackend> b(new DeviceBackend());
    b->schedule_ = o.pp == 1 ? PipelineScheduleKind::k1F1B : o.schedule;
    // The host model is a parameter-only mirror: no activations.
    b->model_ = std::make_unique<GPTModel>(config, o.stage, 0, 0, 0);
    DeviceStepOptions d;
    d.dtype = o.dtype;
    d.max_batch = o.batch;
    d.max_seq = o.seq;
    d.stage = o.stage;  // the CPU stage's layout, so sync and checkpoints address it alike
    d.slots = PipelineSlots(b->schedule_, o.stage_index, o.pp, o.microbatches);
    d.adam = o.adam;
    MERIDIAN_ASSIGN_OR_RETURN(b->step_, CreateCudaStep(config, d));
    b->executor_ = DeviceStageExecutor(b->step_.get(), o.batch, o.seq);
    return std::unique_ptr<StageBackend>(std::move(b));
  }
  StageMemory* memory() override { return step_->memory(); }
  void set_backward_hook(std::function<void(int)> hook) override { step_->set_backward_hook(std::move(hook)); }
  std::string Describe(const AdamWOptimizer&, bool) const override {
    return fmt::format("{} | weights, gradients and AdamW state {:.1f} MiB, activations {:.1f} MiB", step_->Describe(),
                       step_->state_bytes() / 1048576.0, step_->activation_bytes() / 1048576.0);
  }
  Result<std::unique_ptr<StageUpdate>> CreateUpdate(AdamWOptimizer* optimizer, GradientSync* sync) override {
    return StageUpdate::OnDevice(step_.get(), optimizer, sync);
  }
  void ConnectHostTransfers(DistributedState* state, Communicator* world) override {
    state->set_host_transfer(
        [this, world](const float* host, size_t n, int peer, int tag) {
          return step_->SendHost(world, host, n, peer, tag);
        },
        [this, world](float* host, size_t n, int peer, int tag) { return step_->RecvHost(world, host, n, peer, tag); });
  }
  Status SyncHostCopy(AdamWOptimizer* optimizer) override {
    return step_->Download(model_->params(), optimizer ? optimizer->m().data() : nullptr,
                           optimizer ? optimizer->v().data() : nullptr);
  }
  Status UploadHostCopy(AdamWOptimizer* optimizer) override {
    return step_->Upload(model_->params(), optimizer->m().data(), optimizer->v().data());
  }

 private:
  DeviceBackend() = default;
  std::unique_ptr<DeviceStep> step_;
};

}  // namespace

Result<std::unique_ptr<StageBackend>> StageBackend::Create(const GPTConfig& config, const StageBackendOptions& o) {
  switch (o.device) {
    case Device::kCpu: return std::unique_ptr<StageBackend>(std::make_unique<CpuBackend>(config, o));
    case Device::kCuda: return DeviceBackend::Create(config, o);
  }
  return Status::InvalidArgument(std::string("--device ") + kDevices.Name(o.device) + ": no stage backend");
}

}  // namespace meridian
