#include <algorithm>
#include <cstdio>
#include <vector>

#include "kernels/cuda/adamw.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/stream.h"
#include "runtime/comm/nccl_communicator.h"
#include "runtime/model/cuda/cuda_gpt_model.h"
#include "runtime/train/device_step.h"

namespace meridian {

namespace {

// The GPU's memory for the gradient-sync strategies. Everything runs on the
// compute stream, which the NCCL communicator orders its operations after
// (and waits for them on), so kernels, copies and collectives see each
// other's results in call order. Copies to and from the host wait for the
// stream: the host buffers are ordinary (pageable) memory the caller reuses
// at once, and the strategies use them once per outer round at most.
class CudaStageMemory : public StageMemory {
 public:
  // `compute_copy` (may be null: fp32 compute) mirrors the master weights
  // `params` (n floats) in bf16.
  CudaStageMemory(float* params, size_t n, bf16* compute_copy) : params_(params), n_(n), compute_copy_(compute_copy) {}

  Result<StageBuffer> Allocate(size_t count) override {
    float* p = nullptr;
    if (count > 0) {
      const cudaError_t err = cudaMalloc(reinterpret_cast<void**>(&p), count * sizeof(float));
      if (err != cudaSuccess)
        return Status::Internal("cudaMalloc of " + std::to_string(count * sizeof(float)) +
                                " bytes for gradient sync failed: " + cudaGetErrorString(err));
    }
    // cudaFree waits for the device work still using the buffer.
    return StageBuffer(p, [](float* q) {
      if (q != nullptr) (void)cudaFree(q);
    });
  }
  Status Scale(float* data, size_t count, float factor) override {
    return cuda::Scale(data, count, factor, cuda::ComputeStream());
  }
  Status Copy(float* dst, const float* src, size_t count) override {
    if (count == 0) return Status::OK();
    MERIDIAN_CUDA_CHECK(
        cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyDeviceToDevice, cuda::ComputeStream()));
    return Status::OK();
  }
  Status ToHost(float* host, const float* src, size_t count) override {
    cudaStream_t s = cuda::ComputeStream();
    if (count > 0) MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(host, src, count * sizeof(float), cudaMemcpyDeviceToHost, s));
    MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
    return Status::OK();
  }
  Status FromHost(float* dst, const float* host, size_t count) override {
    cudaStream_t s = cuda::ComputeStream();
    if (count > 0) MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(dst, host, count * sizeof(float), cudaMemcpyHostToDevice, s));
    MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
    return Status::OK();
  }
  // AdamW refreshes the compute copy of the weights it updates; an
  // all-gather or an outer step rewrites the master weights behind it.
  Status WeightsChanged(float* params, size_t count) override {
    if (params != params_ || count != n_)
      return Status::InvalidArgument("CUDA step: WeightsChanged names " + std::to_string(count) +
                                     " floats that are not this stage's master weights");
    if (compute_copy_ == nullptr) return Status::OK();
    return cuda::ConvertFloatToBf16(compute_copy_, params_, n_, cuda::ComputeStream());
  }

 private:
  float* params_;
  size_t n_;
  bf16* compute_copy_;
};

template <typename T>
class CudaStep : public DeviceStep {
 public:
  static Result<std::unique_ptr<DeviceStep>> Create(const GPTConfig& config, const DeviceStepOptions& o) {
    std::unique_ptr<CudaStep> step(new CudaStep(o));
    const StageSpec stage = o.stage.value_or(WholeModel(config));
    MERIDIAN_ASSIGN_OR_RETURN(step->model_,
                              CudaGPTModel<T>::Create(config, stage, o.max_batch, o.max_seq, o.slots));
    step->memory_ = std::make_unique<CudaStageMemory>(step->model_->params(), step->model_->num_params(),
                                                      step->model_->compute_weights_bf16());
    // Moments are allocated at first use (for the whole stage) or by
    // SetOptimizerShard (for the shard only), so a ZeRO-1 stage never holds
    // the whole stage's moments, not even at start-up.
    step->shard_end_ = step->model_->num_params();
    // Boundary buffers, float whatever T is: one to receive into (a stage
    // with a neighbour), and per slot the input gradient a send to the
    // previous stage reads while later slots compute.
    const size_t count = (size_t)o.max_batch * o.max_seq * config.n_embd;
    if (!(stage.first && stage.last)) MERIDIAN_RETURN_IF_ERROR(step->receive_.Allocate(count));
    if (!stage.first) {
      step->input_grads_.resize(o.slots);
      for (cuda::DeviceBuffer<float>& b : step->input_grads_) MERIDIAN_RETURN_IF_ERROR(b.Allocate(count));
    }
    return std::unique_ptr<DeviceStep>(std::move(step));
  }

  const ParameterLayout& layout() const override { return model_->layout(); }
  int num_slots() const override { return model_->num_slots(); }
  Status Forward(int slot, const int* tokens, const float* input, const int* targets, int B, int T_len,
                 bool compute_grad) override {
    return model_->Forward(slot, tokens, input, targets, B, T_len, compute_grad);
  }
  const float* output(int slot) override { return model_->output(slot); }
  Status AddLoss(int slot) override { return model_->AddLoss(slot); }
  Result<double> TakeLossSum() override { return model_->TakeLossSum(); }
  Status Backward(int slot, const float* output_grad) override { return model_->Backward(slot, output_grad); }
  Result<const float*> InputGrad(int slot) override {
    if (slot < 0 || slot >= (int)input_grads_.size())
      return Status::InvalidArgument("CUDA step: no input-gradient buffer for slot " + std::to_string(slot) +
                                     (input_grads_.empty() ? " (the first stage has no input gradient)" : ""));
    MERIDIAN_RETURN_IF_ERROR(model_->CopyInputGrad(input_grads_[slot].data()));
    return (const float*)input_grads_[slot].data();
  }
  float* receive_buffer() override { return receive_.data(); }
  void set_loss_scale(float scale) override { model_->set_loss_scale(scale); }
  void set_backward_hook(std::function<void(int)> hook) override { model_->set_backward_hook(std::move(hook)); }
  Status ZeroGrads() override { return model_->ZeroGrads(); }
  Result<double> GradSumOfSquares(size_t begin, size_t end) override {
    return model_->GradSumOfSquares(begin, std::min(end, model_->num_params()));
  }
  float* grads() override { return model_->grads(); }
  float* params() override { return model_->params(); }
  StageMemory* memory() override { return memory_.get(); }

  Status SetOptimizerShard(size_t begin, size_t end) override {
    if (begin > end || end > model_->num_params())
      return Status::InvalidArgument("CUDA step: optimizer shard [" + std::to_string(begin) + "," +
                                     std::to_string(end) + ") is outside the stage's " +
                                     std::to_string(model_->num_params()) + " parameters");
    // Freed before the shard's are allocated: only the shard's moments are
    // ever held at once.
    m_ = cuda::DeviceBuffer<float>();
    v_ = cuda::DeviceBuffer<float>();
    shard_begin_ = begin;
    shard_end_ = end;
    moments_ready_ = true;
    if (begin == end) return Status::OK();
    MERIDIAN_RETURN_IF_ERROR(m_.Allocate(end - begin));
    MERIDIAN_RETURN_IF_ERROR(v_.Allocate(end - begin));
    cudaStream_t s = cuda::ComputeStream();
    MERIDIAN_CUDA_CHECK(cudaMemsetAsync(m_.data(), 0, m_.bytes(), s));
    MERIDIAN_CUDA_CHECK(cudaMemsetAsync(v_.data(), 0, v_.bytes(), s));
    return Status::OK();
  }

  Status OptimizerStep(float lr, float grad_scale, long t) override {
    MERIDIAN_RETURN_IF_ERROR(EnsureMoments());
    cpu::AdamWParams hp;
    hp.lr = lr;
    hp.beta1 = options_.adam.beta1;
    hp.beta2 = options_.adam.beta2;
    hp.eps = options_.adam.eps;
    hp.grad_scale = grad_scale;
    hp.step = t;
    bf16* compute_copy = model_->compute_weights_bf16();
    // The tensors that overlap the shard, as AdamWOptimizer walks them; the
    // moments are indexed from the shard's start.
    for (const ParamTensorInfo& info : model_->layout().tensors()) {
      const size_t lo = std::max(shard_begin_, info.offset), hi = std::min(shard_end_, info.offset + info.count);
      if (lo >= hi) continue;
      hp.weight_decay = info.weight_decay ? options_.adam.weight_decay : 0.0f;
      const size_t k = lo - shard_begin_;
      MERIDIAN_RETURN_IF_ERROR(cuda::AdamWUpdate(model_->params() + lo, model_->grads() + lo, m_.data() + k,
                                                 v_.data() + k, hi - lo, hp, cuda::ComputeStream(),
                                                 compute_copy ? compute_copy + lo : nullptr));
    }
    return Status::OK();
  }

  Status Download(float* params, float* m, float* v) override {
    if (m || v) MERIDIAN_RETURN_IF_ERROR(EnsureMoments());
    cudaStream_t s = cuda::ComputeStream();
    if (params) MERIDIAN_RETURN_IF_ERROR(model_->DownloadParams(params));
    if (m && m_.size() > 0) MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(m, m_.data(), m_.bytes(), cudaMemcpyDeviceToHost, s));
    if (v && v_.size() > 0) MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(v, v_.data(), v_.bytes(), cudaMemcpyDeviceToHost, s));
    MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
    return Status::OK();
  }
  Status Upload(const float* params, const float* m, const float* v) override {
    if (m || v) MERIDIAN_RETURN_IF_ERROR(EnsureMoments());
    cudaStream_t s = cuda::ComputeStream();
    if (params) MERIDIAN_RETURN_IF_ERROR(model_->UploadParams(params));
    if (m && m_.size() > 0) MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(m_.data(), m, m_.bytes(), cudaMemcpyHostToDevice, s));
    if (v && v_.size() > 0) MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(v_.data(), v, v_.bytes(), cudaMemcpyHostToDevice, s));
    MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
    return Status::OK();
  }

  // A staging buffer for the call only: gathers are rare, and the memory
  // is the stage's weights' size.
  Status SendHost(Communicator* comm, const float* host, size_t count, int peer, int tag) override {
    cuda::DeviceBuffer<float> staged;
    MERIDIAN_RETURN_IF_ERROR(staged.Allocate(count));
    cudaStream_t s = cuda::ComputeStream();
    MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(staged.data(), host, count * sizeof(float), cudaMemcpyHostToDevice, s));
    // Blocking: the send has finished on the device before `staged` is freed.
    return comm->Send(staged.data(), count, peer, tag);
  }
  Status RecvHost(Communicator* comm, float* host, size_t count, int peer, int tag) override {
    cuda::DeviceBuffer<float> staged;
    MERIDIAN_RETURN_IF_ERROR(staged.Allocate(count));
    MERIDIAN_RETURN_IF_ERROR(comm->Recv(staged.data(), count, peer, tag));
    cudaStream_t s = cuda::ComputeStream();
    MERIDIAN_CUDA_CHECK(cudaMemcpyAsync(host, staged.data(), count * sizeof(float), cudaMemcpyDeviceToHost, s));
    MERIDIAN_CUDA_CHECK(cudaStreamSynchronize(s));
    return Status::OK();
  }

  size_t activation_bytes() const override {
    size_t bytes = model_->activation_bytes() + receive_.bytes();
    for (const cuda::DeviceBuffer<float>& b : input_grads_) bytes += b.bytes();
    return bytes;
  }
  // The moments counted as held even before their first use allocates them.
  size_t state_bytes() const override {
    return model_->weight_bytes() + 2 * (shard_end_ - shard_begin_) * sizeof(float);
  }
  std::string Describe() const override {
    const StageSpec& st = model_->stage();
    return std::string("GPU ") + std::to_string(cuda::CurrentDevice()) + ", layers [" +
           std::to_string(st.layer_begin) + "," + std::to_string(st.layer_end) + "), " +
           std::to_string(model_->num_slots()) + (model_->num_slots() == 1 ? " slot, " : " slots, ") +
           cuda::DTypeName(cuda::DTypeOf<T>()) + (model_->gelu_fused() ? ", GELU fused into cuBLASLt" : "");
  }

 private:
  explicit CudaStep(const DeviceStepOptions& o) : options_(o) {}
  // The whole stage's zeroed moments where no shard was set.
  Status EnsureMoments() { return moments_ready_ ? Status::OK() : SetOptimizerShard(shard_begin_, shard_end_); }

  DeviceStepOptions options_;
  std::unique_ptr<CudaGPTModel<T>> model_;
  std::unique_ptr<CudaStageMemory> memory_;
  // AdamW moments of [shard_begin_, shard_end_) of the stage buffer.
  cuda::DeviceBuffer<float> m_, v_;
  size_t shard_begin_ = 0, shard_end_ = 0;
  bool moments_ready_ = false;  // m_ and v_ allocated for the shard
  cuda::DeviceBuffer<float> receive_;                  // a stage with a neighbour
  std::vector<cuda::DeviceBuffer<float>> input_grads_;  // per slot; none on the first stage
};

}  // namespace

Result<std::unique_ptr<DeviceStep>> CreateCudaStep(const GPTConfig& config, const DeviceStepOptions& options) {
  switch (options.dtype) {
    case DType::kFp32: return CudaStep<float>::Create(config, options);
    case DType::kBf16: return CudaStep<cuda::bf16>::Create(config, options);
  }
  return Status::InvalidArgument(std::string("--dtype ") + kDTypes.Name(options.dtype) + ": not built for CUDA");
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
