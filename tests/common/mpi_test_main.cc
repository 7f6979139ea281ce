#include "tests/common/mpi_test_main.h"

#include <gtest/gtest.h>
#include <mpi.h>

#include "runtime/comm/mpi_communicator.h"

namespace meridian {

namespace {
Communicator* g_world = nullptr;
}  // namespace

Communicator* TestWorld() { return g_world; }

}  // namespace meridian

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto world = meridian::MpiCommunicator::InitWorld(&argc, &argv);
  if (!world.ok()) return 1;
  meridian::g_world = world->get();
  if (meridian::g_world->rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int rc = RUN_ALL_TESTS();
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  world->reset();
  return rc;
}
