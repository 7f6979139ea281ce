// Appends one JSON object per line to --metrics-out (the metrics contract
// in docs/formats.md). Each line is flushed as it is written, so a job that
// dies keeps every line it finished.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace meridian {

class MetricsWriter {
 public:
  MetricsWriter() = default;
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  // An empty path makes a writer that discards everything.
  Status Open(const std::string& path);
  Status Write(nlohmann::json record);
  // Launch number of a scheduled job (its restarts start new attempts);
  // written into every record when set, so each step appears once per
  // attempt.
  void SetAttempt(int attempt) { attempt_ = attempt; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  int attempt_ = 0;
};

}  // namespace meridian
