// How the core's state reaches the store. The store is the memory of the
// next daemon, and a job's processes are facts it must not contradict:
// - Commit, for what a client asks (submit, cancel a waiting job, register
//   or remove a node) and for a placement before its launch: durable
//   first; on a store error nothing changes and the error is returned.
// - Record, for what has happened (a launch, an exit, progress, a node
//   that died or came back): memory moves at once and the store follows,
//   now or, for progress and while the store fails, at the next flush. A
//   failed write never leaves a job RUNNING without processes or FAILED
//   while they run, and is never dropped.
// Not thread-safe: the core calls it under its lock.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/status.h"
#include "scheduler/service/job_record.h"
#include "scheduler/store/state_store.h"

namespace meridian::scheduler {

class JobJournal {
 public:
  // `on_event` is told of every new event (the core wakes its watchers);
  // `now` is the clock events and finish times are stamped with (the core's).
  JobJournal(StateStore* store, std::function<void()> on_event, std::function<double()> now)
      : store_(store), on_event_(std::move(on_event)), now_(std::move(now)) {}

  // `record.job` becomes `next` in `state` with an event saying `message`,
  // once the store has it.
  Status Commit(JobRecord& record, v1::Job next, v1::JobState state, const std::string& message);
  // `record.job` moves to `state` now; progress waits for the next flush,
  // everything else is written at once (and again at flushes while the
  // store fails).
  void Record(JobRecord& record, v1::JobState state, const std::string& message, const v1::Progress* progress);

  Status CommitNode(const v1::Node& node) { return store_->PutNode(node); }
  Status CommitNodeRemoval(const std::string& name) { return store_->DeleteNode(name); }
  void RecordNode(const v1::Node& node);

  // Writes what is waiting. Returns true when the store works again after
  // failing (jobs that could not be placed meanwhile deserve a new try).
  bool Flush(JobTable& jobs, double now);
  // Whether a flush is due: something waits and `interval_s` has passed.
  bool FlushDue(double now, double interval_s) const;
  // The record's unsaved events, written now (before a commit, so events
  // stay in order).
  Status FlushJob(JobRecord& record);
  // The record leaves memory: nothing of it is written any more.
  void Forget(const std::string& id) { dirty_.erase(id); }

 private:
  void NoteFailure(const Status& s);

  StateStore* store_;
  std::function<void()> on_event_;
  std::function<double()> now_;
  std::set<std::string> dirty_;                   // jobs with unsaved events
  std::map<std::string, v1::Node> unsaved_nodes_;  // by name, the newest
  bool failing_ = false;
  double last_flush_s_ = 0;
};

}  // namespace meridian::scheduler
