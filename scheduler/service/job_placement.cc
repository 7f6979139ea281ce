#include "scheduler/service/job_placement.h"

#include <algorithm>
#include <map>

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

Result<Placement> PlaceWithinLaunchers(const Topology& topology, const Occupancy& occupied, const JobRequest& job,
                                       const std::vector<std::string>& data_centers) {
  std::map<LauncherKind, std::vector<std::string>> groups;
  for (const DataCenter& dc : topology.data_centers) {
    if (data_centers.empty() ||
        std::find(data_centers.begin(), data_centers.end(), dc.name) != data_centers.end())
      groups[dc.launcher].push_back(dc.name);
  }
  if (groups.empty()) return Status::FailedPrecondition("none of the job's data centers exists");
  // The common case, one launcher for every allowed data center: no copy.
  if (groups.size() == 1 && data_centers.empty()) return PlaceJob(topology, occupied, job);
  if (groups.size() == 1) return PlaceJob(RestrictToDataCenters(topology, groups.begin()->second), occupied, job);

  Result<Placement> best = Status::FailedPrecondition("");
  bool later = false;
  std::string reasons, names;
  for (const auto& [kind, dcs] : groups) {
    Result<Placement> p = PlaceJob(RestrictToDataCenters(topology, dcs), occupied, job);
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
                                      "): one mpirun world cannot span them yet; give it more GPUs of one "
                                      "launcher or name its data_centers");
  }
  return Status::FailedPrecondition(reasons);
}

}  // namespace meridian::scheduler
