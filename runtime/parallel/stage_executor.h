// One pipeline stage's compute for one micro-batch slot, on whatever device
// holds the stage: forward and backward, the activations it hands the next
// stage and the gradient it hands the previous one. Activation buffers
// live on the executor's device (host memory on the CPU, device memory
// under CUDA), so the pipeline runner passes them to the Communicator
// (MPI, NCCL) untouched and never knows the device.
#pragma once

#include <cstddef>
#include <memory>

#include "common/status.h"
#include "runtime/model/gpt_model.h"

namespace meridian {

class StageExecutor {
 public:
  virtual ~StageExecutor() = default;

  // Micro-batches in flight at once (PipelineSlots), each with its own
  // saved activations.
  virtual int num_slots() const = 0;
  // Floats in one micro-batch's boundary activations (B x T x C): what
  // travels between stages in either direction.
  virtual size_t boundary_count() const = 0;

  // Before a step's first backward: gradients to zero, and the factor the
  // loss is scaled by (1 / micro-batches: the step's mean).
  virtual Status ZeroGrads() = 0;
  virtual void set_loss_scale(float scale) = 0;

  // tokens (first stage) and targets (last stage) are host (B,T) arrays;
  // input (other stages) is a boundary buffer of this device. The first
  // stage passes input null, the others tokens null; targets null except
  // on the last stage. Gradients of the loss accumulate later only when
  // compute_grad.
  virtual Status Forward(int slot, const int* tokens, const float* input, const int* targets, bool compute_grad) = 0;
  // The slot's output activations (not the last stage), a boundary buffer.
  virtual const float* output(int slot) const = 0;
  // The last stage: adds the slot's mean loss to the run's sum, which may
  // stay on the device until TakeLossSum.
  virtual Status AddLoss(int slot) = 0;
  // The last stage: the sum of the mean losses added since the previous
  // call, restarted from 0. The runner asks once per run, so a device
  // executor waits for its device once per step, not per micro-batch.
  virtual Result<double> TakeLossSum() = 0;
  // output_grad: the gradient of the slot's output (null on the last
  // stage). Gradients accumulate.
  virtual Status Backward(int slot, const float* output_grad) = 0;
  // The gradient of the input of the slot's latest Backward (not the first
  // stage), moved into the slot's own boundary buffer, where it stays until
  // the slot's next call: the runner asks once the slot's previous send has
  // completed, so that send overlaps this Backward.
  virtual Result<const float*> input_grad(int slot) = 0;
  // A boundary buffer to receive into (activations, or output gradients);
  // valid until the next Forward or Backward that takes it.
  virtual float* receive_buffer() = 0;
};

// The CPU executor: a GPTModel stage with host buffers.
std::unique_ptr<StageExecutor> CpuStageExecutor(GPTModel* model, int B, int T);

}  // namespace meridian
