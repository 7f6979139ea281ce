#include "runtime/train/distributed_state.h"

#include <algorithm>
#include <utility>

#include "runtime/parallel/stage_params.h"

namespace meridian {

namespace {

// Message tags for the gather (distinct from pipeline tags, which are
// small micro-batch numbers).
constexpr int kGatherTag = 1 << 20;

// Replicated state is written in equal parts by the replicas that hold
// it: part k of m of the stage buffer.
std::pair<size_t, size_t> Part(size_t n, int k, int m) { return {n * k / m, n * (k + 1) / m}; }

}  // namespace

DistributedState::DistributedState(const GPTConfig& config, const ParallelLayout& layout,
                                   const std::vector<StageSpec>& stages, const ProcessGroups& groups,
                                   const DataCenterMap& data_centers, GPTModel* model, AdamWOptimizer* optimizer,
                                   GradientSync* sync)
    : config_(config), layout_(layout), stages_(stages), groups_(groups), model_(model), optimizer_(optimizer),
      sync_(sync) {
  dc_first_replica_.assign(data_centers.num_data_centers(), -1);
  for (int r = layout_.dp - 1; r >= 0; --r) dc_first_replica_[data_centers.rank_to_dc[layout_.RankOf(r, 0)]] = r;
  dc_replicas_.assign(data_centers.num_data_centers(), {});
  for (int r = 0; r < layout_.dp; ++r) dc_replicas_[data_centers.rank_to_dc[layout_.RankOf(r, 0)]].push_back(r);
}

std::vector<std::string> DistributedState::ArrayNames() const {
  std::vector<std::string> arrays = {"model", "adam_m", "adam_v"};
  if (const DilocoOuterOptimizer* diloco = sync_->diloco()) {
    arrays.push_back("outer_momentum");
    const bool streaming = diloco->config().streaming();
    if (streaming) arrays.insert(arrays.end(), {"outer_start", "outer_pending"});
    for (size_t d = 0; d < dc_replicas_.size(); ++d) {
      if (dc_replicas_[d].empty()) continue;
      const std::string prefix = "dc" + std::to_string(d) + ".";
      if (d > 0) arrays.insert(arrays.end(), {prefix + "adam_m", prefix + "adam_v"});
      if (d > 0 && streaming) arrays.push_back(prefix + "model");
      if (!diloco->error_feedback().empty()) arrays.push_back(prefix + "outer_error");
    }
  }
  return arrays;
}

Status DistributedState::GatherWhole(bool with_optimizer, TrainingCheckpoint* out) {
  DilocoOuterOptimizer* diloco = sync_->diloco();
  std::vector<const float*> stage = {model_->params()};
  std::vector<std::vector<float>*> whole = {&out->params};
  std::vector<float> scratch_m, scratch_v;
  if (with_optimizer) {
    // The moments of the whole stage (each rank holds those of its shard).
    MERIDIAN_ASSIGN_OR_RETURN(const float* stage_m, sync_->WholeStage(optimizer_->m().data(), &scratch_m));
    MERIDIAN_ASSIGN_OR_RETURN(const float* stage_v, sync_->WholeStage(optimizer_->v().data(), &scratch_v));
    stage.push_back(stage_m);
    stage.push_back(stage_v);
    whole.push_back(&out->adam_m);
    whole.push_back(&out->adam_v);
    if (diloco) {
      stage.push_back(diloco->momentum().data());
      whole.push_back(&out->extra_arrays["outer_momentum"]);
    }
    if (diloco && diloco->config().streaming()) {
      stage.insert(stage.end(), {diloco->round_start().data(), diloco->pending().data()});
      whole.insert(whole.end(), {&out->extra_arrays["outer_start"], &out->extra_arrays["outer_pending"]});
    }
  }
  MERIDIAN_RETURN_IF_ERROR(GatherToRoot(0, stage, whole));
  if (!with_optimizer || !diloco) return Status::OK();
  // Each data center trains with its own inner AdamW state (and the error
  // feedback of its leader, the first replica); its first replica's copy is
  // saved as "dc<D>.<array>".
  for (size_t d = 0; d < dc_first_replica_.size(); ++d) {
    std::vector<const float*> arrays;
    std::vector<std::vector<float>*> outs;
    const std::string prefix = "dc" + std::to_string(d) + ".";
    if (d > 0) {
      arrays = {optimizer_->m().data(), optimizer_->v().data()};
      outs = {&out->extra_arrays[prefix + "adam_m"], &out->extra_arrays[prefix + "adam_v"]};
      if (diloco->config().streaming()) {
        arrays.push_back(model_->params());
        outs.push_back(&out->extra_arrays[prefix + "model"]);
      }
    }
    if (!diloco->error_feedback().empty()) {
      arrays.push_back(diloco->error_feedback().data());
      outs.push_back(&out->extra_arrays[prefix + "outer_error"]);
    }
    if (!arrays.empty()) MERIDIAN_RETURN_IF_ERROR(GatherToRoot(dc_first_replica_[d], arrays, outs));
  }
  return Status::OK();
}

std::vector<HeldArray> DistributedState::HeldArrays() const {
  const size_t n = model_->num_params();
  std::vector<HeldArray> out;
  DilocoOuterOptimizer* diloco = sync_->diloco();
  if (!diloco) {
    // The parts are ZeRO-1's shards, so a rank writes what it holds either way.
    const auto [b, e] = Part(n, groups_.dp->rank(), groups_.dp->size());
    const size_t held_begin = sync_->shard_begin(), held_end = sync_->shard_end();
    out.push_back({"model", model_->params(), 0, n, b, e});
    out.push_back({"adam_m", optimizer_->m().data(), held_begin, held_end, b, e});
    out.push_back({"adam_v", optimizer_->v().data(), held_begin, held_end, b, e});
    return out;
  }
  // DiLoCo: the weights and outer momentum agree everywhere at a round's
  // end; the inner AdamW state (and the error feedback) is per data
  // center, written by that data center's replicas ("adam_m" is data center
  // 0's, "dc<D>.adam_m" the others', as in the whole format). Streaming
  // never has a moment where the weights agree: they are per data center
  // too, and the rounds' start and the averages in flight (which agree)
  // are saved beside them.
  const auto [b, e] = Part(n, groups_.dp_index, layout_.dp);
  const bool streaming = diloco->config().streaming();
  out.push_back({"outer_momentum", diloco->momentum().data(), 0, n, b, e});
  if (streaming) {
    out.push_back({"outer_start", diloco->round_start().data(), 0, n, b, e});
    out.push_back({"outer_pending", diloco->pending().data(), 0, n, b, e});
  }
  const int d = groups_.data_center;
  const std::vector<int>& mates = dc_replicas_[d];
  const int k = (int)(std::find(mates.begin(), mates.end(), groups_.dp_index) - mates.begin());
  const auto [db, de] = Part(n, k, (int)mates.size());
  const std::string prefix = d == 0 ? "" : "dc" + std::to_string(d) + ".";
  if (streaming)
    out.push_back({prefix + "model", model_->params(), 0, n, db, de});
  else
    out.push_back({"model", model_->params(), 0, n, b, e});
  out.push_back({prefix + "adam_m", optimizer_->m().data(), 0, n, db, de});
  out.push_back({prefix + "adam_v", optimizer_->v().data(), 0, n, db, de});
  // The error feedback is the data center's leader's alone (it compresses
  // for the data center; the others' buffers stay zero), so it writes all.
  if (!diloco->error_feedback().empty() && groups_.dp_intra_dc->rank() == 0)
    out.push_back({"dc" + std::to_string(d) + ".outer_error", diloco->error_feedback().data(), 0, n, 0, n});
  return out;
}

Status DistributedState::Restore(CheckpointReader& reader, const Checkpointer& checkpointer) {
  const CheckpointHeader& h = reader.header();
  const GPTConfig& c = h.config;
  if (!SameModel(c, config_)) {
    return Status::InvalidArgument("checkpoint model " + DescribeConfig(c) + " differs from the requested " +
                                   DescribeConfig(config_));
  }
  if (!reader.has_array("adam_m") || !reader.has_array("adam_v"))
    return Status::InvalidArgument("the checkpoint has no optimizer state to resume from");
  // Each rank reads the ranges it holds, whatever layout wrote them.
  const size_t n = model_->num_params();
  MERIDIAN_RETURN_IF_ERROR(checkpointer.ReadStageRange(reader, "model", 0, n, model_->params()));
  const size_t held_begin = sync_->shard_begin(), held_end = sync_->shard_end();
  MERIDIAN_RETURN_IF_ERROR(
      checkpointer.ReadStageRange(reader, "adam_m", held_begin, held_end, optimizer_->m().data()));
  MERIDIAN_RETURN_IF_ERROR(
      checkpointer.ReadStageRange(reader, "adam_v", held_begin, held_end, optimizer_->v().data()));
  optimizer_->set_step(h.step);
  if (DilocoOuterOptimizer* diloco = sync_->diloco()) {
    // Checkpoints are taken at round ends, where the round starts from the
    // saved weights (the trainer starts it); this data center's inner state
    // is restored when the checkpoint has it (saved by the same data-center
    // layout).
    auto restore = [&](const std::string& name, float* stage_array) -> Status {
      if (!reader.has_array(name)) return Status::OK();
      return checkpointer.ReadStageRange(reader, name, 0, n, stage_array);
    };
    MERIDIAN_RETURN_IF_ERROR(restore("outer_momentum", diloco->momentum().data()));
    const std::string prefix = "dc" + std::to_string(groups_.data_center) + ".";
    if (groups_.data_center > 0) {
      MERIDIAN_RETURN_IF_ERROR(restore(prefix + "adam_m", optimizer_->m().data()));
      MERIDIAN_RETURN_IF_ERROR(restore(prefix + "adam_v", optimizer_->v().data()));
    }
    if (!diloco->error_feedback().empty())
      MERIDIAN_RETURN_IF_ERROR(restore(prefix + "outer_error", diloco->error_feedback().data()));
    if (diloco->config().streaming() && reader.has_array("outer_start")) {
      if (groups_.data_center > 0) MERIDIAN_RETURN_IF_ERROR(restore(prefix + "model", model_->params()));
      MERIDIAN_RETURN_IF_ERROR(restore("outer_start", diloco->round_start().data()));
      MERIDIAN_RETURN_IF_ERROR(restore("outer_pending", diloco->pending().data()));
      diloco->RestoredAt(h.step);
    }
  }
  return Status::OK();
}

Status DistributedState::GatherToRoot(int replica, const std::vector<const float*>& stage_arrays,
                                      std::vector<std::vector<float>*> whole_arrays) {
  const size_t n = model_->num_params();
  const bool root = groups_.world->rank() == 0;
  for (std::vector<float>* w : whole_arrays) w->clear();
  // The replica's stages send their arrays to world rank 0.
  if (groups_.dp_index == replica && !root) {
    for (size_t k = 0; k < stage_arrays.size(); ++k)
      MERIDIAN_RETURN_IF_ERROR(send_ ? send_(stage_arrays[k], n, 0, kGatherTag + (int)k)
                                     : groups_.world->Send(stage_arrays[k], n, 0, kGatherTag + (int)k));
    return Status::OK();
  }
  if (!root) return Status::OK();
  const ParameterLayout whole(config_, WholeModel(config_));
  for (std::vector<float>* w : whole_arrays) w->assign(whole.total(), 0.0f);
  for (int s = 0; s < layout_.pp; ++s) {
    const ParameterLayout stage(config_, stages_[s]);
    std::vector<float> buffer(stage.total());
    const int source = layout_.RankOf(replica, s);
    for (size_t k = 0; k < stage_arrays.size(); ++k) {
      const float* src = stage_arrays[k];
      if (source != 0) {
        const int tag = kGatherTag + (int)k;
        MERIDIAN_RETURN_IF_ERROR(recv_ ? recv_(buffer.data(), buffer.size(), source, tag)
                                       : groups_.world->Recv(buffer.data(), buffer.size(), source, tag));
        src = buffer.data();
      }
      CopyStageToWhole(stage, src, whole, whole_arrays[k]->data());
    }
  }
  return Status::OK();
}

}  // namespace meridian
