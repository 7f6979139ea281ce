#include "scheduler/service/job_journal.h"

#include <cmath>
#include <vector>

#include "common/log.h"
#include "scheduler/service/scheduler_core.h"

namespace meridian::scheduler {

namespace {

// Moves `job` to `state` at `now` and returns the event that says so,
// numbered after `last_sequence`.
v1::JobEvent NextEvent(double now, v1::Job& job, int64_t last_sequence, v1::JobState state, const std::string& message,
                       const v1::Progress* progress) {
  job.set_state(state);
  if (!message.empty()) job.set_message(message);
  if (Terminal(state)) job.set_finished_unix_s(now);
  if (progress != nullptr) *job.mutable_last_progress() = *progress;
  v1::JobEvent event;
  event.set_sequence(last_sequence + 1);
  event.set_unix_s(now);
  event.set_state(state);
  event.set_message(message);
  if (progress != nullptr) *event.mutable_progress() = *progress;
  return event;
}

}  // namespace

Status JobJournal::Commit(JobRecord& record, v1::Job next, v1::JobState state, const std::string& message) {
  MERIDIAN_RETURN_IF_ERROR(FlushJob(record));  // its events stay in order
  const v1::JobEvent event = NextEvent(now_(), next, record.last_sequence, state, message, nullptr);
  if (Status s = store_->PutJob(next, {event}); !s.ok()) {
    failing_ = true;  // Flush finds out when it works again
    return s;
  }
  record.job = std::move(next);
  record.last_sequence = event.sequence();
  on_event_();
  return Status::OK();
}

void JobJournal::Record(JobRecord& record, v1::JobState state, const std::string& message,
                        const v1::Progress* progress) {
  const v1::JobEvent event = NextEvent(now_(), record.job, record.last_sequence, state, message, progress);
  record.unsaved.push_back(event);
  record.last_sequence = event.sequence();
  dirty_.insert(record.job.id());
  on_event_();
  if (progress == nullptr) (void)FlushJob(record);  // progress waits for the next flush
}

void JobJournal::RecordNode(const v1::Node& node) {
  if (Status s = store_->PutNode(node); !s.ok()) {
    NoteFailure(s);
    unsaved_nodes_[node.name()] = node;
    return;
  }
  unsaved_nodes_.erase(node.name());
}

Status JobJournal::FlushJob(JobRecord& record) {
  if (record.unsaved.empty()) return Status::OK();
  if (Status s = store_->PutJob(record.job, record.unsaved); !s.ok()) {
    NoteFailure(s);
    return s;
  }
  record.unsaved.clear();
  dirty_.erase(record.job.id());
  return Status::OK();
}

void JobJournal::NoteFailure(const Status& s) {
  if (!failing_)
    Logger("store")->error("the state store failed ({}); job and node states are kept in memory and written "
                           "again until it works",
                           s.ToString());
  failing_ = true;
}

bool JobJournal::FlushDue(double now, double interval_s) const {
  return (!dirty_.empty() || !unsaved_nodes_.empty() || failing_) && std::abs(now - last_flush_s_) >= interval_s;
}

bool JobJournal::Flush(JobTable& jobs, double now) {
  last_flush_s_ = now;
  bool failed = false;
  const std::vector<std::string> ids(dirty_.begin(), dirty_.end());
  for (const std::string& id : ids) {
    JobRecord* record = jobs.Find(id);
    if (record == nullptr) {
      dirty_.erase(id);
      continue;
    }
    failed |= !FlushJob(*record).ok();
  }
  for (auto it = unsaved_nodes_.begin(); it != unsaved_nodes_.end();) {
    if (store_->PutNode(it->second).ok()) {
      it = unsaved_nodes_.erase(it);
    } else {
      failed = true;
      ++it;
    }
  }
  if (!failing_ || failed) return false;
  failing_ = false;
  Logger("store")->info("the state store works again; every job and node state is written");
  return true;
}

}  // namespace meridian::scheduler
