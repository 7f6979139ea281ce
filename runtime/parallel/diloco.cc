#include "runtime/parallel/diloco.h"

#include <algorithm>

namespace meridian {

DilocoOuterOptimizer::DilocoOuterOptimizer(size_t n, const DilocoConfig& config)
    : config_(config), start_(n, 0.0f), momentum_(n, 0.0f), delta_(n), average_(n) {
  if (UsesErrorFeedback(config.compress)) error_.assign(n, 0.0f);
}

Status DilocoOuterOptimizer::OuterStep(float* stage_params, const ProcessGroups& g, TrafficCounter* traffic,
                                       StageMemory* memory) {
  const size_t n = start_.size();
  // Once per round the weights come to the host, where the outer state and
  // the compression live; the inner steps never leave the stage's memory.
  host_params_.resize(n);
  float* params = host_params_.data();
  MERIDIAN_RETURN_IF_ERROR(memory->ToHost(params, stage_params, n));
  // Inside a data center every replica holds the same weights (their
  // gradients were averaged), so one leader per data center speaks for it.
  if (g.dp_intra_dc->rank() == 0) {
    for (size_t i = 0; i < n; ++i) delta_[i] = start_[i] - params[i];
    // SparseLoCo: the error feedback, decayed by the outer momentum, takes
    // the momentum's place; what top-k leaves behind now is sent later.
    if (config_.compress == Compression::kSparse)
      for (float& e : error_) e *= config_.outer_momentum;
    Communicator& across = *g.dp_inter_dc;
    const size_t bytes = CompressedBytes(config_.compress, n);
    send_.resize(bytes);
    gathered_.resize(bytes * across.size());
    Compress(config_.compress, delta_.data(), n, error_.empty() ? nullptr : error_.data(), send_.data());
    MERIDIAN_RETURN_IF_ERROR(across.AllGatherBytes(send_.data(), gathered_.data(), bytes));
    traffic->AllGather(across, (double)bytes);
    std::fill(average_.begin(), average_.end(), 0.0f);
    const float weight = 1.0f / across.size();
    for (int r = 0; r < across.size(); ++r)
      DecompressAdd(config_.compress, gathered_.data() + r * bytes, n, weight, average_.data());
  }
  {
    // The data center's group carries buffers of the stage's memory.
    MERIDIAN_ASSIGN_OR_RETURN(StageBuffer shared, memory->Allocate(n));
    if (g.dp_intra_dc->rank() == 0) MERIDIAN_RETURN_IF_ERROR(memory->FromHost(shared.get(), average_.data(), n));
    MERIDIAN_RETURN_IF_ERROR(g.dp_intra_dc->Broadcast(shared.get(), n, 0));
    MERIDIAN_RETURN_IF_ERROR(memory->ToHost(average_.data(), shared.get(), n));
  }
  traffic->Broadcast(*g.dp_intra_dc, 4.0 * n, 0);
  const float lr = config_.outer_lr, mu = config_.outer_momentum;
  if (config_.compress == Compression::kSparse) {
    for (size_t i = 0; i < n; ++i) params[i] = start_[i] - lr * average_[i];
  } else {
    // Nesterov momentum on the averaged pseudo-gradient.
    for (size_t i = 0; i < n; ++i) {
      momentum_[i] = mu * momentum_[i] + average_[i];
      params[i] = start_[i] - lr * (average_[i] + mu * momentum_[i]);
    }
  }
  std::copy(params, params + n, start_.begin());
  MERIDIAN_RETURN_IF_ERROR(memory->FromHost(stage_params, params, n));
  return memory->WeightsChanged(stage_params, n);
}

Status HierarchicalFinish(float* data, size_t n, const ProcessGroups& g, int dp_size, TrafficCounter* traffic,
                          StageMemory* memory) {
  if (g.dp_inter_dc->size() == 1 && g.dp_intra_dc->size() == dp_size) return Status::OK();  // one data center
  if (g.dp_intra_dc->rank() == 0) {
    // Weight each data center's average by its size: a sum of sums.
    MERIDIAN_RETURN_IF_ERROR(memory->Scale(data, n, (float)g.dp_intra_dc->size()));
    MERIDIAN_RETURN_IF_ERROR(g.dp_inter_dc->AllReduce(data, n, ReduceOp::kSum));
    traffic->AllReduce(*g.dp_inter_dc, 4.0 * n);
    MERIDIAN_RETURN_IF_ERROR(memory->Scale(data, n, 1.0f / dp_size));
  }
  MERIDIAN_RETURN_IF_ERROR(g.dp_intra_dc->Broadcast(data, n, 0));
  traffic->Broadcast(*g.dp_intra_dc, 4.0 * n, 0);
  return Status::OK();
}

}  // namespace meridian
