#include "scheduler/service/node_registry.h"

#include <algorithm>
#include <limits>

#include "common/log.h"
#include "scheduler/service/node_checks.h"
#include "scheduler/service/proto_convert.h"
#include "scheduler/service/request_checks.h"

namespace meridian::scheduler {

NodeRegistry::NodeRegistry(Topology cluster, double probation_s)
    : topology_(std::move(cluster)), probation_s_(probation_s) {
  file_nodes_ = topology_.nodes;
  IndexNodes();
}

void NodeRegistry::IndexNodes() {
  by_name_.clear();
  for (size_t i = 0; i < topology_.nodes.size(); ++i) by_name_.emplace(topology_.nodes[i].name, i);  // the first of a name
}

Node* NodeRegistry::FindMutable(const std::string& name) { return const_cast<Node*>(Find(name)); }

const Node* NodeRegistry::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &topology_.nodes[it->second];
}

void NodeRegistry::Restore(const v1::Node& stored, double now) {
  Node n = NodeFromProto(stored);
  // Only agents' registrations are kept; the cluster file defines the rest.
  if (!n.from_agent || topology_.FindDataCenter(n.data_center) == nullptr) return;
  if (n.alive) n.last_heartbeat_s = now;
  if (const Node* known = Find(n.name)) n.wait_for_agent = known->wait_for_agent;
  Put(n);
}

Result<Node> NodeRegistry::Registration(const v1::Node& request, double now) const {
  MERIDIAN_RETURN_IF_ERROR(CheckNodeClaim(request, topology_, file_nodes_));
  const Node* known = Find(request.name());
  if (known != nullptr && known->data_center != request.data_center()) {
    return Invalid("node.data_center", request.data_center(),
                   "node " + request.name() + " belongs to " + known->data_center);
  }
  Node n = NodeFromProto(request);
  for (size_t i = 0; i < n.gpus.size(); ++i) n.gpus[i].index = (int)i;
  n.alive = true;
  n.from_agent = true;
  n.last_heartbeat_s = now;
  if (known != nullptr) {
    // A cluster-file node keeps what the agent cannot know.
    n.wait_for_agent = known->wait_for_agent;
    n.failed = known->failed;
    n.probation_until_s = known->probation_until_s;
    if (request.intra_node_gbps() <= 0) n.intra_node_gbps = known->intra_node_gbps;
    n.intra_node_latency_us = known->intra_node_latency_us;
  }
  NodeBack(n, now);
  return n;
}

void NodeRegistry::Put(const Node& node) {
  if (Node* known = FindMutable(node.name)) {
    *known = node;
  } else {
    topology_.nodes.push_back(node);
    by_name_.emplace(node.name, topology_.nodes.size() - 1);
  }
  TopologyChanged();
  ++capacity_version_;
  ++version_;
}

Status NodeRegistry::CheckHasAgent(const std::string& name) const {
  const Node* n = Find(name);
  if (n == nullptr || !n->from_agent) return Status::NotFound("node '" + name + "' has no agent registered");
  return Status::OK();
}

void NodeRegistry::RemoveAgent(const std::string& name) {
  auto file = std::find_if(file_nodes_.begin(), file_nodes_.end(), [&](const Node& x) { return x.name == name; });
  if (file != file_nodes_.end()) {
    *FindMutable(name) = *file;  // alive unless it waits for an agent
  } else {
    topology_.nodes.erase(std::remove_if(topology_.nodes.begin(), topology_.nodes.end(),
                                         [&](const Node& x) { return x.name == name; }),
                          topology_.nodes.end());
    IndexNodes();
  }
  TopologyChanged();
  ++capacity_version_;
  ++version_;
}

Result<const Node*> NodeRegistry::Heartbeat(const std::string& name, double now, bool* revived) {
  *revived = false;
  Node* n = FindMutable(name);
  // A file node whose agent has not registered yet is not known either.
  if (n == nullptr || !n->from_agent) return Status::NotFound("node '" + name + "' is not registered");
  // Heartbeats are frequent and only refresh liveness: nothing a placement
  // reads changes unless the node comes back.
  n->last_heartbeat_s = now;
  if (!n->alive) {
    n->alive = true;
    NodeBack(*n, now);
    *revived = true;
    TopologyChanged();
    ++capacity_version_;
    ++version_;
  }
  return n;
}

void NodeRegistry::NodeBack(Node& n, double now) const {
  if (!n.failed) return;
  n.failed = false;
  n.probation_until_s = now + probation_s_;
  Logger("core")->info("node {} is back after it failed: no new job on it for {:.0f} s", n.name, probation_s_);
}

std::vector<Node> NodeRegistry::MarkSilentDead(double now, double timeout_s) {
  std::vector<Node> dead;
  for (Node& n : topology_.nodes) {
    if (!n.alive || n.last_heartbeat_s <= 0 || now - n.last_heartbeat_s <= timeout_s) continue;
    Logger("core")->warn("node {} missed heartbeats for {:.0f} s: marked dead", n.name, now - n.last_heartbeat_s);
    n.alive = false;
    dead.push_back(n);  // stored as dead, not failed: a daemon that restarts gives it a new timeout
    n.failed = true;
    TopologyChanged();
    ++version_;
  }
  return dead;
}

bool NodeRegistry::EndProbations(double now) {
  bool ended = false;
  for (Node& n : topology_.nodes) {
    if (n.probation_until_s <= 0 || now < n.probation_until_s) continue;
    n.probation_until_s = 0;
    ended = true;
    Logger("core")->info("node {} stayed alive through its probation: it takes jobs again", n.name);
  }
  if (ended) {
    TopologyChanged();
    ++capacity_version_;
    ++version_;
  }
  return ended;
}

void NodeRegistry::TopologyChanged() {
  shared_.reset();
  healthy_.reset();
}

std::shared_ptr<const Topology> NodeRegistry::Shared() const {
  if (!shared_) shared_ = std::make_shared<const Topology>(topology_);
  return shared_;
}

std::shared_ptr<const Topology> NodeRegistry::HealthyNow(double now) const {
  if (healthy_ && healthy_from_ <= now && now < healthy_until_) return healthy_;
  auto healthy = std::make_shared<Topology>(topology_);
  double until = std::numeric_limits<double>::infinity();
  for (Node& n : healthy->nodes) {
    const bool on_probation = n.probation_until_s > now;
    if (on_probation) until = std::min(until, n.probation_until_s);
    n.alive = n.alive && !on_probation;
  }
  healthy_ = std::move(healthy);
  healthy_from_ = now;
  healthy_until_ = until;
  return healthy_;
}

Occupancy& NodeRegistry::MutableOccupancy() {
  // Only a holder of a copy made under the core's lock can share it, and
  // none takes one now: a count of 1 means no pass is reading it.
  if (occupancy_.use_count() > 1) occupancy_ = std::make_shared<Occupancy>(*occupancy_);
  return *occupancy_;
}

void NodeRegistry::Occupy(const std::string& job_id, const v1::Placement& placement) {
  Occupancy& occupancy = MutableOccupancy();
  auto& held = held_by_job_[job_id];
  for (const auto& r : placement.ranks()) {
    occupancy[r.node()][r.gpu()] = job_id;
    held.emplace_back(r.node(), r.gpu());
    GpuChanged(r.node(), r.gpu(), true);
  }
  ++version_;
}

void NodeRegistry::Release(const std::string& job_id) {
  Occupancy& occupancy = MutableOccupancy();
  if (auto it = held_by_job_.find(job_id); it != held_by_job_.end()) {
    for (const auto& [node, gpu] : it->second) {
      auto n = occupancy.find(node);
      if (n == occupancy.end()) continue;
      auto g = n->second.find(gpu);
      if (g != n->second.end() && g->second == job_id) {
        n->second.erase(g);
        GpuChanged(node, gpu, false);
      }
      if (n->second.empty()) occupancy.erase(n);
    }
    held_by_job_.erase(it);
  }
  ++capacity_version_;
  ++version_;
}

void NodeRegistry::GpuChanged(const std::string& node, int gpu, bool taken) {
  if (changes_.size() >= kMaxGpuChanges) {
    changes_first_ += changes_.size();
    changes_.clear();
  }
  changes_.push_back(GpuChange{node, gpu, taken});
}

bool NodeRegistry::GpuChangesSince(uint64_t from, std::vector<GpuChange>* out) const {
  if (from < changes_first_ || from > gpu_changes_end()) return false;
  out->assign(changes_.begin() + (from - changes_first_), changes_.end());
  return true;
}

void NodeRegistry::ForgetGpuChanges(uint64_t upto) {
  if (upto <= changes_first_) return;
  const uint64_t n = std::min<uint64_t>(upto - changes_first_, changes_.size());
  changes_.erase(changes_.begin(), changes_.begin() + n);
  changes_first_ += n;
}

}  // namespace meridian::scheduler
