// The communication watchdog. A hung collective is the most-hated failure
// in distributed training; ours says where.
//
// Every blocking communication runs inside a WatchScope naming it. A
// background thread checks the open scope; one older than the timeout
// makes the rank print "[rank R] watchdog: <operation> ... (<context>)" and
// exit non-zero, and mpirun then ends the whole job. The calls themselves
// stay plain blocking MPI calls, so the watchdog costs them nothing.
#pragma once

#include <string>

namespace meridian {

// Seconds a blocking operation may take before the job is aborted (0: wait
// forever). Set from --comm-timeout.
void SetCommTimeout(double seconds);
double CommTimeout();

// Marks one blocking operation for the watchdog. Not nestable; one thread.
class WatchScope {
 public:
  explicit WatchScope(const std::string& what);
  ~WatchScope();
  WatchScope(const WatchScope&) = delete;
  WatchScope& operator=(const WatchScope&) = delete;
};

// Prints the watchdog's message for `what` and exits with status 3.
[[noreturn]] void WatchdogAbort(const std::string& what);

}  // namespace meridian
