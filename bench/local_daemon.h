// A meridian-scheduler a benchmark starts on this machine: the binary next
// to meridian-bench, on a loopback port, stopped (SIGTERM) when destroyed.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "meridian/v1/scheduler.grpc.pb.h"

namespace meridian::bench {

class LocalDaemon {
 public:
  // `args` follow `--listen ADDRESS`; output goes to `log_path`.
  LocalDaemon(const std::vector<std::string>& args, const std::string& log_path);
  ~LocalDaemon();
  LocalDaemon(const LocalDaemon&) = delete;
  LocalDaemon& operator=(const LocalDaemon&) = delete;

  const std::string& address() const { return address_; }

 private:
  std::string address_;
  pid_t pid_ = -1;
};

// Until the daemon behind `stub` answers ListPools; false after 10 s.
bool WaitForScheduler(v1::Scheduler::Stub& stub);

}  // namespace meridian::bench
