// What the core knows of each job, in one place: the job as the store has
// it (or is about to), and the daemon's own notes on it. JobTable keeps
// them in submission order, finds one by id without a search, and walks
// the unfinished ones without the history.
#pragma once

#include <algorithm>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "meridian/v1/scheduler.pb.h"

namespace meridian::scheduler {

// Succeeded, failed or cancelled: a job in one of these never moves again.
inline bool Terminal(v1::JobState s) { return s == v1::SUCCEEDED || s == v1::FAILED || s == v1::CANCELLED; }

struct JobRecord {
  v1::Job job;
  int64_t last_sequence = 0;          // its newest event's number
  std::vector<v1::JobEvent> unsaved;  // recorded, not yet in the store (JobJournal)
  bool cancel_requested = false;      // its processes are being stopped for a cancel
  std::string stopped_because;        // why the daemon stopped it (a node failed or left, a preemption)
  bool preempted = false;             // stopped for a job of higher priority: requeued when it exits
  // The capacity version at which it last failed to place: it is tried
  // again only once capacity may have grown (NodeRegistry).
  uint64_t tried_at_capacity = 0;
  // Its predicted step time on the empty cluster when it was submitted
  // (0: not known, as after a daemon restart): Policy.max_slowdown's
  // yardstick.
  double best_step_s = 0;
  // Its wait for its tenant's quota has been recorded (an event and its
  // message), once per wait.
  bool quota_wait_noted = false;
};

class JobTable {
 public:
  using iterator = std::list<JobRecord>::iterator;

  // Appends; the id must be new. The reference stays valid until Remove.
  JobRecord& Add(v1::Job job) {
    records_.emplace_back();
    records_.back().job = std::move(job);
    index_[records_.back().job.id()] = std::prev(records_.end());
    if (!Terminal(records_.back().job.state())) unfinished_.push_back(&records_.back());
    return records_.back();
  }
  JobRecord* Find(const std::string& id) {
    auto it = index_.find(id);
    return it == index_.end() ? nullptr : &*it->second;
  }
  void Remove(const std::string& id) {
    auto it = index_.find(id);
    if (it == index_.end()) return;
    std::erase(unfinished_, &*it->second);
    records_.erase(it->second);
    index_.erase(it);
  }
  // The jobs not finished yet, in submission order: what a scheduling
  // pass looks at, which a year of history must not slow down. Those
  // that finished since the last call are dropped from it here.
  const std::vector<JobRecord*>& Unfinished() {
    std::erase_if(unfinished_, [](const JobRecord* r) { return Terminal(r->job.state()); });
    return unfinished_;
  }
  iterator begin() { return records_.begin(); }
  iterator end() { return records_.end(); }
  size_t size() const { return records_.size(); }

 private:
  std::list<JobRecord> records_;  // submission order
  std::unordered_map<std::string, iterator> index_;
  std::vector<JobRecord*> unfinished_;  // submission order; may still hold some finished since

};

}  // namespace meridian::scheduler
