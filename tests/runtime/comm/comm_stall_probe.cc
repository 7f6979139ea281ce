// Makes the last rank stall so the others' all-reduce trips the watchdog.
// tests/runtime/comm/watchdog_names_the_hang.sh checks the message.
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "runtime/comm/mpi_communicator.h"
#include "runtime/comm/watchdog.h"

int main(int argc, char** argv) {
  auto world = meridian::MpiCommunicator::InitWorld(&argc, &argv);
  if (!world.ok()) return 1;
  meridian::SetCommTimeout(2.0);
  meridian::SetCommContext("step 7, micro-batch 1");
  std::vector<float> x(16, 1.0f);
  if ((*world)->rank() == (*world)->size() - 1) sleep(30);  // the stalled rank
  meridian::Status s = (*world)->AllReduce(x.data(), x.size(), meridian::ReduceOp::kSum);
  std::printf("all-reduce returned: %s\n", s.ToString().c_str());
  return 0;
}
