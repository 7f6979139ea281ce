#include "scheduler/observe/daemon_metrics.h"

#include <map>
#include <vector>

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

namespace meridian::scheduler {

namespace {

// From half a millisecond (a heartbeat) to ten seconds (a slow store).
const prometheus::Histogram::BucketBoundaries& RpcBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                  0.05,   0.1,   0.25,   0.5,   1,    2.5, 10};
  return buckets;
}

}  // namespace

DaemonMetrics::DaemonMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  rpcs_ = &prometheus::BuildCounter()
               .Name("meridian_rpc_requests_total")
               .Help("RPCs the daemon answered, by method and gRPC status code")
               .Register(*registry_);
  rpc_seconds_ = &prometheus::BuildHistogram()
                      .Name("meridian_rpc_duration_seconds")
                      .Help("Time from a request's arrival to its status, by method")
                      .Register(*registry_);
  placement_seconds_ = &prometheus::BuildHistogram()
                            .Name("meridian_placement_duration_seconds")
                            .Help("Time to search a placement (submit, plan, and each try of a waiting job), by "
                                  "result: placed, or no_fit")
                            .Register(*registry_);
  // From a microsecond (a heartbeat's lookup) to a second.
  lock_hold_seconds_ = &prometheus::BuildHistogram()
                            .Name("meridian_scheduler_lock_hold_seconds")
                            .Help("How long each holder kept the scheduler core's lock, which every RPC and "
                                  "heartbeat waits on")
                            .Register(*registry_)
                            .Add({}, prometheus::Histogram::BucketBoundaries{1e-6, 1e-5, 1e-4, 5e-4, 1e-3, 5e-3,
                                                                               0.01, 0.05, 0.1, 1});
}

void DaemonMetrics::RecordLockHold(double seconds) { lock_hold_seconds_->Observe(seconds); }

void DaemonMetrics::RecordPlacement(double seconds, bool placed) {
  // From 10 us (a one-GPU job) to seconds (a large job over many layouts).
  static const prometheus::Histogram::BucketBoundaries buckets = {1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01,
                                                                  0.05, 0.1,  0.5,  1,    5};
  placement_seconds_->Add({{"result", placed ? "placed" : "no_fit"}}, buckets).Observe(seconds);
}

void DaemonMetrics::RecordRpc(const std::string& method, const std::string& code, double seconds) {
  // Family::Add is thread-safe and returns the existing series for known labels.
  rpcs_->Add({{"method", method}, {"code", code}}).Increment();
  rpc_seconds_->Add({{"method", method}}, RpcBuckets()).Observe(seconds);
}

std::string DaemonMetrics::Render(SchedulerCore& core, const Principal* who) const {
  // What the core holds now goes into a registry made for this scrape, so
  // jobs that ended and nodes that left disappear from the next one.
  prometheus::Registry now;
  auto& jobs = prometheus::BuildGauge().Name("meridian_jobs").Help("Jobs by state").Register(now);
  auto& queue = prometheus::BuildGauge()
                    .Name("meridian_queue_length")
                    .Help("Jobs waiting to be placed (QUEUED and RESTARTING)")
                    .Register(now);
  auto& nodes = prometheus::BuildGauge().Name("meridian_nodes").Help("Nodes by liveness").Register(now);
  auto& gpus = prometheus::BuildGauge().Name("meridian_gpus").Help("GPUs by data center and use").Register(now);
  auto& step = prometheus::BuildGauge().Name("meridian_job_step").Help("Latest step of a running job").Register(now);
  auto& loss = prometheus::BuildGauge().Name("meridian_job_loss").Help("Latest training loss").Register(now);
  auto& eval = prometheus::BuildGauge().Name("meridian_job_eval_loss").Help("Latest validation loss").Register(now);
  auto& speed =
      prometheus::BuildGauge().Name("meridian_job_tokens_per_second").Help("Latest training speed").Register(now);
  auto& mfu = prometheus::BuildGauge()
                  .Name("meridian_job_mfu")
                  .Help("Latest model FLOPs utilisation (jobs that give their devices' peak)")
                  .Register(now);
  auto& dc_bytes = prometheus::BuildGauge()
                       .Name("meridian_job_step_bytes")
                       .Help("Bytes the latest step's collectives moved, within a data center or between them (wan)")
                       .Register(now);
  auto& restarts = prometheus::BuildGauge()
                       .Name("meridian_job_restarts")
                       .Help("Restarts after failures of a job that has not ended")
                       .Register(now);

  std::map<v1::JobState, int> by_state;
  for (int s = v1::JobState_MIN; s <= v1::JobState_MAX; ++s)
    if (v1::JobState_IsValid(s) && s != v1::JOB_STATE_UNSPECIFIED) by_state[(v1::JobState)s] = 0;
  for (const auto& [state, count] : core.CountJobsByState()) by_state[state] += count;
  // Series only for the jobs that have not ended: the history is counted, not copied.
  for (const v1::Job& j : core.ListJobs({v1::QUEUED, v1::PLACED, v1::RUNNING, v1::RESTARTING})) {
    if (who != nullptr && !Allow(*who, Action::kReadJob, j.owner()).ok()) continue;
    const prometheus::Labels labels = {{"job", j.id()}, {"name", j.spec().name()}};
    restarts.Add(labels).Set(j.restarts());
    if (j.state() != v1::RUNNING) continue;
    step.Add(labels).Set((double)j.last_progress().step());
    loss.Add(labels).Set(j.last_progress().loss());
    if (j.last_progress().eval_loss() > 0) eval.Add(labels).Set(j.last_progress().eval_loss());
    speed.Add(labels).Set(j.last_progress().tokens_per_s());
    if (j.last_progress().mfu() > 0) mfu.Add(labels).Set(j.last_progress().mfu());
    prometheus::Labels link = labels;
    link["link"] = "intra_dc";
    dc_bytes.Add(link).Set(j.last_progress().bytes_intra_dc());
    link["link"] = "wan";
    dc_bytes.Add(link).Set(j.last_progress().bytes_inter_dc());
  }
  for (const auto& [state, count] : by_state) jobs.Add({{"state", v1::JobState_Name(state)}}).Set(count);
  queue.Add({}).Set(by_state[v1::QUEUED] + by_state[v1::RESTARTING]);

  int alive = 0, dead = 0;
  const v1::ListPoolsResponse pools = core.ListPools();
  for (const v1::Pool& p : pools.pools()) {
    for (const v1::Node& n : p.nodes()) (n.alive() ? alive : dead)++;
    gpus.Add({{"data_center", p.data_center()}, {"use", "free"}}).Set(p.free_gpus());
    gpus.Add({{"data_center", p.data_center()}, {"use", "used"}}).Set(p.total_gpus() - p.free_gpus());
  }
  nodes.Add({{"state", "alive"}}).Set(alive);
  nodes.Add({{"state", "dead"}}).Set(dead);

  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& f : now.Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace meridian::scheduler
