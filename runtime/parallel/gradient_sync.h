// How the replicas of a stage agree on their gradients, and what that asks
// of the optimizer step around it: one interface, with a strategy per
// data-parallel mode, chosen once from the options.
//
//   sync           bucketed all-reduce over the DP group, overlapped with
//                  the last micro-batch's backward
//   hierarchical   the same inside each data center, then one leader per
//                  data center sums across the WAN and shares the result
//   zero1          reduce-scatter: each replica owns a shard of the
//                  gradients, updates only that shard of the weights (its
//                  AdamW state is that shard's), then all-gathers them
//   diloco         buckets inside each data center only; every H steps an
//                  outer step averages the data centers' progress over the
//                  WAN (DilocoOuterOptimizer); streaming: per fragment
//                  of layers, staggered, overlapping the inner steps
//
// Every strategy also sums the tied token embedding's gradient between a
// replica's first and last stage. The trainer calls the same methods in
// the same places whatever the mode and device; the stage's buffers
// (gradients, weights) are the communicators' kind of memory (host memory
// over MPI, device memory over NCCL), and a strategy touches them only
// through the communicators and the StageMemory it was created with.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/model/parameter_layout.h"
#include "runtime/parallel/diloco.h"
#include "runtime/parallel/dp_sync.h"
#include "runtime/parallel/process_groups.h"
#include "runtime/parallel/stage_memory.h"
#include "runtime/parallel/traffic_counter.h"

namespace meridian {

struct GradientSyncOptions {
  DpSync mode = DpSync::kSync;
  bool zero1 = false;         // shard gradients and optimizer state (sync mode only)
  size_t bucket_bytes = 25u << 20;
  bool overlap = true;        // start buckets during backward
  DilocoConfig diloco;        // mode kDiloco
  // Each data center its own world: this stage leader's exchange with the
  // other worlds (diloco.wan points at it); the strategy keeps it alive.
  std::shared_ptr<WanExchange> wan_exchange;
};

class GradientSync {
 public:
  // `groups`, `traffic` and `memory` (where the stage's buffers live) must
  // outlive the strategy; `layout` is this rank's stage. InvalidArgument
  // for zero1 with a mode other than sync.
  static Result<std::unique_ptr<GradientSync>> Create(const GradientSyncOptions& options, const ProcessGroups* groups,
                                                      const ParameterLayout& layout, int dp_size,
                                                      TrafficCounter* traffic, StageMemory* memory = HostMemory());
  virtual ~GradientSync() = default;

  // The backward hook of the last micro-batch: the gradients of local layer
  // `layer` (-1: embeddings and final LayerNorm) are final.
  virtual void OnGradientsReady(float* grads, int layer) { (void)grads, (void)layer; }
  // After the step's backward: grads[shard_begin(), shard_end()) hold the
  // gradients averaged over the replicas (and the tied embedding summed).
  virtual Status Finish(float* grads) = 0;
  // The part of the stage buffer this rank's optimizer updates (and holds
  // AdamW state for).
  size_t shard_begin() const { return shard_begin_; }
  size_t shard_end() const { return shard_end_; }
  // Summing each rank's sum of squares over its shard (the last stage
  // leaving out the tied embedding it shares with the first) over this
  // group gives the global gradient norm.
  virtual Communicator* norm_group() const = 0;
  // After the optimizer updated the shard: every rank holds the whole
  // stage's weights again.
  virtual Status AfterOptimizerStep(float* params) {
    (void)params;
    return Status::OK();
  }
  // After optimizer step `step` (from 1): the outer step where a DiLoCo
  // round ends.
  virtual Status AfterStep(long step, float* params) {
    (void)step, (void)params;
    return Status::OK();
  }
  // Whether a checkpoint may be taken after `step`: where DiLoCo's rounds
  // end (streaming: where the whole stage's would).
  virtual bool CheckpointableAfter(long step) const {
    (void)step;
    return true;
  }
  // Brings state a checkpoint saves to rest (DiLoCo's exchanges in flight).
  virtual Status PrepareCheckpoint() { return Status::OK(); }
  // The whole stage's values of a host array each rank holds its shard of
  // (the AdamW moments' host copy): `held` itself where the shard is the
  // whole stage, else every rank's shard all-gathered into *scratch
  // (ZeRO-1; through buffers of the stage's memory).
  virtual Result<const float*> WholeStage(const float* held, std::vector<float>* scratch) = 0;
  // Seconds Finish waited for communication, last step (the all-reduce
  // time backward did not hide).
  virtual double exposed_wait_s() const { return 0.0; }
  // DiLoCo's outer optimizer, whose state checkpoints carry; else null.
  virtual DilocoOuterOptimizer* diloco() { return nullptr; }

 protected:
  GradientSync(const ProcessGroups* groups, StageMemory* memory, size_t shard_begin, size_t shard_end,
               BufferRange tied)
      : groups_(groups), memory_(memory), shard_begin_(shard_begin), shard_end_(shard_end), tied_(tied) {}
  // The first and last stage of a replica both hold the tied embedding:
  // each needs the sum of their gradients.
  Status SumTiedEmbedding(float* grads);

  const ProcessGroups* groups_;
  StageMemory* memory_;
  size_t shard_begin_, shard_end_;
  BufferRange tied_;  // the token embedding in the stage buffer
};

}  // namespace meridian
