#include "scheduler/placement/layout_search.h"

#include <algorithm>
#include <cstdio>

namespace meridian::scheduler {

namespace {

constexpr int kMaxRanks = 1 << 20;

Status Bad(const std::string& field, long long value, const std::string& why) {
  return Status::InvalidArgument("job." + field + " = " + std::to_string(value) + ": " + why);
}

std::string Gb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f GB", bytes / kBytesPerGb);
  return buf;
}

}  // namespace

Status ValidateJobRequest(const JobRequest& job) {
  Status model = ValidateConfig(job.model);
  if (!model.ok()) return Status::InvalidArgument("job.model: " + model.message());
  if (job.batch < 1) return Bad("batch", job.batch, "must be >= 1");
  if (job.seq < 1) return Bad("seq", job.seq, "must be >= 1");
  if (job.seq > job.model.max_seq_len)
    return Bad("seq", job.seq, "exceeds the model's max_seq_len " + std::to_string(job.model.max_seq_len));
  if (job.microbatches < 1) return Bad("microbatches", job.microbatches, "must be >= 1");
  if (job.auto_layout) {
    if (job.gpus < 1) return Bad("gpus", job.gpus, "must be >= 1 with auto_layout");
    if (job.gpus > kMaxRanks) return Bad("gpus", job.gpus, "must be <= " + std::to_string(kMaxRanks));
  } else {
    if (job.dp < 1) return Bad("dp", job.dp, "must be >= 1");
    if (job.pp < 1) return Bad("pp", job.pp, "must be >= 1");
    if (job.pp > job.model.n_layer)
      return Bad("pp", job.pp, "exceeds the model's " + std::to_string(job.model.n_layer) + " layers (a stage needs one)");
    if ((long long)job.dp * job.pp > kMaxRanks)
      return Bad("dp", job.dp, "dp x pp = " + std::to_string((long long)job.dp * job.pp) + " ranks, more than " +
                                   std::to_string(kMaxRanks));
  }
  if (job.diloco_h < 1) return Bad("diloco_h", job.diloco_h, "must be >= 1");
  if (job.diloco_fragments < 1 || job.diloco_fragments > job.diloco_h)
    return Bad("diloco_fragments", job.diloco_fragments, "must be between 1 and diloco_h");
  if (job.diloco_overlap < 0 || job.diloco_overlap >= job.diloco_h)
    return Bad("diloco_overlap", job.diloco_overlap, "must be >= 0 and below diloco_h");
  if (job.bytes_per_param < 1) return Bad("bytes_per_param", job.bytes_per_param, "must be >= 1");
  if (job.bytes_per_activation < 1) return Bad("bytes_per_activation", job.bytes_per_activation, "must be >= 1");
  return Status::OK();
}

FreeGpus AliveGpus(const ClusterIndex& index) {
  FreeGpus out;
  out.start.reserve(index.num_nodes() + 1);
  for (int n = 0; n < index.num_nodes(); ++n) {
    out.start.push_back((int)out.positions.size());
    const Node& node = index.node(n);
    if (!node.alive) continue;
    const size_t first = out.positions.size();
    for (int g = 0; g < (int)node.gpus.size(); ++g) out.positions.push_back(g);
    std::stable_sort(out.positions.begin() + first, out.positions.end(),
                     [&](int a, int b) { return node.gpus[a].index < node.gpus[b].index; });
    // Few distinct sizes even in big clusters: a short list beats a map.
    for (const Gpu& gpu : node.gpus) {
      const double bytes = gpu.memory_gb * kBytesPerGb;
      auto it = std::find_if(out.by_memory.begin(), out.by_memory.end(), [&](const auto& e) { return e.first == bytes; });
      if (it != out.by_memory.end()) {
        it->second++;
      } else {
        out.by_memory.emplace_back(bytes, 1);
      }
    }
  }
  out.start.push_back((int)out.positions.size());
  out.total = (int)out.positions.size();
  std::sort(out.by_memory.begin(), out.by_memory.end(), std::greater<>());
  return out;
}

std::pair<int, int> AliveEntries(const ClusterIndex& index, const FreeGpus& alive, int node, int gpu_index) {
  const std::vector<Gpu>& gpus = index.node(node).gpus;
  const auto first = alive.positions.begin() + alive.start[node], last = alive.positions.begin() + alive.start[node + 1];
  // Entries are in Gpu::index order.
  auto lo = std::partition_point(first, last, [&](int g) { return gpus[g].index < gpu_index; });
  auto hi = std::partition_point(lo, last, [&](int g) { return gpus[g].index == gpu_index; });
  return {(int)(lo - alive.positions.begin()), (int)(hi - alive.positions.begin())};
}

void MarkHeld(const ClusterIndex& index, const FreeGpus& alive, const Occupancy& held, std::vector<char>& taken,
              std::vector<std::pair<double, long long>>& by_memory) {
  for (const auto& [name, gpus] : held) {
    const int id = index.NodeId(name);
    if (id < 0) continue;  // a node the topology no longer has
    const std::vector<Gpu>& node_gpus = index.node(id).gpus;
    for (const auto& [gpu_index, holder] : gpus) {
      const auto [first, last] = AliveEntries(index, alive, id, gpu_index);
      for (int k = first; k < last; ++k) {
        if (taken[k]) continue;
        taken[k] = 1;
        const double bytes = node_gpus[alive.positions[k]].memory_gb * kBytesPerGb;
        for (auto& [size, count] : by_memory)
          if (size == bytes) --count;
      }
    }
  }
}

FreeGpus Unflagged(const ClusterIndex& index, const FreeGpus& alive, const std::vector<char>& taken,
                   std::vector<std::pair<double, long long>> by_memory) {
  FreeGpus out;
  out.by_memory = std::move(by_memory);
  std::erase_if(out.by_memory, [](const auto& e) { return e.second == 0; });
  out.start.resize(alive.start.size());
  out.positions.reserve(alive.positions.size());
  for (int n = 0; n < index.num_nodes(); ++n) {
    out.start[n] = (int)out.positions.size();
    for (int k = alive.start[n]; k < alive.start[n + 1]; ++k)
      if (!taken[k]) out.positions.push_back(alive.positions[k]);
  }
  out.start[index.num_nodes()] = (int)out.positions.size();
  out.total = (int)out.positions.size();
  return out;
}

FreeGpus FindFreeGpus(const ClusterIndex& index, const FreeGpus& alive, const Occupancy& occupied,
                      const Occupancy* also) {
  std::vector<char> taken(alive.positions.size(), 0);
  std::vector<std::pair<double, long long>> by_memory = alive.by_memory;
  MarkHeld(index, alive, occupied, taken, by_memory);
  if (also != nullptr) MarkHeld(index, alive, *also, taken, by_memory);
  return Unflagged(index, alive, taken, std::move(by_memory));
}

std::vector<std::pair<int, int>> CandidateLayouts(const JobRequest& job) {
  if (!job.auto_layout) return {{job.dp, job.pp}};
  std::vector<std::pair<int, int>> out;
  for (int pp = 1; pp <= std::min(job.gpus, job.model.n_layer); ++pp)
    if (job.gpus % pp == 0) out.emplace_back(job.gpus / pp, pp);
  return out;
}

Status CheckMemoryFits(const FreeGpus& gpus, int dp, int pp,
                       const std::vector<StageCost>& stages, Status::Code code, const char* pool) {
  auto fail = [&](const std::string& msg) {
    return code == Status::Code::kUnavailable ? Status::Unavailable(msg) : Status::FailedPrecondition(msg);
  };
  const long long ranks = (long long)dp * pp;
  const std::string layout = "dp " + std::to_string(dp) + " x pp " + std::to_string(pp);
  if (gpus.total < ranks) {
    return fail("the job needs " + std::to_string(ranks) + " GPUs (" + layout + ") but " +
                (code == Status::Code::kUnavailable ? "only " + std::to_string(gpus.total) + " are " + pool
                                                    : "the cluster has " + std::to_string(gpus.total) + " " + pool));
  }
  const auto& by_memory = gpus.by_memory;
  // Stages by need, largest first. The GPUs able to hold a stage include
  // those able to hold any smaller one, so a matching exists exactly when,
  // for every stage, the GPUs covering its need are at least as many as
  // the ranks needing that much or more (Hall's condition on nested sets).
  std::vector<int> order(pp);
  for (int s = 0; s < pp; ++s) order[s] = s;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return stages[a].memory_bytes > stages[b].memory_bytes; });
  long long needing = 0;
  for (int s : order) {
    const StageCost& st = stages[s];
    needing += dp;
    long long covering = 0;
    for (const auto& [bytes, count] : by_memory)
      if (bytes >= st.memory_bytes) covering += count;
    if (covering >= needing) continue;
    const std::string stage = "stage " + std::to_string(s) + " (layers [" + std::to_string(st.layer_begin) + ", " +
                              std::to_string(st.layer_end) + ")) needs " + Gb(st.memory_bytes);
    if (covering == 0 && !by_memory.empty()) {
      return fail(stage + " but the largest " + pool + " GPU has " + Gb(by_memory.begin()->first) + " (" + layout + ")");
    }
    return fail(stage + ": " + std::to_string(needing) + " ranks (" + layout + ") need that much or more but only " +
                std::to_string(covering) + " " + pool + " GPUs have it");
  }
  return Status::OK();
}

namespace {

Result<Placement> PlaceOverLayouts(const ClusterIndex& index, const FreeGpus& alive, const FreeGpus& free,
                                   const JobRequest& job, const LayoutPlacer& place) {
  const std::vector<std::pair<int, int>> layouts = CandidateLayouts(job);
  bool fits_empty = false;
  Status never, not_now, placer;
  Price best_price;
  std::vector<Slot> best_slots;
  std::vector<StageCost> best_stages;
  int best_dp = 0, best_pp = 0;
  // Later (deeper) layouts overwrite the reasons: their stages are the
  // smallest, so theirs is the most telling shortfall.
  for (const auto& [dp, pp] : layouts) {
    const std::vector<StageCost> stages = StageCosts(job, pp);
    Status s = CheckMemoryFits(alive, dp, pp, stages, Status::Code::kFailedPrecondition, "alive");
    if (!s.ok()) {
      never = s;
      continue;
    }
    fits_empty = true;
    s = CheckMemoryFits(free, dp, pp, stages, Status::Code::kUnavailable, "free");
    if (!s.ok()) {
      not_now = s;
      continue;
    }
    Result<std::vector<Slot>> slots = place(LayoutContext{index, job, dp, pp, stages, free});
    if (!slots.ok()) {
      placer = slots.status();
      continue;
    }
    const Price price = PriceSlots(index, job, dp, pp, stages, *slots);
    if (best_slots.empty() || price.total() < best_price.total()) {
      best_price = price;
      best_slots = std::move(slots).value();
      best_stages = stages;
      best_dp = dp;
      best_pp = pp;
    }
  }
  if (!best_slots.empty()) return MakePlacement(index, job, best_dp, best_pp, best_stages, best_slots, best_price);
  const std::string prefix =
      job.auto_layout ? "no dp x pp layout of " + std::to_string(job.gpus) + " GPUs fits: " : std::string();
  if (!fits_empty) return Status::FailedPrecondition(prefix + never.message());
  if (!placer.ok()) return placer.WithContext(job.auto_layout ? "no dp x pp layout placed" : "placement");
  return Status::Unavailable(prefix + not_now.message());
}

}  // namespace

Result<Placement> PlaceOverLayouts(const Topology& topo, const Occupancy& occupied, const JobRequest& job,
                                   const LayoutPlacer& place) {
  MERIDIAN_RETURN_IF_ERROR(ValidateJobRequest(job));
  const ClusterIndex index(topo);
  const FreeGpus alive = AliveGpus(index);
  return PlaceOverLayouts(index, alive, FindFreeGpus(index, alive, occupied), job, place);
}

Result<Placement> PlaceOverLayouts(const TopologyIndex& topology, const Occupancy& occupied, const Occupancy* also,
                                   const JobRequest& job, const LayoutPlacer& place) {
  MERIDIAN_RETURN_IF_ERROR(ValidateJobRequest(job));
  return PlaceOverLayouts(topology.index, topology.alive, FindFreeGpus(topology.index, topology.alive, occupied, also),
                          job, place);
}

Result<Placement> PlaceOverLayouts(const TopologyIndex& topology, const FreeGpus& free, const JobRequest& job,
                                   const LayoutPlacer& place) {
  MERIDIAN_RETURN_IF_ERROR(ValidateJobRequest(job));
  return PlaceOverLayouts(topology.index, topology.alive, free, job, place);
}

std::shared_ptr<const TopologyIndex> IndexTopology(std::shared_ptr<const Topology> topology) {
  return std::make_shared<const TopologyIndex>(std::move(topology));
}

const Topology& IndexedTopology(const TopologyIndex& index) { return *index.topology; }

}  // namespace meridian::scheduler
