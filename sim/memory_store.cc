#include "sim/memory_store.h"

#include <algorithm>

namespace meridian::sim {

Status MemoryStateStore::PutNode(const v1::Node& node) {
  nodes_[node.name()] = node;
  return Status::OK();
}

Status MemoryStateStore::DeleteNode(const std::string& name) {
  nodes_.erase(name);
  return Status::OK();
}

Result<std::vector<v1::Node>> MemoryStateStore::ListNodes() {
  std::vector<v1::Node> out;
  for (const auto& [name, node] : nodes_) out.push_back(node);
  return out;
}

Status MemoryStateStore::PutJob(const v1::Job& job, const std::vector<v1::JobEvent>& events) {
  jobs_[job.id()] = job;
  std::vector<v1::JobEvent>& kept = events_[job.id()];
  kept.insert(kept.end(), events.begin(), events.end());
  return Status::OK();
}

Result<std::vector<v1::Job>> MemoryStateStore::ListJobs() {
  std::vector<v1::Job> out;
  for (const auto& [id, job] : jobs_) out.push_back(job);
  return out;
}

Result<std::vector<v1::JobEvent>> MemoryStateStore::ListEvents(const std::string& job_id, int64_t after) {
  std::vector<v1::JobEvent> out;
  auto it = events_.find(job_id);
  if (it == events_.end()) return out;
  for (const v1::JobEvent& e : it->second)
    if (e.sequence() > after) out.push_back(e);
  return out;
}

Status MemoryStateStore::FoldEvents(const v1::Job& job, int64_t sequence) {
  jobs_[job.id()] = job;
  std::vector<v1::JobEvent>& kept = events_[job.id()];
  kept.erase(std::remove_if(kept.begin(), kept.end(), [&](const v1::JobEvent& e) { return e.sequence() <= sequence; }),
             kept.end());
  return Status::OK();
}

Status MemoryStateStore::DeleteJob(const std::string& job_id) {
  jobs_.erase(job_id);
  events_.erase(job_id);
  return Status::OK();
}

}  // namespace meridian::sim
