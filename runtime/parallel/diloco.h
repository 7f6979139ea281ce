// DiLoCo-style synchronisation across data centers (Douillard et al.,
// 2023): each data center trains on its own for H inner steps (gradients
// averaged only inside it), then the data centers average their
// pseudo-gradients (start-of-round weights minus current weights) over the
// WAN and apply an outer Nesterov-momentum step. Only one leader per data
// center talks across the WAN; it shares the result inside its data center.
#pragma once

#include <vector>

#include "common/status.h"
#include "runtime/parallel/compression.h"
#include "runtime/parallel/process_groups.h"
#include "runtime/parallel/stage_memory.h"
#include "runtime/parallel/traffic_counter.h"

namespace meridian {

struct DilocoConfig {
  int inner_steps = 50;        // H
  float outer_lr = 0.7f;       // DiLoCo paper defaults
  // Nesterov momentum; with sparse compression the decay of the error
  // feedback instead, which replaces the momentum (SparseLoCo).
  float outer_momentum = 0.9f;
  Compression compress = Compression::kNone;
};

class DilocoOuterOptimizer {
 public:
  // For a stage of n floats; StartRound before the first inner step.
  DilocoOuterOptimizer(size_t n, const DilocoConfig& config);
  // The round starts from `params` (the initial or restored weights).
  void StartRound(const float* params) { start_.assign(params, params + start_.size()); }

  // True after inner step `step` (1-based) when a round ends.
  bool RoundEnds(long step) const { return step % config_.inner_steps == 0; }

  // Averages pseudo-gradients across data centers (collective over the DP
  // group's intra- and inter-DC groups), applies the outer step to params
  // (a stage buffer in `memory`) and starts the next round. The outer
  // state stays in host memory: params come to the host and go back once
  // per round, and the averaged pseudo-gradient crosses the data center
  // through a buffer of `memory` (the groups' own kind).
  Status OuterStep(float* params, const ProcessGroups& groups, TrafficCounter* traffic,
                   StageMemory* memory = HostMemory());

  // State for checkpoints: round start, momentum, error feedback.
  std::vector<float>& round_start() { return start_; }
  std::vector<float>& momentum() { return momentum_; }
  std::vector<float>& error_feedback() { return error_; }
  const std::vector<float>& error_feedback() const { return error_; }

 private:
  DilocoConfig config_;
  std::vector<float> start_, momentum_, error_, delta_, average_;
  std::vector<float> host_params_;  // the stage's weights during an outer step
  std::vector<uint8_t> send_, gathered_;
};

// Hierarchical all-reduce (average over the whole DP group): average inside
// each data center, sum across one leader per data center (weighted by its
// size), broadcast back inside. The same result as a flat all-reduce with
// one WAN crossing per data center instead of one per ring edge.
// `data` (n floats in `memory`) must already hold the intra-data-center
// average.
Status HierarchicalFinish(float* data, size_t n, const ProcessGroups& groups, int dp_size, TrafficCounter* traffic,
                          StageMemory* memory = HostMemory());

}  // namespace meridian
