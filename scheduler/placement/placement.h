// The placement engine: where each rank of a DP x PP job runs, priced by its
// predicted step time. A library with no gRPC in it; deterministic.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/model/gpt_config.h"
#include "runtime/parallel/compression.h"
#include "runtime/parallel/dp_sync.h"
#include "scheduler/core/topology.h"

namespace meridian::scheduler {

// What a job asks for.
struct JobRequest {
  GPTConfig model;
  int batch = 4;          // sequences per micro-batch
  int seq = 64;
  int microbatches = 1;
  int dp = 1, pp = 1;     // ignored when auto_layout
  bool auto_layout = false;
  int gpus = 0;           // with auto_layout: total GPUs (dp * pp)
  std::optional<DpSync> dp_sync;  // unset: auto, the cheapest mode for the placement
  // DiLoCo as the job would run it (its --diloco-h, --outer-compress,
  // --diloco-fragments, --diloco-overlap), for pricing.
  int diloco_h = 50;
  Compression outer_compress = Compression::kNone;
  int diloco_fragments = 1;
  int diloco_overlap = 0;
  // The placement may replace those three with the cheapest variant for the
  // links it chooses (JobSpec's layout.tune_diloco).
  bool tune_diloco = false;
  int bytes_per_param = 16;      // weights + grads + AdamW moments (fp32: 4+4+8); bf16 adds its 2-byte copy
  int bytes_per_activation = 4;  // fp32 on CPU, 2 for bf16
  bool fused_attention = false;  // the CUDA model: attention keeps a log-sum-exp per row, not the T x T scores
  // Every field compared: requests equal in all are placed alike.
  auto operator<=>(const JobRequest&) const = default;
};

// DiLoCo's settings, as priced and as meridian-train takes them.
struct DilocoSettings {
  int h = 50;
  Compression compress = Compression::kNone;
  int fragments = 1;
  int overlap = 0;
  std::string Name() const;       // "diloco h50 int4 f4 overlap2"
  std::string TrainArgs() const;  // "--dp-sync diloco --diloco-h 50 ..."
  bool operator==(const DilocoSettings&) const = default;
};

// One rank's place.
struct RankPlacement {
  int rank = 0;
  std::string data_center, node;
  int gpu = 0;
  int dp_index = 0, stage = 0;
  int layer_begin = 0, layer_end = 0;
};

// One way of synchronising the DP groups on a placement, priced.
struct ModePrice {
  std::string mode;            // "sync", "hierarchical", "diloco h50 int4 f4 overlap2"
  DpSync dp_sync = DpSync::kSync;
  std::string train_args;      // the meridian-train options that select it
  double dp_comm_s = 0.0, predicted_step_s = 0.0;
  double wan_bytes_per_step = 0.0;  // over every DP group, as the trainer counts them
  bool chosen = false;         // the mode the placement's prediction assumes
};

struct Placement {
  int dp = 1, pp = 1;
  DpSync dp_sync = DpSync::kSync;      // the mode the prediction assumes
  std::vector<RankPlacement> ranks;    // world rank order: rank = dp_index * pp + stage
  double predicted_step_s = 0.0;
  double compute_s = 0.0, pipeline_comm_s = 0.0, dp_comm_s = 0.0;
  // Where a DP group crosses data centers: every mode priced (sync,
  // hierarchical, the job's DiLoCo and the DiLoCo variants worth trying on
  // these links); otherwise empty.
  std::vector<ModePrice> modes;
  std::vector<double> stage_memory_bytes;  // per stage, as StageMemoryBytes predicts
  // The least-up link schedule any DP group crosses, as FormatWindowSpec
  // writes it ("PERIOD:UP:PHASE" or "@OPEN-CLOSE,..."); empty: none.
  std::string wan_window;
  // For a job with tune_diloco placed to run DiLoCo: the settings the
  // prediction assumes, which its ranks run instead of their own.
  std::optional<DilocoSettings> tuned_diloco;
};

// Which GPUs are taken: node name -> GPU index -> job id.
using Occupancy = std::map<std::string, std::map<int, std::string>>;

// Frees every GPU `job_id` holds in `occupied`.
void Vacate(Occupancy& occupied, const std::string& job_id);
// Both taken; `a`'s holder where both name a GPU.
Occupancy Merged(const Occupancy& a, const Occupancy& b);

// Checks a request before placing it: InvalidArgument naming the field
// ("job.pp = 20: exceeds the model's 12 layers").
Status ValidateJobRequest(const JobRequest& job);

// Estimated bytes one stage needs on its GPU: parameters (with gradients
// and AdamW state) plus activations of the in-flight micro-batches.
double StageMemoryBytes(const JobRequest& job, int layer_begin, int layer_end, bool first, bool last, int pp,
                        int stage);

// Prices a given placement with the cost model of docs/scheduler.md.
double PredictStepSeconds(const Topology& topo, const JobRequest& job, Placement& placement);

// Places every rank or none (gang). FailedPrecondition naming the reason
// when the job can never fit this cluster; Unavailable when it would fit an
// empty cluster but not now (the caller queues it). Deterministic.
Result<Placement> PlaceJob(const Topology& topo, const Occupancy& occupied, const JobRequest& job);

// What every search on one topology derives from it alone (its index of
// nodes and data centers, the GPUs of alive nodes): at 200,000 GPUs a
// third of a search. A caller that searches one topology many times (the
// scheduler's passes) indexes it once.
struct TopologyIndex;
std::shared_ptr<const TopologyIndex> IndexTopology(std::shared_ptr<const Topology> topology);
const Topology& IndexedTopology(const TopologyIndex& index);  // the topology it indexes
// PlaceJob on the indexed topology: the same placement. GPUs in `also`
// are taken too (a scheduling pass's own placements, kept apart from the
// occupancy it shares rather than copied into it).
Result<Placement> PlaceJobIndexed(const TopologyIndex& topology, const Occupancy& occupied, const JobRequest& job,
                                  const Occupancy* also = nullptr);
// The same from held GPUs kept marked on the index (TakenGpus), as a
// scheduling pass keeps them: no walk over every held GPU.
class TakenGpus;
Result<Placement> PlaceJobIndexed(const TakenGpus& held, const JobRequest& job, const Occupancy* also = nullptr);

// Checks every rule a placement of `job` must follow, whoever made it: one
// rank per GPU of an alive node, none on an occupied GPU, each stage's
// memory within its GPU's, world rank order, each replica's stages covering
// the layers in order, and a finite prediction.
// InvalidArgument naming the first offending rank.
Status ValidatePlacement(const Topology& topo, const Occupancy& occupied, const JobRequest& job,
                         const Placement& placement);

}  // namespace meridian::scheduler
