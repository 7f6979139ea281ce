#include "scheduler/service/job_placement.h"

#include <algorithm>
#include <map>
#include <set>

namespace meridian::scheduler {

Topology RestrictToDataCenters(const Topology& topology, const std::vector<std::string>& data_centers) {
  if (data_centers.empty()) return topology;
  auto allowed = [&](const std::string& dc) {
    return std::find(data_centers.begin(), data_centers.end(), dc) != data_centers.end();
  };
  Topology out = topology;
  out.data_centers.clear();
  out.nodes.clear();
  for (const DataCenter& dc : topology.data_centers)
    if (allowed(dc.name)) out.data_centers.push_back(dc);
  for (const Node& n : topology.nodes)
    if (allowed(n.data_center)) out.nodes.push_back(n);
  return out;
}

Result<Placement> PlaceAsWorlds(const Topology& topology, const Occupancy& occupied, const JobRequest& job,
                                const std::vector<std::string>& data_centers, JobPlacer place) {
  MERIDIAN_ASSIGN_OR_RETURN(Placement p, place(RestrictToDataCenters(topology, data_centers), occupied, job));
  std::set<std::string> worlds;
  for (const RankPlacement& r : p.ranks) worlds.insert(r.data_center);
  if ((int)worlds.size() * p.pp > kWanPortsPerJob)
    return Status::FailedPrecondition("dc_worlds: " + std::to_string(worlds.size()) + " worlds x " +
                                      std::to_string(p.pp) + " stages need more than the " +
                                      std::to_string(kWanPortsPerJob) + " exchange ports a job has");
  for (int r = 0; r < p.dp; ++r) {
    const std::string& dc = p.ranks[(size_t)r * p.pp].data_center;
    for (int s = 1; s < p.pp; ++s) {
      const RankPlacement& rank = p.ranks[(size_t)r * p.pp + s];
      if (rank.data_center != dc)
        return Status::FailedPrecondition("dc_worlds: replica " + std::to_string(r) + " spans " + dc + " and " +
                                          rank.data_center + "; a world is one data center's replicas");
    }
  }
  return p;
}

void MarkWorlds(const std::string& job_id, int base_port, v1::Placement* placement) {
  std::set<std::string> dcs;
  for (const v1::RankAssignment& r : placement->ranks()) dcs.insert(r.data_center());
  if (dcs.size() < 2) return;  // one data center is one world anyway
  placement->set_dc_worlds(true);
  // Stable for the job (every attempt and world finds the same ports), and
  // spread over 125 slots of 64 ports (world w's stage s takes port
  // + w * pp + s) so jobs sharing a host seldom collide.
  uint32_t h = 2166136261u;
  for (unsigned char c : job_id) h = (h ^ c) * 16777619u;
  placement->set_wan_port(base_port + (int)(h % 125) * 64);
}

void MarkLinkWindows(const Topology& topology, v1::Placement* placement) {
  placement->clear_link_windows();
  if (!placement->dc_worlds()) return;
  std::vector<std::string> dcs;  // world order
  for (const v1::RankAssignment& r : placement->ranks())
    if (std::find(dcs.begin(), dcs.end(), r.data_center()) == dcs.end()) dcs.push_back(r.data_center());
  for (size_t i = 0; i < dcs.size(); ++i) {
    for (size_t j = i + 1; j < dcs.size(); ++j) {
      const InterDcLink* link = topology.FindLink(dcs[i], dcs[j]);
      if (link == nullptr || link->schedule.always_up()) continue;
      v1::LinkWindow* w = placement->add_link_windows();
      w->set_a(dcs[i]);
      w->set_b(dcs[j]);
      w->set_schedule(FormatWindowSpec(link->schedule));
    }
  }
}

Result<Placement> PlaceWithinLaunchers(const Topology& topology, const Occupancy& occupied, const JobRequest& job,
                                       const std::vector<std::string>& data_centers, JobPlacer place) {
  std::map<LauncherKind, std::vector<std::string>> groups;
  for (const DataCenter& dc : topology.data_centers) {
    if (data_centers.empty() ||
        std::find(data_centers.begin(), data_centers.end(), dc.name) != data_centers.end())
      groups[dc.launcher].push_back(dc.name);
  }
  if (groups.empty()) return Status::FailedPrecondition("none of the job's data centers exists");
  // The common case, one launcher for every allowed data center: no copy.
  if (groups.size() == 1 && data_centers.empty()) return place(topology, occupied, job);
  if (groups.size() == 1) return place(RestrictToDataCenters(topology, groups.begin()->second), occupied, job);

  Result<Placement> best = Status::FailedPrecondition("");
  bool later = false;
  std::string reasons, names;
  for (const auto& [kind, dcs] : groups) {
    Result<Placement> p = place(RestrictToDataCenters(topology, dcs), occupied, job);
    std::string list;
    for (const std::string& d : dcs) list += (list.empty() ? "" : ", ") + d;
    names += (names.empty() ? "" : "; ") + std::string(LauncherKindName(kind)) + ": " + list;
    if (p.ok()) {
      if (!best.ok() || p->predicted_step_s < best->predicted_step_s) best = std::move(p);
      continue;
    }
    later |= p.status().code() == Status::Code::kUnavailable;
    reasons += (reasons.empty() ? "" : "; ") + std::string(LauncherKindName(kind)) + " data centers: " +
               p.status().message();
  }
  if (best.ok()) return best;
  if (later) return Status::Unavailable(reasons);
  // Say so when only a mix of launchers would hold the job.
  std::vector<std::string> all;
  for (const auto& [kind, dcs] : groups) all.insert(all.end(), dcs.begin(), dcs.end());
  if (PlaceJob(RestrictToDataCenters(topology, all), Occupancy{}, job).ok()) {
    return Status::FailedPrecondition("the job fits only across data centers with different launchers (" + names +
                                      "): one mpirun world cannot span them; run it as one world per data "
                                      "center (dc_worlds: true, with DiLoCo), give it more GPUs of one launcher "
                                      "or name its data_centers");
  }
  return Status::FailedPrecondition(reasons);
}

}  // namespace meridian::scheduler
