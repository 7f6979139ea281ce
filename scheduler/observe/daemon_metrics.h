// The daemon's Prometheus metrics (`/metrics` on --http): every RPC by
// method and status code with its latency, and, read from the scheduler
// core when scraped, jobs by state, the queue, nodes and GPUs, and each
// running job's step, loss, eval loss, tokens/s, MFU, bytes per step within
// and between data centers, and restarts; placement searches and their
// latency; how long the core's lock is held. Counters
// and histograms use prometheus-cpp; the text is Prometheus' exposition
// format (`promtool check metrics` clean).
#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "scheduler/auth/authorizer.h"
#include "scheduler/service/scheduler_core.h"

namespace meridian::scheduler {

class DaemonMetrics {
 public:
  DaemonMetrics();

  // One finished RPC: its method ("SubmitJob"), gRPC status code name
  // ("OK", "INVALID_ARGUMENT", ...) and duration. Thread-safe.
  void RecordRpc(const std::string& method, const std::string& code, double seconds);
  // One placement search and whether it found room. Thread-safe.
  void RecordPlacement(double seconds, bool placed);
  // One hold of the scheduler core's lock. Thread-safe.
  void RecordLockHold(double seconds);

  // The exposition text: the RPC metrics and a snapshot of `core`. The
  // per-job series are those of the jobs `who` may read (a submit token's
  // own; every job for read and admin tokens, or with no `who`); the counts
  // by state stay whole, they name no job.
  std::string Render(SchedulerCore& core, const Principal* who = nullptr) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* rpcs_;
  prometheus::Family<prometheus::Histogram>* rpc_seconds_;
  prometheus::Family<prometheus::Histogram>* placement_seconds_;
  prometheus::Histogram* lock_hold_seconds_;
};

}  // namespace meridian::scheduler
