// How a job's ranks are arranged: dp replicas x pp pipeline stages.
// World rank r is replica r / pp, stage r % pp, so a replica's stages are
// consecutive ranks (and land on the same node under mpirun's by-slot
// mapping, keeping activation traffic local).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/model/gpt_config.h"
#include "runtime/model/parameter_layout.h"

namespace meridian {

struct ParallelLayout {
  int dp = 1;
  int pp = 1;

  int world() const { return dp * pp; }
  int DpIndex(int rank) const { return rank / pp; }
  int Stage(int rank) const { return rank % pp; }
  int RankOf(int dp_index, int stage) const { return dp_index * pp + stage; }
  std::string ToString() const;
};

// dp x pp must equal the world size and pp may not exceed the layers; the
// message lists every degree so the mismatch is plain.
Status ValidateLayout(const ParallelLayout& layout, int world_size, int n_layer);

// Relative cost of one layer and of the stage extras, per token (forward +
// backward FLOPs); the last stage's LM head and loss are often worth
// several layers.
double LayerCost(const GPTConfig& config, int seq);
double HeadCost(const GPTConfig& config);

// Splits the layers into pp contiguous stages, each at least one layer,
// minimising the most expensive stage (the pipeline's pace) with the head
// counted on the last stage. Exact (dynamic programming over split points);
// ties go to the earliest split.
std::vector<StageSpec> PartitionLayers(const GPTConfig& config, int pp, int seq);

}  // namespace meridian
