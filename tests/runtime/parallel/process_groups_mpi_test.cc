// Runs under mpirun -np 4 (ctest label "mpi").
#include <gtest/gtest.h>
#include <mpi.h>

#include "runtime/comm/mpi_communicator.h"
#include "runtime/parallel/process_groups.h"

namespace meridian {
namespace {

Communicator* g_world = nullptr;

TEST(ProcessGroups, SplitTheWorldByLayoutAndDataCenter) {
  ASSERT_EQ(g_world->size(), 4);
  const int r = g_world->rank();
  // dp 2 x pp 2 over two data centers of two ranks each: replica 0 (ranks
  // 0, 1) in east, replica 1 (ranks 2, 3) in west.
  auto g = BuildProcessGroups(g_world, ParallelLayout{2, 2}, *ParsePools("east:2,west:2", 4));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->stage, r % 2);
  EXPECT_EQ(g->dp_index, r / 2);
  EXPECT_EQ(g->dp->world_ranks(), (std::vector<int>{r % 2, r % 2 + 2}));
  EXPECT_EQ(g->pp->world_ranks(), (std::vector<int>{r / 2 * 2, r / 2 * 2 + 1}));
  ASSERT_TRUE(g->tied != nullptr);  // both stages are first or last
  EXPECT_EQ(g->tied->size(), 2);
  EXPECT_EQ(g->data_center, r / 2);
  EXPECT_EQ(g->dp_intra_dc->size(), 1);  // one replica per data center
  EXPECT_EQ(g->dp_inter_dc->size(), 2);

  // dp 4 over the same two data centers: two replicas in each.
  auto h = BuildProcessGroups(g_world, ParallelLayout{4, 1}, *ParsePools("east:2,west:2", 4));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->dp_intra_dc->world_ranks(), (std::vector<int>{r / 2 * 2, r / 2 * 2 + 1}));
  EXPECT_EQ(h->dp_inter_dc->world_ranks(), (std::vector<int>{r % 2, r % 2 + 2}));
  EXPECT_TRUE(h->tied == nullptr);
}

}  // namespace
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
