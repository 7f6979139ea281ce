// The communication watchdog's clock and its last words. A hung collective
// is the most-hated failure in distributed training; ours says where.
#pragma once

#include <string>

namespace meridian {

// Seconds a blocking operation may take before the job is aborted (0: wait
// forever). Set from --comm-timeout.
void SetCommTimeout(double seconds);
double CommTimeout();

// Prints "[rank R] watchdog: ..." with what was pending and the caller's
// context to stderr, then aborts the whole job (MPI_Abort where MPI runs).
[[noreturn]] void WatchdogAbort(const std::string& what);

}  // namespace meridian
