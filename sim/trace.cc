#include "sim/trace.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace meridian::sim {

namespace {

using nlohmann::json;

const std::set<std::string> kFields = {"submit_s", "name", "tenant", "dp",           "pp",       "gpus",
                                       "model",    "duration_s", "tokens", "batch", "seq", "microbatches",
                                       "priority"};

// Reads one line's object into *job; errors say "field = value: why".
class LineReader {
 public:
  LineReader(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  Status Error(const std::string& field, const std::string& why) const {
    std::string value;
    if (object_.contains(field)) value = " = " + object_.at(field).dump().substr(0, 60);
    return Status::InvalidArgument(where_ + field + value + ": " + why);
  }

  Status Number(const std::string& field, double* out, double min) const {
    if (!object_.contains(field)) return Status::OK();
    const json& v = object_.at(field);
    if (!v.is_number()) return Error(field, "must be a number");
    const double d = v.get<double>();
    if (!std::isfinite(d) || d < min) return Error(field, "must be >= " + Format(min));
    *out = d;
    return Status::OK();
  }

  Status Integer(const std::string& field, int* out, int min, int max) const {
    if (!object_.contains(field)) return Status::OK();
    const json& v = object_.at(field);
    if (!v.is_number_integer()) return Error(field, "must be a whole number");
    const int64_t i = v.get<int64_t>();
    if (i < min || i > max) return Error(field, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    *out = (int)i;
    return Status::OK();
  }

  Status Text(const std::string& field, std::string* out) const {
    if (!object_.contains(field)) return Status::OK();
    const json& v = object_.at(field);
    if (!v.is_string()) return Error(field, "must be a string");
    *out = v.get<std::string>();
    if (out->size() > 256) return Error(field, "longer than 256 characters");
    return Status::OK();
  }

 private:
  static std::string Format(double d) {
    std::ostringstream s;
    s << d;
    return s.str();
  }
  const json& object_;
  std::string where_;
};

Result<TraceJob> ParseLine(const std::string& text, int line, const std::string& source) {
  const std::string where = source + ": line " + std::to_string(line) + ": ";
  json object = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return Status::InvalidArgument(where + "not valid JSON");
  if (!object.is_object()) return Status::InvalidArgument(where + "expected a JSON object");
  for (const auto& [key, value] : object.items())
    if (!kFields.count(key))
      return Status::InvalidArgument(where + key + ": unknown field (expected submit_s, name, tenant, dp, pp, "
                                             "gpus, model, duration_s, tokens, batch, seq, microbatches, priority)");
  const LineReader r(object, where);
  TraceJob job;
  job.line = line;
  if (!object.contains("submit_s")) return r.Error("submit_s", "required");
  MERIDIAN_RETURN_IF_ERROR(r.Number("submit_s", &job.submit_s, 0));
  MERIDIAN_RETURN_IF_ERROR(r.Text("name", &job.name));
  MERIDIAN_RETURN_IF_ERROR(r.Text("tenant", &job.tenant));
  MERIDIAN_RETURN_IF_ERROR(r.Text("model", &job.model));
  constexpr int kMaxRanks = 1 << 16;
  MERIDIAN_RETURN_IF_ERROR(r.Integer("dp", &job.dp, 1, kMaxRanks));
  MERIDIAN_RETURN_IF_ERROR(r.Integer("pp", &job.pp, 1, kMaxRanks));
  MERIDIAN_RETURN_IF_ERROR(r.Integer("gpus", &job.gpus, 1, kMaxRanks));
  MERIDIAN_RETURN_IF_ERROR(r.Integer("batch", &job.batch, 1, 1 << 20));
  MERIDIAN_RETURN_IF_ERROR(r.Integer("seq", &job.seq, 1, 1 << 24));
  MERIDIAN_RETURN_IF_ERROR(r.Integer("microbatches", &job.microbatches, 1, 1 << 20));
  MERIDIAN_RETURN_IF_ERROR(r.Integer("priority", &job.priority, -1000, 1000));
  const bool layout = object.contains("dp") || object.contains("pp");
  if (layout && object.contains("gpus")) return r.Error("gpus", "give either dp and pp or gpus, not both");
  if (!layout && !object.contains("gpus")) return r.Error("dp", "required (or gpus)");
  if (layout) {
    if (job.dp == 0) job.dp = 1;
    if (job.pp == 0) job.pp = 1;
    if ((int64_t)job.dp * job.pp > kMaxRanks) return r.Error("dp", "dp x pp is more than 65536 ranks");
  }
  const bool has_duration = object.contains("duration_s"), has_tokens = object.contains("tokens");
  if (has_duration == has_tokens) return r.Error("duration_s", "give exactly one of duration_s and tokens");
  MERIDIAN_RETURN_IF_ERROR(r.Number("duration_s", &job.duration_s, 0));
  MERIDIAN_RETURN_IF_ERROR(r.Number("tokens", &job.tokens, 0));
  if (has_duration && job.duration_s <= 0) return r.Error("duration_s", "must be > 0");
  if (has_tokens && job.tokens <= 0) return r.Error("tokens", "must be > 0");
  if (job.name.empty()) job.name = "line-" + std::to_string(line);
  return job;
}

}  // namespace

Result<std::vector<TraceJob>> ParseTrace(const std::string& text, const std::string& source) {
  std::vector<TraceJob> jobs;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;  // blank lines and comments
    MERIDIAN_ASSIGN_OR_RETURN(TraceJob job, ParseLine(line, number, source));
    jobs.push_back(std::move(job));
  }
  return jobs;
}

Result<std::vector<TraceJob>> ReadTraceFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError(path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return ParseTrace(text.str(), path);
}

}  // namespace meridian::sim
