// The GPU half of a training step (--device cuda): this rank's whole model
// on its GPU, in fp32 or bf16 compute, with its AdamW state there too. The
// trainer keeps driving data, gradient synchronisation (NCCL, through the
// same GradientBuckets as the CPU path), clipping, checkpoints and metrics;
// it calls Download/Upload where those need host copies.
//
// Pipeline stages and ZeRO-1 on GPUs are not wired yet: the trainer refuses
// those combinations with --device cuda.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "runtime/comm/communicator.h"
#include "runtime/model/gpt_config.h"
#include "runtime/optim/adamw_optimizer.h"

namespace meridian {

class DeviceStep {
 public:
  virtual ~DeviceStep() = default;

  // tokens/targets (B,T) are host memory; see GPTModel::Forward.
  virtual Status Forward(const int* tokens, const int* targets, int B, int T, bool compute_grad) = 0;
  virtual Status Backward() = 0;
  virtual void set_loss_scale(float scale) = 0;
  virtual void set_backward_hook(std::function<void(int)> hook) = 0;
  virtual Status ZeroGrads() = 0;
  virtual Result<double> MeanLoss() = 0;          // of the latest Forward with targets
  virtual Result<double> GradSumOfSquares() = 0;  // over all gradients
  virtual float* grads() = 0;                     // device memory, the layout's flat buffer

  // AdamW step t (from 1) over every tensor, decay per the layout.
  virtual Status OptimizerStep(float lr, float grad_scale, long t) = 0;

  // Host copies of master weights and AdamW moments (each may be null).
  virtual Status Download(float* params, float* m, float* v) = 0;
  virtual Status Upload(const float* params, const float* m, const float* v) = 0;

  virtual size_t activation_bytes() const = 0;
  virtual size_t state_bytes() const = 0;  // weights, gradients, moments
  virtual std::string Describe() const = 0;
};

struct DeviceStepOptions {
  std::string dtype = "fp32";  // fp32 | bf16
  int max_batch = 1, max_seq = 1;
  AdamWConfig adam;
};

// Fails where Meridian was built without CUDA, or on an unsupported model
// (head size) or out of device memory.
Result<std::unique_ptr<DeviceStep>> CreateCudaStep(const GPTConfig& config, const DeviceStepOptions& options);

// For --device cuda: selects GPU `gpu` (the scheduler's assignment or
// --gpu; -1: the local rank's, modulo the node's devices), logs it, and wraps the host world in a NCCL communicator whose groups
// carry device buffers. Collective over the world.
Result<std::unique_ptr<Communicator>> SetUpCudaWorld(std::unique_ptr<Communicator> host_world, int gpu);

}  // namespace meridian
