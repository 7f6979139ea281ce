#include <cstdio>
#include <vector>

#include "kernels/cuda/adamw.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/stream.h"
#include "runtime/comm/nccl_communicator.h"
#include "runtime/model/cuda/cuda_gpt_model.h"
#include "runtime/train/device_step.h"

namespace meridian {

namespace {

template <typename T>
class CudaStep : public DeviceStep {
 public:
  static Result<std::unique_ptr<DeviceStep>> Create(const GPTConfig& config, const DeviceStepOptions& o) {
    std::unique_ptr<CudaStep> step(new CudaStep(o));
    MERIDIAN_ASSIGN_OR_RETURN(step->model_, CudaGPTModel<T>::Create(config, o.max_batch, o.max_seq));
    MERIDIAN_RETURN_IF_ERROR(step->m_.Allocate(step->model_->num_params()));
    MERIDIAN_RETURN_IF_ERROR(step->v_.Allocate(step->model_->num_params()));
    cudaStream_t s = cuda::ComputeStream();
    MERIDIAN_CUDA_CHECK(cudaMemsetAsync(step->m_.data(), 0, step->m_.bytes(), s));
    MERIDIAN_CUDA_CHECK(cudaMemsetAsync(step->v_.data(), 0, step->v_.bytes(), s));
    return std::unique_ptr<DeviceStep>(std::move(step));
  }

  Status Forward(const int* tokens, const int* targets, int B, int T_len, bool compute_grad) override {
    return model_->Forward(tokens, targets, B, T_len, compute_grad);
  }
  Status Backward() override { return model_->Backward(); }
  void set_loss_scale(float scale) override { model_->set_loss_scale(scale); }
  void set_backward_hook(std::function<void(int)> hook) override { model_->set_backward_hook(std::move(hook)); }
  Status ZeroGrads() override { return model_->ZeroGrads(); }
  Result<double> MeanLoss() override { return model_->MeanLoss(); }
  Result<double> GradSumOfSquares() override { return model_->GradSumOfSquares(0, model_->num_params()); }
  float* grads() override { return model_->grads(); }

  Status OptimizerStep(float lr, float grad_scale, long t) override {
    cpu::AdamWParams hp;
    hp.lr = lr;
    hp.beta1 = options_.adam.beta1;
    hp.beta2 = options_.adam.beta2;
    hp.eps = options_.adam.eps;
    hp.grad_scale = grad_scale;
    hp.step = t;
    bf16* compute_copy = model_->compute_weights_bf16();
    for (const ParamTensorInfo& info : model_->layout().tensors()) {
      if (info.count == 0) continue;
      hp.weight_decay = info.weight_decay ? options_.adam.weight_decay : 0.0f;
      const size_t o = info.offset;
      MERIDIAN_RETURN_IF_ERROR(cuda::AdamWUpdate(model_->params() + o, model_->grads() + o, m_.data() + o,
                                                 v_.data() + o, info.count, hp, cuda::ComputeStream(),
                                                 compute_copy ? compute_copy + o : nullptr));
    }
    return Status::OK();
  }

  Status Download(float* params, float* m, float* v) override {
    cudaStream_t s = cuda::ComputeStream();
    if (params) MERIDIAN_RETURN_IF_ERROR(model_->DownloadParams(params));
    if (m) MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(m, m_.data(), m_.bytes(), cudaMemcpyDeviceToHost, s));
    if (v) MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(v, v_.data(), v_.bytes(), cudaMemcpyDeviceToHost, s));
    MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
    return Status::OK();
  }
  Status Upload(const float* params, const float* m, const float* v) override {
    cudaStream_t s = cuda::ComputeStream();
    if (params) MERIDIAN_RETURN_IF_ERROR(model_->UploadParams(params));
    if (m) MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(m_.data(), m, m_.bytes(), cudaMemcpyHostToDevice, s));
    if (v) MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(v_.data(), v, v_.bytes(), cudaMemcpyHostToDevice, s));
    MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
    return Status::OK();
  }

  size_t activation_bytes() const override { return model_->activation_bytes(); }
  size_t state_bytes() const override { return model_->weight_bytes() + m_.bytes() + v_.bytes(); }
  std::string Describe() const override {
    return std::string("GPU ") + std::to_string(cuda::CurrentDevice()) + ", " +
           cuda::DTypeName(cuda::DTypeOf<T>()) + (model_->gelu_fused() ? ", GELU fused into cuBLASLt" : "");
  }

 private:
  explicit CudaStep(const DeviceStepOptions& o) : options_(o) {}
  DeviceStepOptions options_;
  std::unique_ptr<CudaGPTModel<T>> model_;
  cuda::DeviceBuffer<float> m_, v_;
};

}  // namespace

Result<std::unique_ptr<DeviceStep>> CreateCudaStep(const GPTConfig& config, const DeviceStepOptions& options) {
  if (options.dtype == "fp32") return CudaStep<float>::Create(config, options);
  if (options.dtype == "bf16") return CudaStep<cuda::bf16>::Create(config, options);
  return Status::InvalidArgument("--dtype " + options.dtype + ": expected fp32 or bf16");
}

Result<std::unique_ptr<Communicator>> SetUpCudaWorld(std::unique_ptr<Communicator> host_world, int gpu) {
  int device = gpu;
  if (device < 0) {
    MERIDIAN_ASSIGN_OR_RETURN(device, PickLocalDevice());
  } else if (device >= cuda::DeviceCount()) {
    return Status::FailedPrecondition("rank " + std::to_string(host_world->rank()) + " was given GPU " +
                                      std::to_string(device) + " but this host has " +
                                      std::to_string(cuda::DeviceCount()) + " CUDA devices");
  }
  MERIDIAN_RETURN_IF_ERROR(cuda::InitializeDevice(device));
  cudaDeviceProp prop{};
  MERIDIAN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  std::fprintf(stderr, "[rank %d] GPU %d of %d: %s, %.0f GiB\n", host_world->rank(), device, cuda::DeviceCount(),
               prop.name, prop.totalGlobalMem / 1073741824.0);
  return CreateNcclCommunicator(std::move(host_world));
}

}  // namespace meridian
