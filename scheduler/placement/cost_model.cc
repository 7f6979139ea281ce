#include "scheduler/placement/cost_model.h"

#include "runtime/model/activation_sizes.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "common/link_schedule.h"
#include "runtime/model/activation_sizes.h"
#include "runtime/model/parameter_layout.h"
#include "runtime/parallel/parallel_layout.h"
#include "runtime/parallel/pipeline_schedule.h"

namespace meridian::scheduler {

namespace {

uint64_t PairKey(int a, int b) {
  if (a > b) std::swap(a, b);
  return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}

// Seconds for `bytes` over a link of `gbps` Gbit/s.
double WireSeconds(double bytes, double gbps) { return bytes * 8.0 / (gbps * 1e9); }

// A ring all-reduce of `bytes` among n members: 2(n-1)/n of the buffer
// crosses the slowest hop, in 2(n-1) steps that each pay its latency.
double RingSeconds(double bytes, int n, double gbps, double latency_s) {
  if (n <= 1) return 0.0;
  return 2.0 * (n - 1) / n * WireSeconds(bytes, gbps) + 2.0 * (n - 1) * latency_s;
}

// One DP group's members inside one data center.
struct DcShare {
  int dc = 0, count = 0;
  bool one_node = true;
  double gbps = 0, latency_s = 0;  // the link their intra-DC all-reduce uses
};

// What one stage's DP group costs under each mode.
struct GroupCost {
  double sync = 0, hierarchical = 0;
  double intra = 0;  // the all-reduce inside each data center (DiLoCo's every step)
  bool crosses_dcs = false;
  int members = 1, dcs = 1;
  double params = 0;                                // values the group synchronises
  double inter_gbps = 0, inter_latency_s = 0;       // the slowest inter-DC hop
  LinkSchedule inter_schedule;                      // the hop that is up least (contact windows)
};

GroupCost PriceDpGroup(const ClusterIndex& index, double params,
                       std::vector<std::pair<int, int>>& members /* (dc, node), scratch */) {
  GroupCost cost;
  const int n = (int)members.size();
  cost.members = n;
  cost.params = params;
  if (n <= 1) return cost;
  const double bytes = params * kGradientBytesPerParam;
  std::sort(members.begin(), members.end());
  std::vector<DcShare> shares;
  int last_node = -1;
  for (const auto& [dc, node] : members) {
    if (shares.empty() || shares.back().dc != dc) {
      shares.push_back(DcShare{dc, 0, true, 0, 0});
    } else if (node != last_node) {
      shares.back().one_node = false;
    }
    shares.back().count++;
    last_node = node;
  }
  double intra = 0, slowest_gbps = std::numeric_limits<double>::infinity(), worst_latency = 0;
  size_t at = 0;  // members[at] is the share's first member
  for (DcShare& s : shares) {
    // A share on one node all-reduces over its NVLink, else over the fabric.
    const Node& node = index.node(members[at].second);
    s.gbps = s.one_node ? node.intra_node_gbps : index.FabricGbps(s.dc);
    s.latency_s = s.one_node ? node.intra_node_latency_us * 1e-6 : index.FabricLatencyS(s.dc);
    at += s.count;
    intra = std::max(intra, RingSeconds(bytes, s.count, s.gbps, s.latency_s));
    if (s.count > 1) {
      slowest_gbps = std::min(slowest_gbps, s.gbps);
      worst_latency = std::max(worst_latency, s.latency_s);
    }
  }
  cost.intra = intra;
  const int k = (int)shares.size();
  cost.dcs = k;
  if (k == 1) {
    cost.sync = cost.hierarchical = intra;
    return cost;
  }
  // Across data centers the ring visits them in id order: k hops (one for two).
  double inter_gbps = std::numeric_limits<double>::infinity(), inter_latency = 0;
  for (int i = 0; i < (k == 2 ? 1 : k); ++i) {
    const int a = shares[i].dc, b = shares[(i + 1) % k].dc;
    inter_gbps = std::min(inter_gbps, index.InterDcGbps(a, b));
    inter_latency = std::max(inter_latency, index.InterDcLatencyS(a, b));
    const LinkSchedule& schedule = index.InterDcSchedule(a, b);
    if (schedule.DutyCycle() < cost.inter_schedule.DutyCycle()) cost.inter_schedule = schedule;
  }
  cost.crosses_dcs = true;
  cost.inter_gbps = inter_gbps;
  cost.inter_latency_s = inter_latency;
  // Every step's exchange over a link in contact windows waits for one, and
  // sits out the gaps it outlasts.
  const LinkSchedule& windows = cost.inter_schedule;
  cost.sync = windows.ExpectedTransferSeconds(
      RingSeconds(bytes, n, std::min(slowest_gbps, inter_gbps), std::max(worst_latency, inter_latency)));
  cost.hierarchical = intra + windows.ExpectedTransferSeconds(RingSeconds(bytes, k, inter_gbps, inter_latency));
  return cost;
}

// WAN bytes a step as the trainer counts them (a ring model of each
// collective, runtime/parallel/traffic_counter.h): a ring over the group
// crosses data centers on k of its edges.
double SyncWanBytes(const GroupCost& g) {
  if (!g.crosses_dcs) return 0.0;
  return g.dcs * 2.0 * (g.members - 1) / g.members * g.params * kGradientBytesPerParam;
}
double HierarchicalWanBytes(const GroupCost& g) {
  return g.crosses_dcs ? 2.0 * (g.dcs - 1) * g.params * kGradientBytesPerParam : 0.0;
}

// One DiLoCo exchange of `values`: an all-gather of their payload among
// the data centers' leaders, k - 1 ring steps that each carry a payload
// and wait a round trip; over a link in contact windows, also the wait for
// a window and the gaps it outlasts.
double ExchangeSeconds(const GroupCost& g, Compression compress, double values) {
  const double payload = (double)CompressedBytes(compress, (size_t)values);
  return g.inter_schedule.ExpectedTransferSeconds((g.dcs - 1) * (WireSeconds(payload, g.inter_gbps) + 2.0 * g.inter_latency_s));
}

int Fragments(const DilocoSettings& d) { return std::max(1, d.fragments); }

// DiLoCo's DP seconds a step: the intra-DC all-reduce every step, and per
// round of H steps F exchanges of 1/F of the stage, each costing what its
// overlap of `overlap` inner steps (of `inner_step_s`) does not hide.
double DilocoSeconds(const GroupCost& g, const DilocoSettings& d, double inner_step_s) {
  if (!g.crosses_dcs) return g.intra;
  const int f = Fragments(d);
  const double exposed = std::max(0.0, ExchangeSeconds(g, d.compress, g.params / f) - d.overlap * inner_step_s);
  return g.intra + f * exposed / std::max(1, d.h);
}

double DilocoWanBytes(const GroupCost& g, const DilocoSettings& d) {
  if (!g.crosses_dcs) return 0.0;
  const int f = Fragments(d);
  const double payload = f * (double)CompressedBytes(d.compress, (size_t)(g.params / f));
  return g.dcs * (g.dcs - 1.0) * payload / std::max(1, d.h);
}

// Every stage's DP group on `slots`.
std::vector<GroupCost> PriceDpGroups(const ClusterIndex& index, int dp, int pp, const std::vector<StageCost>& stages,
                                     const std::vector<Slot>& slots) {
  std::vector<GroupCost> groups;
  std::vector<std::pair<int, int>> members;
  for (int s = 0; s < pp && dp > 1; ++s) {
    members.clear();
    for (int d = 0; d < dp; ++d) members.emplace_back(index.DcOf(slots[d * pp + s].node), slots[d * pp + s].node);
    groups.push_back(PriceDpGroup(index, stages[s].params, members));
  }
  return groups;
}

// The DiLoCo settings worth pricing on `groups` when a step before the DP
// exchange takes `before_dp` seconds: the job's own first, then, with
// H > 1, int4 with the fewest inner steps of overlap that hide one exchange
// of the slowest group (at most H - 1), int4 likewise in up to 4 fragments
// of layers, and sparse in as many fragments. No duplicates.
std::vector<DilocoSettings> DilocoCandidates(const JobRequest& job, const std::vector<GroupCost>& groups,
                                             const std::vector<StageCost>& stages, double before_dp) {
  const DilocoSettings own = JobDiloco(job);
  std::vector<DilocoSettings> out = {own};
  if (own.h <= 1) return out;
  int fewest_layers = job.model.n_layer;
  for (const StageCost& s : stages) fewest_layers = std::min(fewest_layers, s.layer_end - s.layer_begin);
  auto hiding = [&](Compression c, int f) {
    double steps = 1;
    for (const GroupCost& g : groups)
      if (g.crosses_dcs)
        steps = std::max(steps, std::ceil(ExchangeSeconds(g, c, g.params / f) / (before_dp + g.intra)));
    return (int)std::min<double>(steps, own.h - 1);
  };
  const int f = std::max(1, std::min({4, fewest_layers, own.h}));
  for (const DilocoSettings& d : {DilocoSettings{own.h, Compression::kInt4, 1, hiding(Compression::kInt4, 1)},
                                  DilocoSettings{own.h, Compression::kInt4, f, hiding(Compression::kInt4, f)},
                                  DilocoSettings{own.h, Compression::kSparse, f, hiding(Compression::kSparse, f)}})
    if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
  return out;
}

// DiLoCo's DP seconds a step with settings `d`: its slowest group's.
double DilocoPrice(const std::vector<GroupCost>& groups, const DilocoSettings& d, double before_dp) {
  double seconds = 0;
  for (const GroupCost& g : groups) seconds = std::max(seconds, DilocoSeconds(g, d, before_dp + g.intra));
  return seconds;
}

}  // namespace

ClusterIndex::ClusterIndex(const Topology& topo) : topo_(&topo) {
  std::map<std::string, const DataCenter*> dcs;
  for (const DataCenter& dc : topo.data_centers) dcs.emplace(dc.name, &dc);
  for (const Node& n : topo.nodes) dcs.emplace(n.data_center, nullptr);
  std::unordered_map<std::string, int> dc_ids;
  for (const auto& [name, dc] : dcs) {
    dc_ids.emplace(name, (int)dc_names_.size());
    dc_names_.push_back(name);
    const DataCenter fallback;
    fabric_gbps_.push_back(dc != nullptr ? dc->fabric_gbps : fallback.fabric_gbps);
    fabric_latency_s_.push_back((dc != nullptr ? dc->fabric_latency_us : fallback.fabric_latency_us) * 1e-6);
  }
  for (const InterDcLink& l : topo.links) {
    auto a = dc_ids.find(l.a), b = dc_ids.find(l.b);
    if (a == dc_ids.end() || b == dc_ids.end()) continue;
    links_.emplace(PairKey(a->second, b->second), std::make_pair(l.gbps, l.latency_ms * 1e-3));
    if (!l.schedule.always_up()) schedules_.emplace(PairKey(a->second, b->second), &l.schedule);
  }
  node_ids_.reserve(topo.nodes.size());
  node_dc_.reserve(topo.nodes.size());
  for (size_t i = 0; i < topo.nodes.size(); ++i) {
    node_ids_.emplace(topo.nodes[i].name, (int)i);  // the first of duplicate names wins
    node_dc_.push_back(dc_ids.at(topo.nodes[i].data_center));
    nodes_by_name_.push_back((int)i);
  }
  std::sort(nodes_by_name_.begin(), nodes_by_name_.end(),
            [&](int a, int b) { return topo.nodes[a].name < topo.nodes[b].name || (topo.nodes[a].name == topo.nodes[b].name && a < b); });
}

int ClusterIndex::NodeId(const std::string& name) const {
  auto it = node_ids_.find(name);
  return it == node_ids_.end() ? -1 : it->second;
}

const std::pair<double, double>* ClusterIndex::Link(int a, int b) const {
  auto it = links_.find(PairKey(a, b));
  return it == links_.end() ? nullptr : &it->second;
}

const LinkSchedule& ClusterIndex::InterDcSchedule(int a, int b) const {
  static const LinkSchedule kAlwaysUp;
  auto it = schedules_.find(PairKey(a, b));
  return it == schedules_.end() ? kAlwaysUp : *it->second;
}

double ClusterIndex::InterDcGbps(int a, int b) const {
  const auto* l = Link(a, b);
  return l != nullptr ? l->first : topo_->default_inter_dc_gbps;
}

double ClusterIndex::InterDcLatencyS(int a, int b) const {
  const auto* l = Link(a, b);
  return l != nullptr ? l->second : topo_->default_inter_dc_latency_ms * 1e-3;
}

double ClusterIndex::NodeGbps(int a, int b) const {
  if (a == b) return node(a).intra_node_gbps;
  if (node_dc_[a] == node_dc_[b]) return fabric_gbps_[node_dc_[a]];
  return InterDcGbps(node_dc_[a], node_dc_[b]);
}

double ClusterIndex::NodeLatencyS(int a, int b) const {
  if (a == b) return node(a).intra_node_latency_us * 1e-6;
  if (node_dc_[a] == node_dc_[b]) return fabric_latency_s_[node_dc_[a]];
  return InterDcLatencyS(node_dc_[a], node_dc_[b]);
}

double StageMemoryBytes(const JobRequest& job, int layer_begin, int layer_end, bool first, bool last, int pp,
                        int stage) {
  const GPTConfig& c = job.model;
  const ParameterLayout layout(c, StageSpec{layer_begin, layer_end, first, last});
  const double rows = (double)job.batch * job.seq;
  // Per micro-batch in flight, as GPTModel keeps them: the stage input, each
  // layer's activations, and on the last stage the final norm's output and
  // statistics, the logits and the losses; then the backward workspace.
  const double layers = layer_end - layer_begin;
  const bool scores = !job.fused_attention;
  double per_slot = rows * c.n_embd + layers * (double)LayerActivationSizesFor(c, job.batch, job.seq, scores).total();
  if (last) per_slot += rows * (c.n_embd + 2.0 + c.padded_vocab_size + 1.0);
  const double workspace = (double)BackwardWorkspaceFloats(c, job.batch, job.seq, scores);
  const int slots = PipelineSlots(PipelineScheduleKind::k1F1B, stage, std::max(pp, 1), std::max(job.microbatches, 1));
  return (double)layout.total() * job.bytes_per_param + (slots * per_slot + workspace) * job.bytes_per_activation;
}

StageCost MakeStageCost(const JobRequest& job, const StageSpec& spec, int pp, int stage) {
  const GPTConfig& c = job.model;
  const ParameterLayout layout(c, spec);
  StageCost sc;
  sc.layer_begin = spec.layer_begin;
  sc.layer_end = spec.layer_end;
  sc.first = spec.first;
  sc.last = spec.last;
  sc.params = (double)layout.total();
  // 6 FLOPs per matmul parameter per token: the first stage's embedding
  // rows are looked up, not multiplied, while the last stage's tied LM head
  // is a real matmul. Counting the lookups would make the first stage look
  // far heavier than PartitionLayers balanced it.
  double matmul_params = sc.params;
  if (spec.first) matmul_params -= (double)layout.tensor(kWpe).count;
  if (spec.first && !spec.last) matmul_params -= (double)layout.tensor(kWte).count;
  const double tokens = (double)job.batch * job.seq;
  sc.flops_per_microbatch =
      6.0 * matmul_params * tokens + 12.0 * spec.num_layers() * (double)c.n_embd * job.seq * tokens;
  sc.memory_bytes = StageMemoryBytes(job, spec.layer_begin, spec.layer_end, spec.first, spec.last, pp, stage);
  return sc;
}

std::vector<StageCost> StageCosts(const JobRequest& job, int pp) {
  std::vector<StageCost> out;
  const std::vector<StageSpec> specs = PartitionLayers(job.model, pp, job.seq);
  for (int s = 0; s < (int)specs.size(); ++s) out.push_back(MakeStageCost(job, specs[s], pp, s));
  return out;
}

Price PriceSlots(const ClusterIndex& index, const JobRequest& job, int dp, int pp,
                 const std::vector<StageCost>& stages, const std::vector<Slot>& slots) {
  Price price;
  const double waves = std::max(job.microbatches, 1) + pp - 1;  // 1F1B fill + steady state + drain

  double slowest_stage = 0;
  for (int r = 0; r < dp * pp; ++r) {
    const Gpu& gpu = index.node(slots[r].node).gpus[slots[r].gpu];
    slowest_stage = std::max(slowest_stage, stages[r % pp].flops_per_microbatch / (gpu.tflops * 1e12 * kComputeEfficiency));
  }
  price.compute_s = waves * slowest_stage;

  // Forward activations and backward gradients between consecutive stages.
  // Inside a data center every GPU has its own NVLink and NIC; a WAN link is
  // shared by all the hops that cross it, so its bandwidth is divided among
  // them (the latency is not).
  const double act_bytes = 2.0 * job.batch * job.seq * job.model.n_embd * job.bytes_per_activation;
  std::unordered_map<uint64_t, int> wan_hops;
  for (int d = 0; d < dp; ++d) {
    for (int s = 0; s + 1 < pp; ++s) {
      const int a = index.DcOf(slots[d * pp + s].node), b = index.DcOf(slots[d * pp + s + 1].node);
      if (a != b) wan_hops[PairKey(a, b)]++;
    }
  }
  double slowest_hop = 0;
  for (int d = 0; d < dp; ++d) {
    for (int s = 0; s + 1 < pp; ++s) {
      const int a = slots[d * pp + s].node, b = slots[d * pp + s + 1].node;
      const int da = index.DcOf(a), db = index.DcOf(b);
      const double sharing = da == db ? 1.0 : wan_hops[PairKey(da, db)];
      slowest_hop = std::max(slowest_hop, sharing * WireSeconds(act_bytes, index.NodeGbps(a, b)) +
                                              2.0 * index.NodeLatencyS(a, b));
    }
  }
  price.pipeline_comm_s = waves * slowest_hop;

  double sync = 0, hierarchical = 0;
  bool crosses = false;
  const std::vector<GroupCost> groups = PriceDpGroups(index, dp, pp, stages, slots);
  for (const GroupCost& g : groups) {
    sync = std::max(sync, g.sync);
    hierarchical = std::max(hierarchical, g.hierarchical);
    crosses = crosses || g.crosses_dcs;
  }
  // DiLoCo as the job runs it, or, where it lets the placement tune it and
  // a group crosses data centers, the cheapest variant (the first on a tie:
  // the job's own).
  const double before_dp = price.compute_s + price.pipeline_comm_s;
  price.diloco = JobDiloco(job);
  double diloco = DilocoPrice(groups, price.diloco, before_dp);
  if (job.tune_diloco && crosses) {
    for (const DilocoSettings& d : DilocoCandidates(job, groups, stages, before_dp)) {
      const double seconds = DilocoPrice(groups, d, before_dp);
      if (seconds < diloco) {
        diloco = seconds;
        price.diloco = d;
      }
    }
  }
  // Auto: inside one data center a plain all-reduce is the cheapest exact
  // sync; across data centers take the cheaper of the two WAN-aware modes
  // (hierarchical on a tie: it keeps every step's update exact).
  const DpSync mode = job.dp_sync.value_or(!crosses             ? DpSync::kSync
                                           : diloco < hierarchical ? DpSync::kDiloco
                                                                   : DpSync::kHierarchical);
  price.dp_sync = mode;
  price.dp_comm_s = mode == DpSync::kHierarchical ? hierarchical : mode == DpSync::kDiloco ? diloco : sync;
  return price;
}

// The least-up schedule (periodic or an explicit list of windows) a DP
// group on these slots crosses, as meridian-train's --wan-window takes it;
// empty when none does.
std::string WanWindow(const ClusterIndex& index, int dp, int pp, const std::vector<StageCost>& stages,
                      const std::vector<Slot>& slots) {
  const LinkSchedule* least = nullptr;
  std::vector<GroupCost> groups = PriceDpGroups(index, dp, pp, stages, slots);
  for (const GroupCost& g : groups)
    if (g.crosses_dcs && !g.inter_schedule.always_up() &&
        (least == nullptr || g.inter_schedule.DutyCycle() < least->DutyCycle()))
      least = &g.inter_schedule;
  return least == nullptr ? "" : FormatWindowSpec(*least);
}

namespace {

// What a placement priced as `price` tells the ranks of a job that let it
// tune DiLoCo: the settings it chose, when it runs DiLoCo.
std::optional<DilocoSettings> TunedDiloco(const JobRequest& job, const Price& price) {
  if (!job.tune_diloco || price.dp_sync != DpSync::kDiloco) return std::nullopt;
  return price.diloco;
}

}  // namespace

std::string DilocoSettings::Name() const {
  std::string name = "diloco h" + std::to_string(h);
  if (compress != Compression::kNone) name += std::string(" ") + CompressionName(compress);
  if (fragments > 1) name += " f" + std::to_string(fragments);
  if (overlap > 0) name += " overlap" + std::to_string(overlap);
  return name;
}

std::string DilocoSettings::TrainArgs() const {
  std::string args = "--dp-sync diloco --diloco-h " + std::to_string(h);
  if (compress != Compression::kNone) args += std::string(" --outer-compress ") + CompressionName(compress);
  if (fragments > 1) args += " --diloco-fragments " + std::to_string(fragments);
  if (overlap > 0) args += " --diloco-overlap " + std::to_string(overlap);
  return args;
}

DilocoSettings JobDiloco(const JobRequest& job) {
  return DilocoSettings{job.diloco_h, job.outer_compress, job.diloco_fragments, job.diloco_overlap};
}

std::vector<ModePrice> PriceModes(const ClusterIndex& index, const JobRequest& job, int dp, int pp,
                                  const std::vector<StageCost>& stages, const std::vector<Slot>& slots,
                                  const Price& price) {
  const std::vector<GroupCost> groups = PriceDpGroups(index, dp, pp, stages, slots);
  if (std::none_of(groups.begin(), groups.end(), [](const GroupCost& g) { return g.crosses_dcs; })) return {};
  const double before_dp = price.compute_s + price.pipeline_comm_s;
  std::vector<ModePrice> modes;
  auto add = [&](const std::string& name, DpSync mode, const std::string& args, auto seconds, auto bytes) {
    ModePrice m{name, mode, args};
    for (const GroupCost& g : groups) {
      m.dp_comm_s = std::max(m.dp_comm_s, seconds(g));
      m.wan_bytes_per_step += bytes(g);
    }
    m.predicted_step_s = before_dp + m.dp_comm_s;
    modes.push_back(m);
  };
  add("sync", DpSync::kSync, "--dp-sync sync", [](const GroupCost& g) { return g.sync; }, SyncWanBytes);
  add("hierarchical", DpSync::kHierarchical, "--dp-sync hierarchical",
      [](const GroupCost& g) { return g.hierarchical; }, HierarchicalWanBytes);
  auto add_diloco = [&](const DilocoSettings& d) {
    add(d.Name(), DpSync::kDiloco, d.TrainArgs(),
        [&](const GroupCost& g) { return DilocoSeconds(g, d, before_dp + g.intra); },
        [&](const GroupCost& g) { return DilocoWanBytes(g, d); });
  };
  for (const DilocoSettings& d : DilocoCandidates(job, groups, stages, before_dp)) add_diloco(d);
  // The prediction's mode: for diloco, the settings it priced.
  for (ModePrice& m : modes)
    m.chosen = m.dp_sync == price.dp_sync && (m.dp_sync != DpSync::kDiloco || m.mode == price.diloco.Name());
  return modes;
}

Placement MakePlacement(const ClusterIndex& index, const JobRequest& job, int dp, int pp,
                        const std::vector<StageCost>& stages, const std::vector<Slot>& slots, const Price& price) {
  Placement p;
  p.modes = PriceModes(index, job, dp, pp, stages, slots, price);
  p.wan_window = WanWindow(index, dp, pp, stages, slots);
  p.tuned_diloco = TunedDiloco(job, price);
  p.dp = dp;
  p.pp = pp;
  p.dp_sync = price.dp_sync;
  p.compute_s = price.compute_s;
  p.pipeline_comm_s = price.pipeline_comm_s;
  p.dp_comm_s = price.dp_comm_s;
  p.predicted_step_s = price.total();
  for (const StageCost& sc : stages) p.stage_memory_bytes.push_back(sc.memory_bytes);
  p.ranks.reserve(slots.size());
  for (int r = 0; r < dp * pp; ++r) {
    const Node& node = index.node(slots[r].node);
    RankPlacement rp;
    rp.rank = r;
    rp.data_center = node.data_center;
    rp.node = node.name;
    rp.gpu = node.gpus[slots[r].gpu].index;
    rp.dp_index = r / pp;
    rp.stage = r % pp;
    rp.layer_begin = stages[rp.stage].layer_begin;
    rp.layer_end = stages[rp.stage].layer_end;
    p.ranks.push_back(std::move(rp));
  }
  return p;
}

double PredictStepSeconds(const Topology& topo, const JobRequest& job, Placement& placement) {
  const double inf = std::numeric_limits<double>::infinity();
  const int dp = placement.dp, pp = placement.pp;
  auto unpriceable = [&]() {
    placement.predicted_step_s = placement.compute_s = placement.pipeline_comm_s = placement.dp_comm_s = inf;
    return inf;
  };
  if (dp < 1 || pp < 1 || (long long)placement.ranks.size() != (long long)dp * pp) return unpriceable();
  const ClusterIndex index(topo);
  std::vector<StageCost> stages(pp);
  std::vector<bool> seen(pp, false);
  std::vector<Slot> slots(dp * pp);
  for (const RankPlacement& r : placement.ranks) {
    if (r.rank < 0 || r.rank >= dp * pp || r.stage != r.rank % pp) return unpriceable();
    const int node = index.NodeId(r.node);
    if (node < 0) return unpriceable();
    const std::vector<Gpu>& gpus = index.node(node).gpus;
    auto gpu = std::find_if(gpus.begin(), gpus.end(), [&](const Gpu& g) { return g.index == r.gpu; });
    if (gpu == gpus.end()) return unpriceable();
    slots[r.rank] = Slot{node, (int)(gpu - gpus.begin())};
    if (!seen[r.stage]) {
      // Price the layer ranges the placement carries, whatever split made them.
      seen[r.stage] = true;
      if (r.layer_begin < 0 || r.layer_end <= r.layer_begin || r.layer_end > job.model.n_layer) return unpriceable();
      stages[r.stage] = MakeStageCost(job, StageSpec{r.layer_begin, r.layer_end, r.stage == 0, r.stage == pp - 1}, pp,
                                      r.stage);
    }
  }
  for (const Slot& s : slots)
    if (s.node < 0) return unpriceable();
  const Price price = PriceSlots(index, job, dp, pp, stages, slots);
  placement.dp_sync = price.dp_sync;
  placement.compute_s = price.compute_s;
  placement.pipeline_comm_s = price.pipeline_comm_s;
  placement.dp_comm_s = price.dp_comm_s;
  placement.predicted_step_s = price.total();
  placement.modes = PriceModes(index, job, dp, pp, stages, slots, price);
  placement.wan_window = WanWindow(index, dp, pp, stages, slots);
  placement.tuned_diloco = TunedDiloco(job, price);
  placement.stage_memory_bytes.clear();
  for (const StageCost& sc : stages) placement.stage_memory_bytes.push_back(sc.memory_bytes);
  return placement.predicted_step_s;
}

}  // namespace meridian::scheduler
