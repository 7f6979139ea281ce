// Where the daemon keeps everything it must not forget: nodes, jobs,
// placements (inside jobs) and job events. An interface, so a multi-host
// deployment can put the state in an external store; the service layer
// sees only this.
//
// Every method that returns OK has made its write durable: a crash (even
// kill -9) right after loses nothing that was acknowledged.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "meridian/v1/scheduler.pb.h"

namespace meridian::scheduler {

class StateStore {
 public:
  virtual ~StateStore() = default;

  virtual Status PutNode(const v1::Node& node) = 0;
  virtual Status DeleteNode(const std::string& name) = 0;  // OK when absent
  virtual Result<std::vector<v1::Node>> ListNodes() = 0;

  // Inserts or replaces the job and appends the events, atomically.
  virtual Status PutJob(const v1::Job& job, const std::vector<v1::JobEvent>& events) = 0;
  virtual Result<std::vector<v1::Job>> ListJobs() = 0;  // in submission order
  virtual Result<std::vector<v1::JobEvent>> ListEvents(const std::string& job_id, int64_t after_sequence) = 0;
  // Removes the job's events numbered up to `sequence` and stores `job`
  // (which says how many were folded), atomically.
  virtual Status FoldEvents(const v1::Job& job, int64_t sequence) = 0;
  // Removes the job and all its events. OK when absent.
  virtual Status DeleteJob(const std::string& job_id) = 0;

  // A fresh, never reused job number (1, 2, ...), durable.
  virtual Result<int64_t> NextJobNumber() = 0;
};

// SQLite in `dir`/state.db: WAL journal, synchronous FULL, schema version
// checked on open (a newer schema is refused, not guessed at).
Result<std::unique_ptr<StateStore>> OpenSqliteStateStore(const std::string& dir);

}  // namespace meridian::scheduler
