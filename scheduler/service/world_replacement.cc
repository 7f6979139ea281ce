#include "scheduler/service/world_replacement.h"

#include <algorithm>
#include <set>

#include "scheduler/service/job_placement.h"
#include "scheduler/service/proto_convert.h"

namespace meridian::scheduler {

namespace {

std::vector<std::string> CandidateDataCenters(const Topology& healthy, const v1::Job& job, const std::string& own) {
  std::set<std::string> taken;  // the other worlds'
  for (const v1::RankAssignment& r : job.placement().ranks())
    if (r.data_center() != own) taken.insert(r.data_center());
  const auto& allowed = job.spec().data_centers();
  std::vector<std::string> out = {own};
  for (const DataCenter& dc : healthy.data_centers) {
    if (dc.name == own || taken.count(dc.name)) continue;
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), dc.name) == allowed.end()) continue;
    out.push_back(dc.name);
  }
  return out;
}

}  // namespace

Result<WorldMove> ReplaceWorld(const Topology& healthy, const Occupancy& occupied, const v1::Job& job,
                               const JobRequest& request, const std::string& lost_node) {
  const v1::Placement& placement = job.placement();
  if (!placement.dc_worlds()) return Status::FailedPrecondition(job.id() + " is not one world per data center");
  std::string own;
  for (const v1::RankAssignment& r : placement.ranks())
    if (r.node() == lost_node) own = r.data_center();
  if (own.empty()) return Status::FailedPrecondition(job.id() + " has no rank on node " + lost_node);

  // The world's ranks, in rank order (replica-major, as PlaceJob orders its own).
  std::vector<int> moving;
  for (int i = 0; i < placement.ranks_size(); ++i)
    if (placement.ranks(i).data_center() == own) moving.push_back(i);
  const int pp = std::max(1, placement.pp());
  JobRequest world = request;
  world.auto_layout = false;
  world.pp = pp;
  world.dp = (int)moving.size() / pp;
  world.gpus = 0;

  Topology usable = healthy;
  usable.nodes.erase(std::remove_if(usable.nodes.begin(), usable.nodes.end(),
                                    [&](const Node& n) { return n.name == lost_node; }),
                     usable.nodes.end());
  std::string reasons;
  for (const std::string& dc : CandidateDataCenters(usable, job, own)) {
    const Topology here = RestrictToDataCenters(usable, {dc});
    Result<Placement> found = PlaceJob(here, occupied, world);
    if (!found.ok()) {
      reasons += (reasons.empty() ? "" : "; ") + dc + ": " + found.status().message();
      continue;
    }
    const v1::Placement fresh = PlacementToProto(*found, here);
    WorldMove move;
    move.placement = placement;
    move.from_dc = own;
    move.to_dc = dc;
    std::set<std::string> nodes;
    for (size_t k = 0; k < moving.size(); ++k) {
      const v1::RankAssignment& to = fresh.ranks((int)k);
      v1::RankAssignment* r = move.placement.mutable_ranks(moving[k]);
      r->set_data_center(to.data_center());
      r->set_node(to.node());
      r->set_host(to.host());
      r->set_gpu(to.gpu());
      if (nodes.insert(to.node()).second) move.nodes += (move.nodes.empty() ? "" : ", ") + to.node();
    }
    std::vector<std::string> order;  // worlds are numbered by their first ranks' data centers
    for (const v1::RankAssignment& r : placement.ranks())
      if (std::find(order.begin(), order.end(), r.data_center()) == order.end()) order.push_back(r.data_center());
    move.world = (int)(std::find(order.begin(), order.end(), own) - order.begin());
    return move;
  }
  return Status::Unavailable("world " + own + " (" + std::to_string(moving.size()) +
                             " ranks) fits no data center now: " + reasons);
}

}  // namespace meridian::scheduler
