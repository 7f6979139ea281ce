// Runs under mpirun -np 4 (ctest label "mpi").
#include <gtest/gtest.h>

#include "tests/common/mpi_test_main.h"
#include "runtime/parallel/process_groups.h"

namespace meridian {
namespace {

TEST(ProcessGroups, SplitTheWorldByLayoutAndDataCenter) {
  ASSERT_EQ(TestWorld()->size(), 4);
  const int r = TestWorld()->rank();
  // dp 2 x pp 2 over two data centers of two ranks each: replica 0 (ranks
  // 0, 1) in east, replica 1 (ranks 2, 3) in west.
  auto g = BuildProcessGroups(TestWorld(), ParallelLayout{2, 2}, *ParsePools("east:2,west:2", 4));
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
  auto h = BuildProcessGroups(TestWorld(), ParallelLayout{4, 1}, *ParsePools("east:2,west:2", 4));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->dp_intra_dc->world_ranks(), (std::vector<int>{r / 2 * 2, r / 2 * 2 + 1}));
  EXPECT_EQ(h->dp_inter_dc->world_ranks(), (std::vector<int>{r % 2, r % 2 + 2}));
  EXPECT_TRUE(h->tied == nullptr);
}

}  // namespace
}  // namespace meridian
