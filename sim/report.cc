#include "sim/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
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
  std::vector<double> all;
  std::vector<std::vector<double>> by_bucket(std::size(kBuckets));
  for (const JobOutcome& j : r.jobs) {
    ++s.submitted;
    s.restarts += j.restarts;
    if (j.state == "REFUSED") {
      ++s.refused;
      continue;
    }
    if (j.state == "SUCCEEDED") ++s.succeeded;
    else if (j.state == "FAILED" || j.state == "CANCELLED") ++s.failed;
    else ++s.unfinished;
    if (j.end_s > s.makespan_s) s.makespan_s = j.end_s;
    if (j.start_s < 0) continue;
    ++s.started;
    const double wait = j.start_s - j.submit_s;
    all.push_back(wait);
    for (size_t b = 0; b < std::size(kBuckets); ++b)
      if (BucketOf(j.gpus) == std::string(kBuckets[b])) by_bucket[b].push_back(wait);
  }
  s.delays.push_back(Delays("all", all));
  for (size_t b = 0; b < std::size(kBuckets); ++b)
    if (!by_bucket[b].empty()) s.delays.push_back(Delays(kBuckets[b], by_bucket[b]));
  // The busy GPUs integrated over [0, makespan].
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    const double from = r.timeline[i].t_s;
    const double to = i + 1 < r.timeline.size() ? r.timeline[i + 1].t_s : s.makespan_s;
    if (to > from && from < s.makespan_s) s.busy_gpu_s += r.timeline[i].busy_gpus * (std::min(to, s.makespan_s) - from);
  }
  if (s.total_gpus > 0 && s.makespan_s > 0) s.utilisation = s.busy_gpu_s / (s.total_gpus * s.makespan_s);
  s.placements = (int)r.placement_wall_s.size();
  if (!r.placement_wall_s.empty()) {
    s.placement_p50_ms = 1e3 * NearestRankPercentile(r.placement_wall_s, 0.50);
    s.placement_p99_ms = 1e3 * NearestRankPercentile(r.placement_wall_s, 0.99);
    s.placement_max_ms = 1e3 * *std::max_element(r.placement_wall_s.begin(), r.placement_wall_s.end());
  }
  return s;
}

std::string SummaryTable(const Summary& s) {
  std::string out = Columns({
      {"jobs", "refused", "started", "succeeded", "failed", "unfinished", "restarts", "gpus", "makespan-s",
       "util", "wall-s"},
      {std::to_string(s.submitted), std::to_string(s.refused), std::to_string(s.started), std::to_string(s.succeeded),
       std::to_string(s.failed), std::to_string(s.unfinished), std::to_string(s.restarts),
       std::to_string(s.total_gpus), Num(s.makespan_s, 1), Num(100 * s.utilisation, 2) + "%", Num(s.wall_s, 2)},
  });
  out += "\n";
  std::vector<std::vector<std::string>> rows = {{"size(gpus)", "jobs", "wait-p50-s", "wait-p99-s", "wait-mean-s",
                                                 "wait-max-s"}};
  for (const DelayStats& d : s.delays)
    rows.push_back({d.bucket, std::to_string(d.jobs), Num(d.p50_s, 1), Num(d.p99_s, 1), Num(d.mean_s, 1),
                    Num(d.max_s, 1)});
  out += Columns(rows) + "\n";
  out += Columns({{"placements", "place-p50-ms", "place-p99-ms", "place-max-ms"},
                  {std::to_string(s.placements), Num(s.placement_p50_ms, 3), Num(s.placement_p99_ms, 3),
                   Num(s.placement_max_ms, 3)}});
  return out;
}

nlohmann::json SummaryJson(const Summary& s) {
  nlohmann::json j;
  j["jobs"] = {{"submitted", s.submitted}, {"refused", s.refused},       {"started", s.started},
               {"succeeded", s.succeeded}, {"failed", s.failed},         {"unfinished", s.unfinished},
               {"restarts", s.restarts}};
  j["total_gpus"] = s.total_gpus;
  j["makespan_s"] = s.makespan_s;
  j["busy_gpu_s"] = s.busy_gpu_s;
  j["utilisation"] = s.utilisation;
  nlohmann::json delays = nlohmann::json::object();
  for (const DelayStats& d : s.delays)
    delays[d.bucket] = {{"jobs", d.jobs}, {"p50_s", d.p50_s}, {"p99_s", d.p99_s}, {"mean_s", d.mean_s},
                        {"max_s", d.max_s}};
  j["queueing_delay"] = delays;
  j["placement"] = {{"searches", s.placements},
                    {"p50_ms", s.placement_p50_ms},
                    {"p99_ms", s.placement_p99_ms},
                    {"max_ms", s.placement_max_ms}};
  j["wall_s"] = s.wall_s;
  return j;
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
