// The training program's side of the scheduler: a rank started by the
// daemon's launcher asks where it is (GetAssignment) and turns the job spec
// and placement into its options; rank 0 reports progress. This is the only
// place the runtime talks to the scheduler, through the generated client.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "runtime/train/step_report.h"
#include "runtime/train/train_options.h"

namespace meridian {

class SchedulerClient {
 public:
  static Result<std::unique_ptr<SchedulerClient>> Connect(const std::string& address, const std::string& job_id);
  virtual ~SchedulerClient() = default;

  // Fills the job's model, training options, layout and data-center map
  // into *options (command-line paths such as --checkpoint-dir stay).
  virtual Status ApplyAssignment(int rank, TrainOptions* options) = 0;

  // Best effort and asynchronous: returns at once, and a daemon that is
  // briefly away does not stop training. Destroying the client sends what
  // is still pending.
  virtual void ReportProgress(const StepReport& report) = 0;
};

}  // namespace meridian
