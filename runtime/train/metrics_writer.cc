#include "runtime/train/metrics_writer.h"

#include <cerrno>
#include <chrono>
#include <cstring>

namespace meridian {

MetricsWriter::~MetricsWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

Status MetricsWriter::Open(const std::string& path) {
  path_ = path;
  if (path.empty()) return Status::OK();
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) return Status::IOError(path + ": cannot open for append: " + std::strerror(errno));
  return Status::OK();
}

Status MetricsWriter::OpenTensorBoard(const std::string& dir) {
  if (dir.empty()) return Status::OK();
  return tensorboard_.Open(dir);
}

namespace {

// The record's numbers as TensorBoard tags; step, time and attempt are the
// event's own fields or constant within a file.
std::vector<std::pair<std::string, float>> Scalars(const nlohmann::json& record) {
  std::vector<std::pair<std::string, float>> out;
  for (const auto& [key, value] : record.items()) {
    if (!value.is_number() || key == "step" || key == "time" || key == "attempt") continue;
    const std::string tag = key.rfind("eval_", 0) == 0 ? "eval/" + key.substr(5) : "train/" + key;
    out.emplace_back(tag, value.get<float>());
  }
  return out;
}

}  // namespace

Status MetricsWriter::Write(nlohmann::json record) {
  // Wall-clock time of the record, so curves of runs can be put on one
  // time axis and a stalled job is seen as such.
  record["time"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  record["attempt"] = attempt_;
  if (record.contains("step")) {
    MERIDIAN_RETURN_IF_ERROR(
        tensorboard_.WriteScalars(record["step"].get<int64_t>(), record["time"].get<double>(), Scalars(record)));
  }
  if (file_ == nullptr) return Status::OK();
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    return Status::IOError(path_ + ": write failed: " + std::strerror(errno));
  return Status::OK();
}

}  // namespace meridian
