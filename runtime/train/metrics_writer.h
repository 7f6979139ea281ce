// Appends one JSON object per line to --metrics-out (the metrics contract
// in docs/formats.md). Each line is flushed as it is written, so a job that
// dies keeps every line it finished.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "runtime/train/tensorboard_writer.h"

namespace meridian {

class MetricsWriter {
 public:
  MetricsWriter() = default;
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  // An empty path makes a writer that discards everything.
  Status Open(const std::string& path);
  // Also writes every record's numbers as TensorBoard scalars into `dir`
  // ("train/loss", "train/mfu", ...; an eval record's "eval_loss" as
  // "eval/loss"), stepped by the record's step.
  Status OpenTensorBoard(const std::string& dir);
  Status Write(nlohmann::json record);
  // Launch number of a scheduled job (its restarts start new attempts),
  // written into every record so each step appears once per attempt; a
  // run started by hand is attempt 1.
  void SetAttempt(int attempt) { attempt_ = attempt > 0 ? attempt : 1; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  int attempt_ = 1;
  TensorBoardWriter tensorboard_;
};

}  // namespace meridian
