#include <cmath>
#include <set>
#include <utility>

#include "scheduler/placement/cost_model.h"
#include "scheduler/placement/placement.h"

namespace meridian::scheduler {

Status ValidatePlacement(const Topology& topo, const Occupancy& occupied, const JobRequest& job,
                         const Placement& p) {
  auto bad = [](const std::string& what) { return Status::InvalidArgument("placement: " + what); };
  const int dp = p.dp, pp = p.pp;
  if (dp < 1 || pp < 1) return bad("dp " + std::to_string(dp) + " x pp " + std::to_string(pp) + ": degrees must be >= 1");
  if (!job.auto_layout && (dp != job.dp || pp != job.pp)) {
    return bad("dp " + std::to_string(dp) + " x pp " + std::to_string(pp) + " is not the requested dp " +
               std::to_string(job.dp) + " x pp " + std::to_string(job.pp));
  }
  if (job.auto_layout && (long long)dp * pp != job.gpus)
    return bad("dp x pp = " + std::to_string((long long)dp * pp) + ", not the requested " + std::to_string(job.gpus) + " GPUs");
  if (pp > job.model.n_layer) return bad("pp " + std::to_string(pp) + " exceeds the model's layers");
  if ((long long)p.ranks.size() != (long long)dp * pp)
    return bad(std::to_string(p.ranks.size()) + " ranks for dp x pp = " + std::to_string((long long)dp * pp));
  const ClusterIndex index(topo);
  std::set<std::pair<int, int>> used;  // (node id, Gpu::index)
  for (int i = 0; i < dp * pp; ++i) {
    const RankPlacement& r = p.ranks[i];
    const std::string at = "rank " + std::to_string(i) + ": ";
    if (r.rank != i || r.dp_index != i / pp || r.stage != i % pp)
      return bad(at + "rank/dp_index/stage do not follow world rank order (rank = dp_index * pp + stage)");
    const int node = index.NodeId(r.node);
    if (node < 0) return bad(at + "unknown node '" + r.node + "'");
    const Node& n = index.node(node);
    if (!n.alive) return bad(at + "node " + r.node + " is dead");
    if (r.data_center != n.data_center) return bad(at + "node " + r.node + " is not in data center " + r.data_center);
    const Gpu* gpu = nullptr;
    for (const Gpu& g : n.gpus)
      if (g.index == r.gpu) gpu = &g;
    const std::string where = r.node + ":" + std::to_string(r.gpu);
    if (gpu == nullptr) return bad(at + "GPU " + where + " does not exist");
    auto taken = occupied.find(r.node);
    if (taken != occupied.end() && taken->second.count(r.gpu) > 0)
      return bad(at + "GPU " + where + " is taken by " + taken->second.at(r.gpu));
    if (!used.emplace(node, r.gpu).second) return bad(at + "GPU " + where + " holds two ranks");
    // Each replica's stages cover the layers in order, all replicas alike.
    const RankPlacement& first = p.ranks[r.stage];
    const int begin = r.stage == 0 ? 0 : p.ranks[i - 1].layer_end;
    if (r.layer_begin != begin || r.layer_end <= r.layer_begin || r.layer_end > job.model.n_layer ||
        (r.stage == pp - 1 && r.layer_end != job.model.n_layer) || r.layer_begin != first.layer_begin ||
        r.layer_end != first.layer_end) {
      return bad(at + "layers [" + std::to_string(r.layer_begin) + ", " + std::to_string(r.layer_end) +
                 ") break the stage split");
    }
    const double need = StageMemoryBytes(job, r.layer_begin, r.layer_end, r.stage == 0, r.stage == pp - 1, pp, r.stage);
    if (need > gpu->memory_gb * kBytesPerGb) {
      return bad(at + "stage " + std::to_string(r.stage) + " needs " + std::to_string(need / kBytesPerGb) +
                 " GB, GPU " + where + " has " + std::to_string(gpu->memory_gb));
    }
  }
  if (!std::isfinite(p.predicted_step_s) || p.predicted_step_s <= 0)
    return bad("predicted_step_s = " + std::to_string(p.predicted_step_s));
  return Status::OK();
}

}  // namespace meridian::scheduler
