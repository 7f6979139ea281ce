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

Status MetricsWriter::Write(nlohmann::json record) {
  if (file_ == nullptr) return Status::OK();
  // Wall-clock time of the record, so curves of runs can be put on one
  // time axis and a stalled job is seen as such.
  record["time"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  record["attempt"] = attempt_;
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    return Status::IOError(path_ + ": write failed: " + std::strerror(errno));
  return Status::OK();
}

}  // namespace meridian
