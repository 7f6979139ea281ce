// A launcher that starts nothing: placed jobs stay RUNNING until cancelled.
// For exercising the control plane alone (`meridian-scheduler --dry-run`,
// `meridian-bench rpc`) without spending the machine on training.
#pragma once

#include <thread>

#include "scheduler/service/launcher.h"

namespace meridian::scheduler {

class DryRunLauncher : public Launcher {
 public:
  void SetExitCallback(ExitCallback callback) override { on_exit_ = std::move(callback); }
  Result<int64_t> Launch(const v1::Job&) override { return (int64_t)0; }
  // There is no process; its "exit" is reported from another thread, as a
  // real launcher's would be (never inside the caller's lock).
  Status Kill(const std::string& job_id) override {
    std::thread([cb = on_exit_, job_id] { if (cb) cb(job_id, 143); }).detach();
    return Status::OK();
  }
  // Nothing ran, so nothing is found: the job is placed again.
  Orphan Reattach(const v1::Job&) override { return Orphan{}; }
  std::string LogPath(const std::string&) const override { return ""; }

 private:
  ExitCallback on_exit_;
};

}  // namespace meridian::scheduler
