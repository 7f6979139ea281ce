// The placement cost model over an index of the topology (docs/scheduler.md,
// "Placement"). Shared by the engine, the baselines and PredictStepSeconds so
// that every placement is priced the same way. Internal to scheduler/placement.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime/model/parameter_layout.h"
#include "scheduler/placement/placement.h"

namespace meridian::scheduler {

// Share of a GPU's dense peak a training step reaches.
constexpr double kComputeEfficiency = 0.5;
// Bytes per parameter in a gradient all-reduce (fp32 gradients).
constexpr double kGradientBytesPerParam = 4.0;
// Bytes in a "GB" of Gpu::memory_gb (decimal, as vendors count it).
constexpr double kBytesPerGb = 1e9;

// The topology by position, with names resolved once so that pricing a
// 4,096-rank placement does no string work. Data center ids follow name
// order; a node's data center missing from Topology::data_centers gets an id
// of its own with DataCenter's default fabric.
class ClusterIndex {
 public:
  explicit ClusterIndex(const Topology& topo);

  const Topology& topo() const { return *topo_; }
  int num_nodes() const { return (int)node_dc_.size(); }
  int num_dcs() const { return (int)dc_names_.size(); }
  const Node& node(int id) const { return topo_->nodes[id]; }
  int NodeId(const std::string& name) const;  // -1 when unknown
  int DcOf(int node) const { return node_dc_[node]; }
  const std::string& DcName(int dc) const { return dc_names_[dc]; }
  const std::vector<int>& NodesByName() const { return nodes_by_name_; }

  double FabricGbps(int dc) const { return fabric_gbps_[dc]; }
  double FabricLatencyS(int dc) const { return fabric_latency_s_[dc]; }
  double InterDcGbps(int a, int b) const;
  double InterDcLatencyS(int a, int b) const;
  // When the link between data centers a and b is up (always, for a pair
  // the cluster file leaves to the defaults).
  const LinkSchedule& InterDcSchedule(int a, int b) const;
  // Between two nodes: NVLink inside one, the fabric inside a data center,
  // the inter-DC link otherwise.
  double NodeGbps(int a, int b) const;
  double NodeLatencyS(int a, int b) const;

 private:
  const std::pair<double, double>* Link(int a, int b) const;

  const Topology* topo_;
  std::vector<std::string> dc_names_;
  std::vector<double> fabric_gbps_, fabric_latency_s_;
  std::unordered_map<uint64_t, std::pair<double, double>> links_;  // (gbps, latency s)
  std::unordered_map<uint64_t, const LinkSchedule*> schedules_;     // links with contact windows
  std::unordered_map<std::string, int> node_ids_;
  std::vector<int> node_dc_;
  std::vector<int> nodes_by_name_;
};

// One pipeline stage of a layout.
struct StageCost {
  int layer_begin = 0, layer_end = 0;
  bool first = true, last = true;
  double params = 0;                // parameters held (with embeddings)
  double flops_per_microbatch = 0;  // forward + backward
  double memory_bytes = 0;          // StageMemoryBytes
};

// One stage's parameters, FLOPs and memory.
StageCost MakeStageCost(const JobRequest& job, const StageSpec& spec, int pp, int stage);

// The stages of a dp x pp layout, split by PartitionLayers.
std::vector<StageCost> StageCosts(const JobRequest& job, int pp);

// One rank's GPU: a node id and a position in Node::gpus (not Gpu::index).
struct Slot {
  int node = -1;
  int gpu = -1;
  auto operator<=>(const Slot&) const = default;
};

struct Price {
  double compute_s = 0, pipeline_comm_s = 0, dp_comm_s = 0;
  double total() const { return compute_s + pipeline_comm_s + dp_comm_s; }
  DpSync dp_sync = DpSync::kSync;
  DilocoSettings diloco;  // the DiLoCo settings priced: the job's own, or the tuned choice
};

// Prices ranks placed on `slots` (world rank order, dp * pp of them).
Price PriceSlots(const ClusterIndex& index, const JobRequest& job, int dp, int pp,
                 const std::vector<StageCost>& stages, const std::vector<Slot>& slots);

// The job's own DiLoCo settings (its extra_args).
DilocoSettings JobDiloco(const JobRequest& job);

// Every mode priced on `slots` where a DP group crosses data centers (none
// otherwise): sync, hierarchical, the job's DiLoCo, and DiLoCo variants
// for these links: int4 with the overlap that hides one exchange, int4 in
// up to 4 fragments likewise, and sparse. The mode `price` assumes (with
// tune_diloco, whichever DiLoCo variant it chose) is marked chosen.
std::vector<ModePrice> PriceModes(const ClusterIndex& index, const JobRequest& job, int dp, int pp,
                                  const std::vector<StageCost>& stages, const std::vector<Slot>& slots,
                                  const Price& price);

// The Placement for priced slots, in world rank order, with its modes.
Placement MakePlacement(const ClusterIndex& index, const JobRequest& job, int dp, int pp,
                        const std::vector<StageCost>& stages, const std::vector<Slot>& slots, const Price& price);

}  // namespace meridian::scheduler
