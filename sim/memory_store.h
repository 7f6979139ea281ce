// A StateStore in memory, for simulations that need no durability: the
// core's writes cost a map update instead of an fsync. Jobs are listed in
// submission (job number) order, as the SQLite store lists them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "scheduler/store/state_store.h"

namespace meridian::sim {

class MemoryStateStore : public scheduler::StateStore {
 public:
  Status PutNode(const v1::Node& node) override;
  Status DeleteNode(const std::string& name) override;
  Result<std::vector<v1::Node>> ListNodes() override;
  Status PutJob(const v1::Job& job, const std::vector<v1::JobEvent>& events) override;
  Result<std::vector<v1::Job>> ListJobs() override;
  Result<std::vector<v1::JobEvent>> ListEvents(const std::string& job_id, int64_t after_sequence) override;
  Status FoldEvents(const v1::Job& job, int64_t sequence) override;
  Status DeleteJob(const std::string& job_id) override;
  Result<int64_t> NextJobNumber() override { return ++last_number_; }

 private:
  std::map<std::string, v1::Node> nodes_;
  std::map<std::string, v1::Job> jobs_;  // ids are zero-padded numbers: name order is submission order
  std::map<std::string, std::vector<v1::JobEvent>> events_;
  int64_t last_number_ = 0;
};

}  // namespace meridian::sim
