// The GPU half of a training step (--device cuda): this rank's pipeline
// stage (the whole model with pp 1) on its GPU, in fp32 or bf16 compute,
// with its AdamW state there too. Its ParameterLayout is the CPU stage's, so
// the trainer keeps driving data, gradient synchronisation (NCCL, through
// the same GradientBuckets as the CPU path), clipping, checkpoints and
// metrics on the same offsets; it calls Download/Upload where those need
// host copies. DeviceStageExecutor puts the compute half behind the
// pipeline runner's StageExecutor.
//
// Every data-parallel mode runs on it: memory() is the StageMemory the
// gradient synchronisation strategies work through (device buffers, the
// bf16 compute copy refreshed where a strategy rewrites the weights), and
// under ZeRO-1 AdamW runs, and holds moments, on this rank's shard only
// (SetOptimizerShard). StageUpdate (stage_update.h) drives it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/device.h"
#include "common/status.h"
#include "runtime/comm/communicator.h"
#include "runtime/model/gpt_config.h"
#include "runtime/model/parameter_layout.h"
#include "runtime/optim/adamw_optimizer.h"
#include "runtime/parallel/stage_memory.h"

namespace meridian {

class DeviceStep {
 public:
  virtual ~DeviceStep() = default;

  // The stage held (layers, embedding on the first stage, final LayerNorm
  // and head on the last) and its micro-batch slots.
  virtual const ParameterLayout& layout() const = 0;
  virtual int num_slots() const = 0;

  // A stage's forward into `slot`, as CudaGPTModel::Forward: tokens and
  // targets (B,T) are host memory; input is a boundary buffer (device,
  // float (B,T,C)) on stages after the first.
  virtual Status Forward(int slot, const int* tokens, const float* input, const int* targets, int B, int T,
                         bool compute_grad) = 0;
  // The slot's output activations (not the last stage), a boundary buffer.
  virtual const float* output(int slot) = 0;
  // The last stage: adds the slot's mean loss to a sum kept on the device;
  // TakeLossSum reads it and restarts it from 0 (waits for the device).
  virtual Status AddLoss(int slot) = 0;
  virtual Result<double> TakeLossSum() = 0;
  // Accumulates the slot's gradients; output_grad (a boundary buffer) is
  // null on the last stage only.
  virtual Status Backward(int slot, const float* output_grad) = 0;
  // Writes the input gradient of the latest Backward (not the first stage)
  // into the slot's own boundary buffer and returns that buffer.
  virtual Result<const float*> InputGrad(int slot) = 0;
  // A boundary buffer to receive into, shared by all slots.
  virtual float* receive_buffer() = 0;

  virtual void set_loss_scale(float scale) = 0;
  virtual void set_backward_hook(std::function<void(int)> hook) = 0;
  virtual Status ZeroGrads() = 0;
  // Over the layout's gradients [begin, end) (waits for the device).
  virtual Result<double> GradSumOfSquares(size_t begin, size_t end) = 0;
  virtual float* grads() = 0;   // device memory, the layout's flat buffer
  virtual float* params() = 0;  // device memory, the float master weights
  // The memory grads() and params() live in, for the strategies.
  virtual StageMemory* memory() = 0;

  // The part [begin, end) of the layout's buffer that OptimizerStep updates
  // and holds AdamW moments for (ZeRO-1's shard); zeroes the moments. By
  // default, and until this is called, the whole stage. InvalidArgument
  // for a range outside the layout.
  virtual Status SetOptimizerShard(size_t begin, size_t end) = 0;
  // AdamW step t (from 1) over the shard, decay per the layout's tensors.
  // Weights outside the shard (and their compute copy) are left alone.
  virtual Status OptimizerStep(float lr, float grad_scale, long t) = 0;

  // Host copies of master weights (the whole stage) and AdamW moments (the
  // shard's, end - begin floats); each may be null.
  virtual Status Download(float* params, float* m, float* v) = 0;
  virtual Status Upload(const float* params, const float* m, const float* v) = 0;

  // Point-to-point of a host array over `comm`, whose float buffers are
  // device memory (NCCL), staged through this GPU: how host copies (a
  // checkpoint's or export's gather of the stages) cross ranks.
  virtual Status SendHost(Communicator* comm, const float* host, size_t count, int peer, int tag) = 0;
  virtual Status RecvHost(Communicator* comm, float* host, size_t count, int peer, int tag) = 0;

  virtual size_t activation_bytes() const = 0;
  virtual size_t state_bytes() const = 0;  // weights, gradients, moments
  virtual std::string Describe() const = 0;
};

struct DeviceStepOptions {
  DType dtype = DType::kFp32;
  int max_batch = 1, max_seq = 1;
  std::optional<StageSpec> stage;  // unset: the whole model
  int slots = 1;                   // micro-batches in flight (PipelineSlots)
  AdamWConfig adam;
};

// Fails where Meridian was built without CUDA, or on an unsupported model
// (head size), a stage without layers, or out of device memory.
Result<std::unique_ptr<DeviceStep>> CreateCudaStep(const GPTConfig& config, const DeviceStepOptions& options);

// For --device cuda: selects GPU `gpu` (the scheduler's assignment or
// --gpu; -1: the local rank's, modulo the node's devices), logs it, and wraps the host world in a NCCL communicator whose groups
// carry device buffers. Collective over the world.
Result<std::unique_ptr<Communicator>> SetUpCudaWorld(std::unique_ptr<Communicator> host_world, int gpu);

}  // namespace meridian
