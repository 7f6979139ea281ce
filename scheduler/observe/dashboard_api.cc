#include "scheduler/observe/dashboard_api.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "common/untrusted_file.h"
#include "scheduler/cli/proto_json.h"

namespace meridian::scheduler {

namespace {

// The most of a metrics file one answer reads (its lines are short).
constexpr size_t kMetricsChunkBytes = 8 << 20;

// Up to kMetricsChunkBytes of the metrics file from `offset`; nothing
// when it is absent or not a plain file (the directory is the job's user's).
std::string MetricsChunk(const std::string& path, int64_t offset) {
  Result<std::string> chunk = ReadUntrustedFile(path, offset, kMetricsChunkBytes);
  return chunk.ok() ? std::move(*chunk) : std::string();
}

// The directory of the job's files: where its output log is.
std::string JobDir(const v1::Job& job) {
  const std::string& log = job.log_path();
  const size_t slash = log.rfind('/');
  return slash == std::string::npos ? std::string() : log.substr(0, slash);
}

// "dc-east 2 GPUs on 1 node, dc-west 2 GPUs on 1 node", in rank order.
std::string PlacementSummary(const v1::Placement& placement) {
  std::vector<std::string> order;
  std::map<std::string, std::pair<int, std::set<std::string>>> per_dc;
  for (const v1::RankAssignment& r : placement.ranks()) {
    if (!per_dc.count(r.data_center())) order.push_back(r.data_center());
    auto& [gpus, nodes] = per_dc[r.data_center()];
    ++gpus;
    nodes.insert(r.node());
  }
  std::string out;
  for (const std::string& dc : order) {
    const auto& [gpus, nodes] = per_dc[dc];
    if (!out.empty()) out += ", ";
    out += dc + " " + std::to_string(gpus) + (gpus == 1 ? " GPU" : " GPUs") + " on " + std::to_string(nodes.size()) +
           (nodes.size() == 1 ? " node" : " nodes");
  }
  return out;
}

ApiJson JobRow(const v1::Job& job, double now) {
  ApiJson row;
  row["id"] = job.id();
  row["name"] = job.spec().name();
  row["state"] = v1::JobState_Name(job.state());
  // What runs once placed (a restart may shrink dp); what was asked before.
  const int dp = job.has_placement() && job.placement().dp() > 0 ? job.placement().dp() : job.spec().layout().dp();
  const int pp = job.has_placement() && job.placement().pp() > 0 ? job.placement().pp() : job.spec().layout().pp();
  row["dp"] = dp;
  row["pp"] = pp;
  row["layout"] = dp > 0 && pp > 0 ? std::to_string(dp) + "x" + std::to_string(pp) : std::string("auto");
  row["placement"] = PlacementSummary(job.placement());
  ApiJson dcs = ApiJson::array();
  std::set<std::string> seen;
  for (const v1::RankAssignment& r : job.placement().ranks())
    if (seen.insert(r.data_center()).second) dcs.push_back(r.data_center());
  row["data_centers"] = std::move(dcs);
  row["ranks"] = job.placement().ranks_size();
  row["step"] = job.last_progress().step();
  row["total_steps"] = job.spec().training().steps();
  row["loss"] = job.last_progress().loss();
  row["eval_loss"] = job.last_progress().eval_loss();
  row["tokens_per_s"] = job.last_progress().tokens_per_s();
  row["restarts"] = job.restarts();
  row["launches"] = job.launches();
  row["submitted_unix_s"] = job.submitted_unix_s();
  row["finished_unix_s"] = job.finished_unix_s();
  row["age_s"] = std::max(0.0, now - job.submitted_unix_s());
  row["owner"] = job.owner();
  row["message"] = job.message();
  return row;
}

// The job, if it exists and the caller may read it.
Result<v1::Job> ReadableJob(SchedulerCore& core, const Principal& who, const std::string& id) {
  MERIDIAN_ASSIGN_OR_RETURN(v1::Job job, core.GetJob(id));
  MERIDIAN_RETURN_IF_ERROR(Allow(who, Action::kReadJob, job.owner()));
  return job;
}

std::string Upper(std::string s) {
  for (char& c : s) c = (char)std::toupper((unsigned char)c);
  return s;
}

// The step of a metrics line without parsing all of it, or -1: most
// polls want only the lines after the last one they saw.
int64_t StepOf(const std::string& line) {
  const size_t at = line.find("\"step\":");
  if (at == std::string::npos) return -1;
  char* end = nullptr;
  const char* begin = line.c_str() + at + 7;
  const long long step = std::strtoll(begin, &end, 10);
  return end == begin ? -1 : step;
}

}  // namespace

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk: return 200;
    case Status::Code::kInvalidArgument: return 400;
    case Status::Code::kNotFound: return 404;
    case Status::Code::kUnauthenticated: return 401;
    case Status::Code::kPermissionDenied: return 403;
    case Status::Code::kResourceExhausted: return 429;
    case Status::Code::kUnavailable: return 503;
    default: return 500;
  }
}

ApiJson ClusterJson(SchedulerCore& core) {
  const v1::ListPoolsResponse pools = core.ListPools();
  ApiJson out;
  ApiJson dcs = ApiJson::array();
  for (const v1::Pool& pool : pools.pools()) {
    ApiJson dc = ProtoToJson(pool);
    dc["used_gpus"] = pool.total_gpus() - pool.free_gpus();
    for (size_t i = 0; i < dc["nodes"].size(); ++i) {
      const v1::Node& node = pool.nodes((int)i);
      int used = 0;
      for (const v1::Gpu& g : node.gpus()) used += !g.job_id().empty();
      dc["nodes"][i]["used_gpus"] = used;
      dc["nodes"][i]["free_gpus"] = node.alive() ? node.gpus_size() - used : 0;
    }
    dcs.push_back(std::move(dc));
  }
  out["data_centers"] = std::move(dcs);
  ApiJson links = ApiJson::array();
  for (const v1::InterDcLink& link : pools.links()) links.push_back(ProtoToJson(link));
  out["links"] = std::move(links);
  out["insecure"] = pools.insecure();
  return out;
}

Result<ApiJson> JobsJson(SchedulerCore& core, const Principal& who, const std::string& states,
                         const DashboardLimits& limits) {
  MERIDIAN_RETURN_IF_ERROR(Allow(who, Action::kListJobs, ""));
  std::vector<v1::JobState> wanted;
  size_t begin = 0;
  while (begin < states.size()) {
    size_t end = states.find(',', begin);
    if (end == std::string::npos) end = states.size();
    const std::string name = Upper(states.substr(begin, end - begin));
    begin = end + 1;
    if (name.empty()) continue;
    v1::JobState state;
    if (!v1::JobState_Parse(name, &state) || state == v1::JOB_STATE_UNSPECIFIED)
      return Status::InvalidArgument("state: '" + name +
                                     "' is not a job state (QUEUED, PLACED, RUNNING, SUCCEEDED, FAILED, "
                                     "CANCELLED, RESTARTING)");
    wanted.push_back(state);
  }
  std::vector<v1::Job> jobs = core.ListJobs(wanted);
  jobs.erase(std::remove_if(jobs.begin(), jobs.end(), [&](const v1::Job& j) { return !SeesJob(who, j.owner()); }),
             jobs.end());
  const double now = NowUnixSeconds();
  const size_t first = jobs.size() > (size_t)limits.max_jobs ? jobs.size() - limits.max_jobs : 0;
  ApiJson rows = ApiJson::array();
  for (size_t i = first; i < jobs.size(); ++i) rows.push_back(JobRow(jobs[i], now));
  ApiJson out;
  out["jobs"] = std::move(rows);
  out["total"] = jobs.size();
  out["shown"] = jobs.size() - first;
  out["now_unix_s"] = now;
  return out;
}

Result<ApiJson> JobJson(SchedulerCore& core, const Principal& who, const std::string& id,
                        const DashboardLimits& limits) {
  MERIDIAN_ASSIGN_OR_RETURN(v1::Job job, ReadableJob(core, who, id));
  bool done = false;
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<v1::JobEvent> events, core.WaitForEvents(id, 0, 0.0, &done));
  ApiJson out;
  out["job"] = ProtoToJson(job);
  out["row"] = JobRow(job, NowUnixSeconds());
  ApiJson ranks = ApiJson::array();
  for (const v1::RankAssignment& r : job.placement().ranks()) ranks.push_back(ProtoToJson(r));
  out["ranks"] = std::move(ranks);
  // Progress is in the metrics; the history shows what happened to the job.
  std::vector<const v1::JobEvent*> changes;
  int progress_events = 0;
  for (const v1::JobEvent& e : events) {
    if (e.has_progress() && e.progress().step() > 0) {
      ++progress_events;
      continue;
    }
    changes.push_back(&e);
  }
  const size_t first = changes.size() > (size_t)limits.max_events ? changes.size() - limits.max_events : 0;
  ApiJson list = ApiJson::array();
  for (size_t i = first; i < changes.size(); ++i) list.push_back(ProtoToJson(*changes[i]));
  out["events"] = std::move(list);
  out["progress_events"] = progress_events;
  const std::string dir = JobDir(job);
  out["metrics_path"] = dir.empty() ? std::string() : dir + "/metrics.jsonl";
  return out;
}

ApiJson ReadMetricsSince(const std::string& path, int64_t since, int64_t offset, const DashboardLimits& limits) {
  ApiJson out;
  ApiJson records = ApiJson::array();
  int64_t next_since = since;
  bool more = false;
  // The file only grows (the trainer appends), so where the last answer
  // stopped is still the start of a line; anything else (a rewritten
  // file, an offset not after a newline) is read from the beginning. One
  // answer reads at most kMetricsChunkBytes: a cut last line waits for the
  // next one, like a line the trainer is still writing.
  std::string chunk = MetricsChunk(path, std::max<int64_t>(0, offset - 1));
  if (offset > 0 && !chunk.empty() && chunk[0] == '\n') {
    chunk.erase(0, 1);
  } else if (offset > 0) {
    offset = 0;
    chunk = MetricsChunk(path, 0);
  } else {
    offset = 0;
  }
  std::istringstream in(chunk);
  int64_t next_offset = offset;
  std::string line;
  while (in && std::getline(in, line)) {
    // The trainer may be half-way through this line: only whole lines count.
    if (in.eof()) break;
    const int64_t step = StepOf(line);
    if ((int)records.size() >= limits.max_metric_records && step != next_since && step > since) {
      more = true;
      break;
    }
    next_offset += (int64_t)line.size() + 1;
    if (step <= since) continue;
    ApiJson record = ApiJson::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object()) continue;
    records.push_back(std::move(record));
    next_since = std::max(next_since, step);
  }
  out["records"] = std::move(records);
  out["next_since"] = next_since;
  out["next_offset"] = next_offset;
  out["more"] = more;
  return out;
}

Result<ApiJson> JobMetricsJson(SchedulerCore& core, const Principal& who, const std::string& id, int64_t since,
                               int64_t offset, const DashboardLimits& limits) {
  MERIDIAN_ASSIGN_OR_RETURN(v1::Job job, ReadableJob(core, who, id));
  const std::string dir = JobDir(job);
  ApiJson page = ReadMetricsSince(dir.empty() ? dir : dir + "/metrics.jsonl", since, offset, limits);
  ApiJson out;
  out["id"] = id;
  out["state"] = v1::JobState_Name(job.state());
  for (auto& [key, value] : page.items()) out[key] = value;
  return out;
}

Result<ApiJson> JobLogJson(SchedulerCore& core, const Principal& who, const std::string& id, int tail,
                           const DashboardLimits& limits) {
  MERIDIAN_ASSIGN_OR_RETURN(v1::Job job, ReadableJob(core, who, id));
  if (tail < 0) return Status::InvalidArgument("tail: " + std::to_string(tail) + " must be >= 0");
  tail = std::min(tail, limits.max_log_lines);
  ApiJson out;
  out["id"] = id;
  out["log_path"] = job.log_path();
  int64_t size = 0;
  Result<std::string> read = job.log_path().empty()
                                 ? Result<std::string>(Status::NotFound("not launched"))
                                 : ReadUntrustedFile(job.log_path(), -1, (size_t)limits.max_log_bytes, &size);
  if (!read.ok()) {  // not launched yet (or not a plain file: the directory is the job's user's)
    out["size"] = 0;
    out["lines"] = 0;
    out["truncated"] = false;
    out["text"] = "";
    return out;
  }
  std::string text = std::move(*read);
  const int64_t from = size - (int64_t)text.size();
  bool truncated = from > 0;
  if (from > 0) {  // the first line is cut: start at the next whole one
    const size_t nl = text.find('\n');
    text.erase(0, nl == std::string::npos ? text.size() : nl + 1);
  }
  // The last `tail` lines (a last line without its newline counts).
  size_t start = text.size();
  int lines = 0;
  size_t scan = text.size();
  if (scan > 0 && text[scan - 1] == '\n') --scan;
  while (lines < tail && scan > 0) {
    const size_t nl = text.rfind('\n', scan - 1);
    ++lines;
    if (nl == std::string::npos) {
      start = 0;
      scan = 0;
      break;
    }
    start = nl + 1;
    scan = nl;
  }
  if (tail == 0) start = text.size();
  if (start > 0) truncated = true;
  out["size"] = size;
  out["lines"] = lines;
  out["truncated"] = truncated;
  out["text"] = text.substr(start);
  return out;
}

}  // namespace meridian::scheduler
