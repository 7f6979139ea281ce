// The scheduler's logic, free of gRPC: nodes and liveness, the job queue
// (FIFO with backfill), placement, launching, progress and events. The
// gRPC service (scheduler_service.h) is a thin adapter over it, and every
// method here returns a Status whose code maps one-to-one onto a gRPC code.
// Thread-safe. Its parts: a JobRecord per job (job_record.h), the
// NodeRegistry (nodes, GPUs held, the versions placement checks), the
// JobJournal (how state reaches the store). Placement searches run on a
// snapshot outside the lock and commit only if nothing they read moved,
// so heartbeats, progress and watchers never wait on a search.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/timed_mutex.h"
#include "meridian/v1/scheduler.pb.h"
#include "scheduler/core/topology.h"
#include "scheduler/placement/placement.h"
#include "scheduler/placement/taken_gpus.h"
#include "scheduler/service/free_gpu_counts.h"
#include "scheduler/service/job_journal.h"
#include "scheduler/service/job_record.h"
#include "scheduler/service/launcher.h"
#include "scheduler/service/node_registry.h"
#include "scheduler/service/quotas.h"
#include "scheduler/store/state_store.h"

namespace meridian::scheduler {

// The wall clock, in Unix seconds.
double NowUnixSeconds();

struct SchedulerCoreOptions {
  // The clock the core reads for every time it records or compares (node
  // liveness and probation, submit and event times, progress without a
  // time). A simulation runs the core in virtual time through it; empty
  // means NowUnixSeconds.
  std::function<double()> now = NowUnixSeconds;
  double node_timeout_s = 30.0;  // a registered node silent this long is dead
  // A node that was declared dead and comes back gets no new job for this
  // long (a flapping node would otherwise fail job after job).
  double node_probation_s = 30.0;
  // Refuse at submit a job whose data globs match no file here (the daemon
  // that launches real jobs; not for dry runs and unit tests).
  bool check_data_paths = false;
  // Progress reports are durable in batches: written at most this often
  // (a daemon killed with -9 loses at most this much progress history).
  // Also how often writes that failed are tried again.
  double flush_interval_s = 1.0;
  bool insecure = false;  // started with --insecure (ListPools says so)
  // Where jobs may read data (--data-root): data paths, globs and
  // --init-from must resolve under one. Empty: anywhere.
  std::vector<std::string> data_roots;
  // Limits, each refused naming its flag.
  int max_ranks_per_job = 1 << 16;     // --max-ranks-per-job (INVALID_ARGUMENT)
  int max_waiting_jobs = 10000;        // --max-queued-jobs: QUEUED and RESTARTING (RESOURCE_EXHAUSTED)
  int max_waiting_per_owner = 1000;    // --max-queued-per-token (RESOURCE_EXHAUSTED)
  // History, bounded: a job keeps its newest events up to this many (the
  // older ones are folded into Job.events_folded); finished jobs beyond the
  // newest `retain_jobs`, or finished more than `retain_days` ago, are
  // removed from the store and their files (0: keep them all).
  int64_t max_events_per_job = 10000;  // --max-events-per-job
  int retain_jobs = 0;                 // --retain-jobs
  double retain_days = 0;              // --retain-days
  // Told of every placement search: its duration and whether it found room
  // (the daemon's metrics). Called outside the core's lock, from the thread
  // that searched: must be thread-safe.
  std::function<void(double seconds, bool placed)> on_placement;
  // Told how long each holder kept the core's lock (every RPC and
  // heartbeat waits on it). Called just after the release, from the
  // thread that held it: must be thread-safe.
  std::function<void(double seconds)> on_lock_held;
  // Tenants' GPU quotas (--quota-file; quotas.h). None: no limits.
  Quotas quotas;
  // How waiting jobs are placed. The daemon runs the defaults; meridian-sim
  // turns parts off to compare policies on one trace (docs/simulation.md).
  struct Policy {
    // A waiting job that does not fit leaves the jobs behind it free to
    // start (backfill, without reservations); false: strict order, the
    // first job that does not fit holds back all after it.
    bool backfill = true;
    // PlaceJob's topology-aware search; false: first fit in node-name
    // order (FirstFitPlacement).
    bool topology_aware = true;
    // A job of higher priority stops running ones of lower priority.
    bool preemption = true;
    // A waiting job is not started on a placement whose predicted step
    // time is more than this many times its best on the empty cluster (a
    // job spread over a busy cluster's WAN can run many times slower than
    // it would after a short wait); it waits for a better one. 0: off.
    double max_slowdown = 0;
  } policy;
};

class SchedulerCore {
 public:
  // `cluster` seeds the data centers, links and file-defined nodes;
  // `store` and `launcher` must outlive the core.
  SchedulerCore(Topology cluster, StateStore* store, Launcher* launcher, SchedulerCoreOptions options);

  // Loads nodes and jobs from the store. A job that was placed or running
  // when the daemon stopped is adopted if its processes still run, ends as
  // its launcher did if that ended meanwhile, and otherwise is placed again
  // and resumes from its newest checkpoint. Never two attempts at once.
  Status Recover();

  Result<v1::Node> RegisterNode(const v1::Node& node);
  // NOT_FOUND for a node no agent has registered (the agent registers again).
  Status Heartbeat(const std::string& node);
  // An agent leaves: jobs on its node are stopped and restarted; a node it
  // brought is forgotten, a cluster-file node returns to its definition.
  Status DeregisterNode(const std::string& node);
  // Marks silent nodes dead and restarts the jobs running on them; ends
  // the probation of nodes that came back; writes batched progress and
  // what the store refused before; folds old events and removes finished
  // jobs past their retention. Called periodically.
  void CheckLiveness(double now_unix_s);
  v1::ListPoolsResponse ListPools();

  // `owner`: the submitting token's name, kept in the job.
  // `owner_data_roots`: the token's own data roots (token file
  // `data_roots:`), which narrow the daemon's; empty: the daemon's alone.
  Result<v1::Job> SubmitJob(const v1::JobSpec& spec, const std::string& owner = "",
                            const std::vector<std::string>& owner_data_roots = {});
  Result<v1::Job> GetJob(const std::string& id);
  std::vector<v1::Job> ListJobs(const std::vector<v1::JobState>& states);
  // How many jobs are in each state, the history included, without
  // copying any (the daemon's metrics, at every scrape).
  std::map<v1::JobState, int> CountJobsByState();
  Result<v1::Job> CancelJob(const std::string& id);
  Result<v1::PlanResponse> Plan(const v1::JobSpec& spec);
  Result<v1::GetAssignmentResponse> GetAssignment(const std::string& job_id, int rank);
  Result<v1::JobState> ReportProgress(const std::string& job_id, const v1::Progress& progress);

  // Events of a job after `after_sequence`; blocks up to timeout_s for new
  // ones when there are none. *done is set once the job has ended and every
  // event was returned.
  Result<std::vector<v1::JobEvent>> WaitForEvents(const std::string& job_id, int64_t after_sequence,
                                                  double timeout_s, bool* done);

  // Launcher callback.
  void OnJobExit(const std::string& job_id, int exit_code);

  // New tenants' quotas (the quota file read again on SIGHUP): waiting jobs
  // are tried again under them; running jobs are left as they are, even
  // where their tenant is now past its limit.
  void SetQuotas(Quotas quotas);

  // Validation shared with meridianctl: INVALID_ARGUMENT naming the field.
  static Status ValidateSpec(const v1::JobSpec& spec);
  static Result<JobRequest> ToJobRequest(const v1::JobSpec& spec);
  // What a placement search reads of a job: its request (every field
  // compared, so a field ToJobRequest comes to read is in it at once), the
  // data centers it may use and whether it runs as worlds. Two jobs of one
  // shape get the same placement on the same cluster and occupancy.
  struct SearchShape {
    JobRequest request;
    std::vector<std::string> data_centers;
    bool dc_worlds = false;
    auto operator<=>(const SearchShape&) const = default;
  };
  static SearchShape ShapeOf(const v1::JobSpec& spec, const JobRequest& request);

 private:
  // A placement pass: placement searches for every waiting job on one
  // snapshot, outside the lock, then the placements committed under it
  // if the snapshot still holds (else another pass). One pass at a time.
  // Called without the lock, after a change asked for one (schedule_wanted_).
  void Schedule();
  struct Snapshot;
  struct Found;
  // `added`: the GPUs the pass has taken so far, none of them in the
  // snapshot's occupancy.
  Found PlaceWaitingJob(const Snapshot& snapshot, const Occupancy& added, const FreeGpuCounts& free,
                        const JobRecord& waiting) const;
  void CommitPlacementLocked(JobRecord& record, Found& found);
  void TakeWaitingLocked(Snapshot& snapshot);
  // A queued job's placement is slower than Policy.max_slowdown allows.
  bool TooSlow(const JobRecord& waiting, const Placement& placement) const;
  // The search itself, timed for the metrics. No lock needed.
  // `index`, when it indexes `topology`, spares the search indexing it;
  // GPUs in `also` are taken too; `held`, when given, marks `occupied` on
  // `index` and spares the search walking it.
  Result<Placement> Search(const Topology& topology, const Occupancy& occupied, const v1::JobSpec& spec,
                           const JobRequest& request, const TopologyIndex* index = nullptr,
                           const Occupancy* also = nullptr, const TakenGpus* held = nullptr) const;
  // A restarting job whose layout no longer fits the healthy cluster:
  // placed at the largest smaller data-parallel degree that fits, with
  // more micro-batches per step to keep its global batch (*spec is changed
  // to what runs); *note says so for the job's events. `added` as for
  // PlaceWaitingJob.
  Result<Placement> Shrink(const Snapshot& snapshot, const Occupancy& added, v1::JobSpec* spec,
                           const JobRequest& request, std::string* note) const;

  // Preemption (preemption.cc): `waiting` found no room, but stopping
  // running jobs of lower priority would make it fit. Those it needs are
  // stopped (lowest priority first, the newest of equal ones first) and
  // go back to the queue when they exit, to resume from their newest
  // checkpoint; the waiting job takes their GPUs in the pass after. False
  // when no such set exists. One preemption at a time: none starts while
  // the jobs an earlier one stopped are still exiting.
  // With quotas, a job inside its tenant's guarantee may also stop jobs of
  // any priority of tenants that are borrowing (never taking one below
  // its guarantee), and those go first; a job of another tenant that is
  // not borrowing is never stopped.
  // `stoppable`: the running jobs not already stopping (StoppableLocked),
  // walked once for every waiting job a pass tries.
  bool PreemptForLocked(const TopologyIndex& healthy, const JobRecord& waiting,
                        const std::vector<JobRecord*>& stoppable);
  // Placed or running jobs neither cancelled nor preempted already.
  std::vector<JobRecord*> StoppableLocked();
  // GPUs held by each tenant's placed and running jobs.
  std::map<std::string, long long> TenantGpusLocked();

  // A job the store says was placed or running, after a daemon restart.
  void ReattachLocked(JobRecord& record);
  // Its launcher exited with `exit_code`: done, restarted or failed.
  // `context` is added to the event's message.
  void EndAttemptLocked(JobRecord& record, int exit_code, const std::string& context);
  Status CheckWaitingLimitsLocked(const std::string& owner);
  Status LaunchLocked(JobRecord& record);
  void StopJobsOnNodeLocked(const std::string& node, const std::string& why, double now);
  // A job of one world per data center lost `node`: that world alone is
  // placed again (world_replacement.h) and relaunched while the others
  // train on. False when it cannot be (the job then stops and restarts as
  // a whole).
  bool ReplaceWorldLocked(JobRecord& record, const std::string& node, const std::string& why, double now);
  void FlushLocked(double now);
  // The bounds on history (options max_events_per_job, retain_*), applied
  // from CheckLiveness.
  void FoldEventsLocked(JobRecord& record);
  // Returns the jobs it removed from memory and the store; their files are
  // the caller's to remove, outside the lock.
  std::vector<v1::Job> ApplyRetentionLocked(double now);
  void ForgetJobLocked(const std::string& id);
  Status CheckDataCenters(const v1::JobSpec& spec) const;

  std::mutex scheduling_mu_;  // one pass at a time; taken before mu_, never while holding it
  TimedMutex mu_;
  std::condition_variable_any events_cv_;
  StateStore* store_;
  Launcher* launcher_;
  SchedulerCoreOptions options_;
  NodeRegistry nodes_;
  JobTable jobs_;
  JobJournal journal_;
  bool schedule_wanted_ = false;  // something changed that may let a waiting job start
  int preempting_ = 0;            // jobs stopped for a preemption that have not exited yet
  // The GPUs a preemption found for the job that preempted, held for it
  // until it is placed or has had a pass with every victim gone: the
  // victims exit one by one, and a requeued one would otherwise take its
  // GPUs back and the preemption repeat without end.
  std::string reserved_for_;
  Occupancy reserved_;
  // SubmitJob's search on the empty cluster, by SearchShape, for the topology
  // it was made on: a stream of jobs of few shapes searches each shape once
  // per change of the cluster, not once per job.
  struct EmptyFit {
    Status status;
    double predicted_step_s = 0;
  };
  std::shared_ptr<const Topology> empty_fits_topology_;
  // The healthy topology of the newest pass, indexed once for every
  // search on it (passes run one at a time: scheduling_mu_ guards it).
  std::shared_ptr<const TopologyIndex> healthy_index_;
  // The GPUs held as the newest pass saw them, marked on healthy_index_
  // and moved by the registry's GpuChanges up to taken_changes_end_.
  std::optional<TakenGpus> taken_;
  uint64_t taken_changes_end_ = 0;
  std::map<SearchShape, EmptyFit> empty_fits_;
};

// Maps a Status code to its gRPC status code number (grpc::StatusCode).
int GrpcCodeFor(Status::Code code);

}  // namespace meridian::scheduler
