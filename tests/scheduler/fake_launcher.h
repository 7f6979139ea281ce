// A Launcher that starts nothing: tests end jobs by calling Exit().
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "scheduler/service/launcher.h"

namespace meridian::scheduler {

class FakeLauncher : public Launcher {
 public:
  void SetExitCallback(ExitCallback cb) override { cb_ = std::move(cb); }
  Result<int64_t> Launch(const v1::Job& job) override {
    std::lock_guard<std::mutex> lock(mu_);
    launched.push_back(job.id());
    return (int64_t)(1000 + launched.size());
  }
  Status Kill(const std::string& job_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    killed.push_back(job_id);
    return Status::OK();
  }
  // What a restarted daemon finds: `orphan`, for every job it asks about.
  Orphan Reattach(const v1::Job& job) override {
    reattached.push_back(job.id());
    return orphan;
  }
  std::string LogPath(const std::string& job_id) const override { return "/tmp/" + job_id + ".log"; }
  void Exit(const std::string& job_id, int code) { cb_(job_id, code); }
  void RemoveJobFiles(const v1::Job& job) override {
    std::lock_guard<std::mutex> lock(mu_);
    files_removed.push_back(job.id());
  }

  Status RelaunchWorld(const v1::Job& job, int world) override {
    std::lock_guard<std::mutex> lock(mu_);
    relaunched_worlds.push_back(job.id() + ":" + std::to_string(world));
    return Status::OK();
  }

  std::vector<std::string> launched, killed, files_removed;
  std::vector<std::string> relaunched_worlds;  // job:world
  std::vector<std::string> reattached;
  Orphan orphan;  // kGone unless a test says otherwise

 private:
  std::mutex mu_;
  ExitCallback cb_;
};

}  // namespace meridian::scheduler
