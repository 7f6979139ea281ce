// The cluster as the core sees it: data centers and links, every node
// (cluster file and agents) with its liveness, which GPUs each job holds,
// and two counters: `version` moves with anything a placement depends on
// (a placement searched on a snapshot is committed only if it still
// holds), `capacity_version` only when capacity may have grown (a queued
// job that did not fit is tried again only then). It decides what a node
// becomes; the core writes that through its journal.
// Not thread-safe: the core calls it under its lock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "meridian/v1/scheduler.pb.h"
#include "scheduler/core/topology.h"
#include "scheduler/placement/placement.h"

namespace meridian::scheduler {

class NodeRegistry {
 public:
  // `cluster` seeds the data centers, links and file-defined nodes.
  // `probation_s`: how long a node that failed and came back gets no job.
  NodeRegistry(Topology cluster, double probation_s);

  // The live topology: read and changed under the core's lock.
  const Topology& topology() const { return topology_; }
  // The topology as a placement search reads it, immutable and shared: a
  // copy made only after a change a search can see, so a scheduling pass
  // over 25,000 nodes takes a pointer rather than copying every node. A
  // heartbeat that only refreshes liveness is no such change: its copy's
  // heartbeat times are stale, which no search reads.
  std::shared_ptr<const Topology> Shared() const;
  const Occupancy& occupancy() const { return *occupancy_; }
  // Which GPUs jobs hold, shared and immutable: a pass searches on it
  // outside the lock without copying 200,000 entries under it. Changed
  // in place while no one holds it, else copied first.
  std::shared_ptr<const Occupancy> SharedOccupancy() const { return occupancy_; }
  uint64_t version() const { return version_; }
  uint64_t capacity_version() const { return capacity_version_; }
  const Node* Find(const std::string& name) const;

  // An agent's registration from an earlier daemon (Recover): kept when its
  // data center still exists, with a full timeout to heartbeat again.
  void Restore(const v1::Node& stored, double now);
  // What the node becomes when `request` registers it (checked against the
  // cluster file and the agent rules), without changing anything yet.
  Result<Node> Registration(const v1::Node& request, double now) const;
  void Put(const Node& node);  // inserts or replaces, by name
  // NOT_FOUND when no agent registered `name`.
  Status CheckHasAgent(const std::string& name) const;
  // The agent left: a cluster-file node returns to its definition, any
  // other is forgotten.
  void RemoveAgent(const std::string& name);
  // A beat from `name`'s agent. NOT_FOUND when it is not registered.
  // *revived: it was dead and is alive again (the store must learn of it).
  Result<const Node*> Heartbeat(const std::string& name, double now, bool* revived);
  // Nodes silent for longer than `timeout_s`, now marked dead.
  std::vector<Node> MarkSilentDead(double now, double timeout_s);
  // Ends the probations that are over; true when one did.
  bool EndProbations(double now);
  // Nodes that take jobs now: those on probation count as dead. Shared as
  // Shared() is, until the next change or the next probation's end.
  std::shared_ptr<const Topology> HealthyNow(double now) const;

  void Occupy(const std::string& job_id, const v1::Placement& placement);
  void Release(const std::string& job_id);

  // Each GPU the occupancy gains or loses, numbered from 0: what a pass's
  // marks of the held GPUs (TakenGpus) catch up with instead of walking
  // every held GPU again.
  struct GpuChange {
    std::string node;
    int gpu = 0;  // Gpu::index
    bool taken = false;
  };
  uint64_t gpu_changes_end() const { return changes_first_ + changes_.size(); }
  // The changes numbered [from, gpu_changes_end()) into *out, oldest
  // first; false when some are no longer kept (mark anew from occupancy()).
  bool GpuChangesSince(uint64_t from, std::vector<GpuChange>* out) const;
  // The changes before `upto` will not be asked for again.
  void ForgetGpuChanges(uint64_t upto);
  // Capacity may have grown for another reason (the store works again).
  void CapacityMayHaveGrown() { ++capacity_version_; ++version_; }

 private:
  Node* FindMutable(const std::string& name);
  void IndexNodes();  // by_name_ anew, after nodes moved
  // A node that failed and is back: on probation from `now`.
  void NodeBack(Node& node, double now) const;
  // Something a search reads changed: the shared copies are out of date.
  void TopologyChanged();
  // The occupancy to change: copied first while a pass still holds it.
  Occupancy& MutableOccupancy();

  Topology topology_;
  // Where each node is in topology_.nodes: a heartbeat finds its node
  // without comparing names with 25,000 others.
  std::unordered_map<std::string, size_t> by_name_;
  std::vector<Node> file_nodes_;  // the cluster file's nodes, as the file defines them
  double probation_s_;
  std::shared_ptr<Occupancy> occupancy_ = std::make_shared<Occupancy>();
  // The GPUs each job holds (node, GPU index): a job's release touches
  // only its own, not every held GPU of the cluster.
  std::unordered_map<std::string, std::vector<std::pair<std::string, int>>> held_by_job_;
  // GpuChanges not yet forgotten, numbered from changes_first_. Bounded:
  // past kMaxGpuChanges unasked for, they are dropped (the asker marks anew).
  static constexpr size_t kMaxGpuChanges = 1 << 18;
  std::vector<GpuChange> changes_;
  uint64_t changes_first_ = 0;
  void GpuChanged(const std::string& node, int gpu, bool taken);
  uint64_t version_ = 1, capacity_version_ = 1;
  // Made on demand (under the core's lock, hence mutable).
  mutable std::shared_ptr<const Topology> shared_, healthy_;
  mutable double healthy_from_ = 0, healthy_until_ = 0;  // healthy_ holds for now in [from, until)
};

}  // namespace meridian::scheduler
