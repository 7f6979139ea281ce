#include "runtime/comm/watchdog.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>

#include "runtime/comm/communicator.h"

namespace meridian {

namespace {
double g_timeout_s = 0.0;
std::string g_context;
}  // namespace

void SetCommTimeout(double seconds) { g_timeout_s = seconds; }
double CommTimeout() { return g_timeout_s; }
void SetCommContext(const std::string& context) { g_context = context; }
const std::string& CommContext() { return g_context; }

void WatchdogAbort(const std::string& what) {
  int initialized = 0, finalized = 0, rank = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  const bool mpi = initialized && !finalized;
  if (mpi) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr,
               "[rank %d] watchdog: %s has not completed after %.1f s (%s); aborting the job "
               "(raise --comm-timeout if this is only slow)\n",
               rank, what.c_str(), g_timeout_s, g_context.empty() ? "no context" : g_context.c_str());
  std::fflush(stderr);
  if (mpi) MPI_Abort(MPI_COMM_WORLD, 3);
  std::_Exit(3);
}

}  // namespace meridian
