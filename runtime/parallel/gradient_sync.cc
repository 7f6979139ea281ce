#include "runtime/parallel/gradient_sync.h"

#include <algorithm>

#include "runtime/parallel/gradient_buckets.h"

namespace meridian {

Status GradientSync::SumTiedEmbedding(float* grads) {
  if (!groups_->tied || tied_.count == 0) return Status::OK();
  return groups_->tied->AllReduce(grads + tied_.offset, tied_.count, ReduceOp::kSum);
}

namespace {

// sync, hierarchical and diloco's inner steps: gradient buckets whose
// all-reduces start during backward, over the DP group or its data center.
class BucketedSync : public GradientSync {
 public:
  BucketedSync(const GradientSyncOptions& o, const ProcessGroups* groups, StageMemory* memory,
               const ParameterLayout& layout, int dp_size, TrafficCounter* traffic, BufferRange tied)
      : GradientSync(groups, memory, 0, layout.total(), tied),
        mode_(o.mode),
        dp_size_(dp_size),
        traffic_(traffic),
        group_(o.mode == DpSync::kSync ? groups->dp.get() : groups->dp_intra_dc.get()),
        buckets_(group_, layout, o.bucket_bytes, o.overlap) {}

  void OnGradientsReady(float* grads, int layer) override { buckets_.OnGradientsReady(grads, layer); }

  Status Finish(float* grads) override {
    MERIDIAN_RETURN_IF_ERROR(buckets_.Finish(grads));
    traffic_->AllReduce(*group_, (double)buckets_.bytes_per_step());
    if (mode_ == DpSync::kHierarchical)
      MERIDIAN_RETURN_IF_ERROR(HierarchicalFinish(grads, shard_end_, *groups_, dp_size_, traffic_, memory_));
    return SumTiedEmbedding(grads);
  }

  // Replicas hold whole, equal stage gradients: a replica's stages have the
  // norm (under diloco data centers differ, and each clips by its own).
  Communicator* norm_group() const override { return groups_->pp.get(); }

  Result<const float*> WholeStage(const float* held, std::vector<float>*) override { return held; }
  double exposed_wait_s() const override { return buckets_.exposed_wait_s(); }

 protected:
  DpSync mode_;
  int dp_size_;
  TrafficCounter* traffic_;
  Communicator* group_;
  GradientBuckets buckets_;
};

class DilocoSync : public BucketedSync {
 public:
  DilocoSync(const GradientSyncOptions& o, const ProcessGroups* groups, StageMemory* memory,
             const ParameterLayout& layout, int dp_size, TrafficCounter* traffic, BufferRange tied,
             std::unique_ptr<Communicator> background)
      : BucketedSync(o, groups, memory, layout, dp_size, traffic, tied),
        background_(std::move(background)),
        outer_(layout.total(), WithExchange(o), DilocoFragments(layout, o.diloco.fragments)),
        wan_(o.wan_exchange) {}

  Status AfterStep(long step, float* params) override {
    SetCommContext("DiLoCo outer exchanges after step " + std::to_string(step));
    last_step_ = step;
    last_params_ = params;
    return outer_.AfterStep(step, params, *groups_, background_.get(), traffic_, memory_);
  }
  bool CheckpointableAfter(long step) const override { return outer_.RoundEnds(step); }
  Status PrepareCheckpoint() override {
    // Worlds checkpoint on their own, each at its own pace: waiting here for
    // the round in flight could wait on a world that has not sent to it yet
    // (and is itself waiting in its checkpoint for ours). The round goes on
    // after the checkpoint; a world restored from it has missed that round,
    // which the next one's outer state mends. A round left at the run's end
    // is dropped (it is not MPI: nothing is left in flight in a communicator).
    // Strict worlds all checkpoint at the same round's end, after every one
    // of them has sent its part: the round is drained like a communicator's,
    // so the checkpoint holds its average and a resume applies it.
    if (outer_.config().worlds && !outer_.config().strict) return Status::OK();
    if (last_params_ != nullptr)
      MERIDIAN_RETURN_IF_ERROR(outer_.Flush(last_step_, last_params_, *groups_, background_.get(), traffic_, memory_));
    return outer_.Drain(*groups_, memory_);
  }
  DilocoOuterOptimizer* diloco() override { return &outer_; }

 private:
  static DilocoConfig WithExchange(const GradientSyncOptions& o) {
    DilocoConfig c = o.diloco;
    c.wan = o.wan_exchange.get();
    return c;
  }

  // The leaders' exchanges that overlap inner steps run on a communicator
  // of their own, so they never interleave with the training's collectives.
  // Declared first, so it outlives an exchange still in flight in outer_.
  std::unique_ptr<Communicator> background_;
  DilocoOuterOptimizer outer_;
  // Declared after outer_, so it stops serving outer_'s state before
  // outer_ goes.
  std::shared_ptr<WanExchange> wan_;
  long last_step_ = 0;
  float* last_params_ = nullptr;  // the stage buffer AfterStep last saw, for Flush
};

// ZeRO-1: near-equal contiguous shards of the stage buffer, one per replica.
class Zero1Sync : public GradientSync {
 public:
  Zero1Sync(const ProcessGroups* groups, StageMemory* memory, size_t total, TrafficCounter* traffic, BufferRange tied)
      : GradientSync(groups, memory, 0, 0, tied), total_(total), traffic_(traffic) {
    const int n = groups->dp->size(), r = groups->dp->rank();
    counts_.resize(n);
    for (int i = 0; i < n; ++i) counts_[i] = total * (i + 1) / n - total * i / n;
    shard_begin_ = total * r / n;
    shard_end_ = shard_begin_ + counts_[r];
  }

  Status Finish(float* grads) override {
    const size_t count = shard_end_ - shard_begin_;
    if (!shard_) {
      MERIDIAN_ASSIGN_OR_RETURN(shard_, memory_->Allocate(count));
    }
    MERIDIAN_RETURN_IF_ERROR(SumTiedEmbedding(grads));
    MERIDIAN_RETURN_IF_ERROR(groups_->dp->ReduceScatter(grads, shard_.get(), counts_, ReduceOp::kAvg));
    traffic_->AllReduce(*groups_->dp, 2.0 * total_);  // reduce-scatter + all-gather of 4-byte values
    return memory_->Copy(grads + shard_begin_, shard_.get(), count);
  }
  // Shards of every stage of every replica: the whole world.
  Communicator* norm_group() const override { return groups_->world; }
  Status AfterOptimizerStep(float* params) override {
    MERIDIAN_RETURN_IF_ERROR(groups_->dp->AllGather(params + shard_begin_, params, counts_));
    return memory_->WeightsChanged(params, total_);
  }
  Result<const float*> WholeStage(const float* held, std::vector<float>* scratch) override {
    // Rare (checkpoints): buffers for the call only.
    const size_t count = shard_end_ - shard_begin_;
    MERIDIAN_ASSIGN_OR_RETURN(StageBuffer mine, memory_->Allocate(count));
    MERIDIAN_ASSIGN_OR_RETURN(StageBuffer whole, memory_->Allocate(total_));
    MERIDIAN_RETURN_IF_ERROR(memory_->FromHost(mine.get(), held, count));
    MERIDIAN_RETURN_IF_ERROR(groups_->dp->AllGather(mine.get(), whole.get(), counts_));
    scratch->assign(total_, 0.0f);
    MERIDIAN_RETURN_IF_ERROR(memory_->ToHost(scratch->data(), whole.get(), total_));
    return (const float*)scratch->data();
  }

 private:
  size_t total_;
  TrafficCounter* traffic_;
  std::vector<size_t> counts_;  // each replica's shard
  StageBuffer shard_;           // this rank's averaged gradient shard, allocated at the first Finish
};

}  // namespace

Result<std::unique_ptr<GradientSync>> GradientSync::Create(const GradientSyncOptions& o, const ProcessGroups* groups,
                                                           const ParameterLayout& layout, int dp_size,
                                                           TrafficCounter* traffic, StageMemory* memory) {
  // An untied head (Llama) leaves nothing to sum between first and last stage.
  const ParamTensorInfo& wte = layout.tensor(kWte);
  const BufferRange tied = layout.config().tie_embeddings ? BufferRange{wte.offset, wte.count} : BufferRange{0, 0};
  if (o.zero1) {
    if (o.mode != DpSync::kSync)
      return Status::InvalidArgument(std::string("zero = 1 works with dp-sync sync only, not ") + DpSyncName(o.mode));
    return std::unique_ptr<GradientSync>(new Zero1Sync(groups, memory, layout.total(), traffic, tied));
  }
  if (o.mode == DpSync::kDiloco) {
    MERIDIAN_RETURN_IF_ERROR(ValidateDiloco(o.diloco, layout.stage()));
    std::unique_ptr<Communicator> background;
    if (o.diloco.overlap_steps > 0) {
      MERIDIAN_ASSIGN_OR_RETURN(background, groups->dp_inter_dc->Split(0, groups->dp_inter_dc->rank(),
                                                                       groups->dp_inter_dc->name() + "/overlap"));
    }
    return std::unique_ptr<GradientSync>(
        new DilocoSync(o, groups, memory, layout, dp_size, traffic, tied, std::move(background)));
  }
  return std::unique_ptr<GradientSync>(new BucketedSync(o, groups, memory, layout, dp_size, traffic, tied));
}

}  // namespace meridian
