// The dashboard's JSON API: what the HTTP port's /api/... answers, as plain
// functions of the core and the caller so they are tested without HTTP.
// Messages are rendered by ProtoToJson (every field present, int64 as
// numbers), the same JSON meridianctl --json prints.
//
//   /api/cluster               data centers, their nodes and GPUs (free and
//                              used), the links between data centers
//   /api/jobs[?state=A,B]      one row per job, in submission order
//   /api/jobs/ID               the job, its placement by rank, its events
//   /api/jobs/ID/metrics[?since=STEP&offset=BYTES]
//                              the trainer's metrics.jsonl records after STEP
//   /api/jobs/ID/log[?tail=N]  the last N lines of the job's output log
//
// A job's files live in the directory of its log (Job.log_path), where the
// launcher also points the trainer's --metrics-out (metrics.jsonl).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "scheduler/auth/authorizer.h"
#include "scheduler/service/scheduler_core.h"

namespace meridian::scheduler {

using ApiJson = nlohmann::ordered_json;

// Limits that keep one answer small whatever a job has written.
struct DashboardLimits {
  int max_jobs = 1000;               // /api/jobs: the newest this many
  int max_events = 500;              // /api/jobs/ID: the newest this many
  int max_metric_records = 5000;     // per /metrics answer (`more` says there is more)
  int max_log_lines = 5000;          // ?tail= at most
  int64_t max_log_bytes = 256 << 10; // of the log's end
};

// {data_centers: [Pool + used_gpus, nodes with free_gpus/used_gpus],
//  links: [InterDcLink], insecure}.
ApiJson ClusterJson(SchedulerCore& core);

// {jobs: [row], total, shown}; a row is {id, name, state, dp, pp, layout
// "DPxPP", placement (summary per data center), data_centers, ranks, step,
// loss, eval_loss, tokens_per_s, restarts, launches, submitted_unix_s,
// finished_unix_s, age_s, owner, message}. `states`: comma-separated
// state names (any case), "" for all; InvalidArgument naming a bad one.
// A submit token sees its own jobs only, as with ListJobs.
Result<ApiJson> JobsJson(SchedulerCore& core, const Principal& who, const std::string& states,
                         const DashboardLimits& limits = {});

// {job: Job, ranks: [{rank, data_center, node, host, gpu, dp_index, stage,
// layer_begin, layer_end}], events: [JobEvent, state changes only, newest
// max_events], progress_events, metrics_path}. NotFound naming the id;
// PermissionDenied for a job the caller may not read.
Result<ApiJson> JobJson(SchedulerCore& core, const Principal& who, const std::string& id,
                        const DashboardLimits& limits = {});

// {id, state, records: [the trainer's objects with step > since, in file
// order], next_since, next_offset, more}. A missing file (not started yet)
// has no records; a line not yet finished (no newline) waits for the next
// call, one that is not JSON is skipped. Records of one step are never
// split over two answers. `offset`: a next_offset from an earlier answer,
// where reading resumes (the file is append-only), so a poll costs what
// was appended since, not the whole file; 0 reads it all.
Result<ApiJson> JobMetricsJson(SchedulerCore& core, const Principal& who, const std::string& id, int64_t since,
                               int64_t offset = 0, const DashboardLimits& limits = {});

// {id, log_path, size, lines, truncated, text}: the last `tail` lines
// (within max_log_bytes of the end) of the job's output log.
Result<ApiJson> JobLogJson(SchedulerCore& core, const Principal& who, const std::string& id, int tail,
                           const DashboardLimits& limits = {});

// The metrics.jsonl reader behind JobMetricsJson, for a path.
ApiJson ReadMetricsSince(const std::string& path, int64_t since, int64_t offset, const DashboardLimits& limits);

// The HTTP status for an API error, and its body {"error": message}.
int HttpStatusFor(const Status& status);

}  // namespace meridian::scheduler
