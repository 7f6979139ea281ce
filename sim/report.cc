#include "sim/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace meridian::sim {

namespace {

const char* BucketOf(int gpus) {
  if (gpus <= 1) return "1";
  if (gpus <= 8) return "2-8";
  if (gpus <= 64) return "9-64";
  if (gpus <= 512) return "65-512";
  return "513+";
}

DelayStats Delays(const std::string& bucket, const std::vector<double>& waits) {
  DelayStats d;
  d.bucket = bucket;
  d.jobs = (int)waits.size();
  if (waits.empty()) return d;
  double sum = 0;
  for (double w : waits) sum += w;
  d.mean_s = sum / (double)waits.size();
  d.max_s = *std::max_element(waits.begin(), waits.end());
  d.p50_s = NearestRankPercentile(waits, 0.50);
  d.p99_s = NearestRankPercentile(waits, 0.99);
  return d;
}

std::string Num(double v, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, v);
  return text;
}

// Right-aligned columns, each as wide as its widest cell.
std::string Columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], row[c].size());
    }
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      out += c == 0 ? "" : "  ";
      out += std::string(width[c] - row[c].size(), ' ') + row[c];
    }
    out += "\n";
  }
  return out;
}

}  // namespace

double NearestRankPercentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = (size_t)std::ceil(p * (double)values.size());
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

Summary Summarise(const SimulationResult& r) {
  Summary s;
  s.total_gpus = r.total_gpus;
  s.wall_s = r.wall_s;
  static const char* kBuckets[] = {"1", "2-8", "9-64", "65-512", "513+"};
  std::vector<double> all, prioritised;
  std::map<std::string, std::vector<double>> by_tenant;
  std::vector<std::vector<double>> by_bucket(std::size(kBuckets));
  for (const JobOutcome& j : r.jobs) {
    ++s.submitted;
    s.restarts += j.restarts;
    s.preemptions += j.preemptions;
    if (j.state == "REFUSED") {
      ++s.refused;
      continue;
    }
    if (j.state == "SUCCEEDED") {
      ++s.succeeded;
      s.useful_gpu_s += j.gpus * j.ideal_run_s;
    } else if (j.state == "FAILED" || j.state == "CANCELLED") {
      ++s.failed;
    } else {
      ++s.unfinished;
    }
    if (j.end_s > s.makespan_s) s.makespan_s = j.end_s;
    if (j.start_s < 0) continue;
    ++s.started;
    const double wait = j.start_s - j.submit_s;
    all.push_back(wait);
    if (j.priority > 0) prioritised.push_back(wait);
    by_tenant[j.tenant].push_back(wait);
    for (size_t b = 0; b < std::size(kBuckets); ++b)
      if (BucketOf(j.gpus) == std::string(kBuckets[b])) by_bucket[b].push_back(wait);
  }
  s.delays.push_back(Delays("all", all));
  for (size_t b = 0; b < std::size(kBuckets); ++b)
    if (!by_bucket[b].empty()) s.delays.push_back(Delays(kBuckets[b], by_bucket[b]));
  if (!prioritised.empty()) s.delays.push_back(Delays("priority>0", prioritised));
  if (by_tenant.size() > 1)
    for (const auto& [tenant, waits] : by_tenant) s.delays.push_back(Delays("tenant:" + tenant, waits));
  // The busy GPUs integrated over [0, makespan].
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    const double from = r.timeline[i].t_s;
    const double to = i + 1 < r.timeline.size() ? r.timeline[i + 1].t_s : s.makespan_s;
    if (to > from && from < s.makespan_s) s.busy_gpu_s += r.timeline[i].busy_gpus * (std::min(to, s.makespan_s) - from);
  }
  if (s.total_gpus > 0 && s.makespan_s > 0) {
    s.utilisation = s.busy_gpu_s / (s.total_gpus * s.makespan_s);
    s.useful_utilisation = s.useful_gpu_s / (s.total_gpus * s.makespan_s);
  }
  s.placements = (int)r.placement_wall_s.size();
  if (!r.placement_wall_s.empty()) {
    s.placement_p50_ms = 1e3 * NearestRankPercentile(r.placement_wall_s, 0.50);
    s.placement_p99_ms = 1e3 * NearestRankPercentile(r.placement_wall_s, 0.99);
    s.placement_max_ms = 1e3 * *std::max_element(r.placement_wall_s.begin(), r.placement_wall_s.end());
  }
  s.wan_bytes = r.wan_bytes;
  s.lost_gpu_s = r.lost_gpu_s;
  s.lock_holds = (long long)r.lock_hold_s.size();
  if (!r.lock_hold_s.empty()) {
    s.lock_p99_ms = 1e3 * NearestRankPercentile(r.lock_hold_s, 0.99);
    s.lock_max_ms = 1e3 * *std::max_element(r.lock_hold_s.begin(), r.lock_hold_s.end());
  }
  return s;
}

std::string SummaryTable(const Summary& s) {
  std::string out = Columns({
      {"jobs", "refused", "started", "succeeded", "failed", "unfinished", "restarts", "preempted", "gpus",
       "makespan-s", "util", "useful", "wall-s"},
      {std::to_string(s.submitted), std::to_string(s.refused), std::to_string(s.started), std::to_string(s.succeeded),
       std::to_string(s.failed), std::to_string(s.unfinished), std::to_string(s.restarts),
       std::to_string(s.preemptions), std::to_string(s.total_gpus), Num(s.makespan_s, 1),
       Num(100 * s.utilisation, 2) + "%", Num(100 * s.useful_utilisation, 2) + "%", Num(s.wall_s, 2)},
  });
  out += "\n";
  std::vector<std::vector<std::string>> rows = {{"size(gpus)", "jobs", "wait-p50-s", "wait-p99-s", "wait-mean-s",
                                                 "wait-max-s"}};
  for (const DelayStats& d : s.delays)
    rows.push_back({d.bucket, std::to_string(d.jobs), Num(d.p50_s, 1), Num(d.p99_s, 1), Num(d.mean_s, 1),
                    Num(d.max_s, 1)});
  out += Columns(rows) + "\n";
  out += Columns({{"wan-tb", "lost-gpu-h", "lost-share"},
                  {Num(s.wan_bytes / 1e12, 3), Num(s.lost_gpu_s / 3600, 1),
                   Num(s.busy_gpu_s > 0 ? 100 * s.lost_gpu_s / s.busy_gpu_s : 0, 2) + "%"}}) +
         "\n";
  out += Columns({{"placements", "place-p50-ms", "place-p99-ms", "place-max-ms", "lock-holds", "lock-p99-ms",
                   "lock-max-ms"},
                  {std::to_string(s.placements), Num(s.placement_p50_ms, 3), Num(s.placement_p99_ms, 3),
                   Num(s.placement_max_ms, 3), std::to_string(s.lock_holds), Num(s.lock_p99_ms, 3),
                   Num(s.lock_max_ms, 3)}});
  return out;
}

nlohmann::json SummaryJson(const Summary& s) {
  nlohmann::json j;
  j["jobs"] = {{"submitted", s.submitted}, {"refused", s.refused},       {"started", s.started},
               {"succeeded", s.succeeded}, {"failed", s.failed},         {"unfinished", s.unfinished},
               {"restarts", s.restarts},   {"preemptions", s.preemptions}};
  j["total_gpus"] = s.total_gpus;
  j["makespan_s"] = s.makespan_s;
  j["busy_gpu_s"] = s.busy_gpu_s;
  j["utilisation"] = s.utilisation;
  j["useful_gpu_s"] = s.useful_gpu_s;
  j["useful_utilisation"] = s.useful_utilisation;
  nlohmann::json delays = nlohmann::json::object();
  for (const DelayStats& d : s.delays)
    delays[d.bucket] = {{"jobs", d.jobs}, {"p50_s", d.p50_s}, {"p99_s", d.p99_s}, {"mean_s", d.mean_s},
                        {"max_s", d.max_s}};
  j["queueing_delay"] = delays;
  j["placement"] = {{"searches", s.placements},
                    {"p50_ms", s.placement_p50_ms},
                    {"p99_ms", s.placement_p99_ms},
                    {"max_ms", s.placement_max_ms}};
  j["wan_bytes"] = s.wan_bytes;
  j["lost_gpu_s"] = s.lost_gpu_s;
  j["core_lock"] = {{"holds", s.lock_holds}, {"p99_ms", s.lock_p99_ms}, {"max_ms", s.lock_max_ms}};
  j["wall_s"] = s.wall_s;
  return j;
}

namespace {

const DelayStats* FindDelays(const Summary& s, const std::string& bucket) {
  for (const DelayStats& d : s.delays)
    if (d.bucket == bucket) return &d;
  return nullptr;
}

std::string P99(const Summary& s, const std::string& bucket) {
  const DelayStats* d = FindDelays(s, bucket);
  return d == nullptr ? "-" : Num(d->p99_s, 0);
}

}  // namespace

std::string ComparisonTable(const std::vector<std::pair<std::string, Summary>>& runs) {
  static const char* kSizes[] = {"1", "2-8", "9-64", "65-512", "513+"};
  std::vector<std::vector<std::string>> rows = {{"policy", "util", "useful", "makespan-s", "wait-p50-s",
                                                 "wait-p99-s", "p99-by-size-s(1/2-8/9-64/65-512/513+)",
                                                 "p99-priority>0-s", "preempted", "restarts", "unfinished",
                                                 "wall-s"}};
  for (const auto& [name, s] : runs) {
    std::string by_size;
    for (const char* size : kSizes) by_size += (by_size.empty() ? "" : "/") + P99(s, size);
    const DelayStats* all = FindDelays(s, "all");
    rows.push_back({name, Num(100 * s.utilisation, 2) + "%", Num(100 * s.useful_utilisation, 2) + "%",
                    Num(s.makespan_s, 0), all ? Num(all->p50_s, 1) : "-", P99(s, "all"), by_size,
                    P99(s, "priority>0"), std::to_string(s.preemptions), std::to_string(s.restarts),
                    std::to_string(s.unfinished), Num(s.wall_s, 1)});
  }
  return Columns(rows);
}

nlohmann::json ComparisonJson(const std::vector<std::pair<std::string, Summary>>& runs) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, s] : runs) {
    nlohmann::json row = SummaryJson(s);
    row["policy"] = name;
    out.push_back(std::move(row));
  }
  return out;
}

std::string JobsCsv(const SimulationResult& r) {
  std::ostringstream out;
  out.precision(15);
  out << "line,name,gpus,priority,submit_s,start_s,end_s,ideal_run_s,state,restarts,preemptions\n";
  for (const JobOutcome& j : r.jobs)
    out << j.trace_line << "," << j.name << "," << j.gpus << "," << j.priority << "," << j.submit_s << ","
        << j.start_s << "," << j.end_s << "," << j.ideal_run_s << "," << j.state << "," << j.restarts << ","
        << j.preemptions << "\n";
  return out.str();
}

std::string TimelineCsv(const SimulationResult& r) {
  std::ostringstream out;
  out.precision(15);
  out << "t_s,busy_gpus,total_gpus,utilisation,running_jobs\n";
  for (const UsagePoint& p : r.timeline) {
    out << p.t_s << "," << p.busy_gpus << "," << r.total_gpus << ","
        << (r.total_gpus > 0 ? (double)p.busy_gpus / r.total_gpus : 0.0) << "," << p.running_jobs << "\n";
  }
  return out.str();
}

}  // namespace meridian::sim
