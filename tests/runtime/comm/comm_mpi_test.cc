// Runs under mpirun (ctest label "mpi"): every rank executes every test.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "tests/common/mpi_test_main.h"

namespace meridian {
namespace {

TEST(MpiCommunicator, AllReduceSumsAndAverages) {
  const int n = TestWorld()->size(), r = TestWorld()->rank();
  std::vector<float> x(1001);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (float)(r + 1) * (float)i;
  ASSERT_TRUE(TestWorld()->AllReduce(x.data(), x.size(), ReduceOp::kSum).ok());
  const float factor = n * (n + 1) / 2.0f;
  for (size_t i = 0; i < x.size(); ++i) ASSERT_FLOAT_EQ(x[i], factor * i);
  std::vector<float> y(7, (float)r);
  auto req = TestWorld()->IAllReduce(y.data(), y.size(), ReduceOp::kAvg);
  ASSERT_TRUE(req.ok());
  ASSERT_TRUE((*req)->Wait().ok());
  for (float v : y) ASSERT_FLOAT_EQ(v, (n - 1) / 2.0f);
  double d[2] = {1.0 * r, 2.0};
  ASSERT_TRUE(TestWorld()->AllReduceDouble(d, 2, ReduceOp::kSum).ok());
  EXPECT_DOUBLE_EQ(d[1], 2.0 * n);
}

TEST(MpiCommunicator, ReduceScatterAndAllGatherHandleUnevenCounts) {
  const int n = TestWorld()->size(), r = TestWorld()->rank();
  std::vector<size_t> counts(n);
  for (int i = 0; i < n; ++i) counts[i] = 3 + i;  // uneven on purpose
  const size_t total = std::accumulate(counts.begin(), counts.end(), size_t{0});
  std::vector<float> send(total);
  for (size_t i = 0; i < total; ++i) send[i] = (float)i + r;
  std::vector<float> mine(counts[r]);
  ASSERT_TRUE(TestWorld()->ReduceScatter(send.data(), mine.data(), counts, ReduceOp::kAvg).ok());
  size_t offset = 0;
  for (int i = 0; i < r; ++i) offset += counts[i];
  for (size_t i = 0; i < counts[r]; ++i) ASSERT_FLOAT_EQ(mine[i], (float)(offset + i) + (n - 1) / 2.0f);
  std::vector<float> all(total, -1.0f);
  ASSERT_TRUE(TestWorld()->AllGather(mine.data(), all.data(), counts).ok());
  for (size_t i = 0; i < total; ++i) ASSERT_FLOAT_EQ(all[i], (float)i + (n - 1) / 2.0f);
  // In place: this rank's slot of the output is the input.
  std::vector<float> inplace(total, 0.0f);
  std::copy(mine.begin(), mine.end(), inplace.begin() + offset);
  ASSERT_TRUE(TestWorld()->AllGather(inplace.data() + offset, inplace.data(), counts).ok());
  EXPECT_EQ(inplace, all);
}

TEST(MpiCommunicator, BroadcastSendRecvAndSplit) {
  const int n = TestWorld()->size(), r = TestWorld()->rank();
  std::vector<float> b(5, r == 0 ? 42.0f : 0.0f);
  ASSERT_TRUE(TestWorld()->Broadcast(b.data(), b.size(), 0).ok());
  for (float v : b) ASSERT_EQ(v, 42.0f);
  if (n >= 2) {
    // A ring: send to the right, receive from the left, without deadlock.
    float out = (float)r, in = -1;
    auto rq = TestWorld()->IRecv(&in, 1, (r + n - 1) % n, 9);
    ASSERT_TRUE(rq.ok());
    ASSERT_TRUE(TestWorld()->Send(&out, 1, (r + 1) % n, 9).ok());
    ASSERT_TRUE((*rq)->Wait().ok());
    EXPECT_EQ(in, (float)((r + n - 1) % n));
  }
  auto sub = TestWorld()->Split(r % 2, r, "parity");
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ((*sub)->size(), (n + 1 - r % 2) / 2);
  EXPECT_EQ((*sub)->world_ranks()[(*sub)->rank()], r);
  float one = 1.0f;
  ASSERT_TRUE((*sub)->AllReduce(&one, 1, ReduceOp::kSum).ok());
  EXPECT_EQ(one, (float)(*sub)->size());
}

TEST(MpiCommunicator, BytesAllGatheredInFlightWhileAnotherCommunicatorWorks) {
  const int n = TestWorld()->size(), r = TestWorld()->rank();
  // Overlapped DiLoCo's shape: the exchange on a communicator of its own,
  // the training's collectives on the other meanwhile.
  auto background = TestWorld()->Split(0, r, "background");
  ASSERT_TRUE(background.ok());
  std::vector<uint8_t> mine(1000), all((size_t)n * mine.size(), 0);
  for (size_t i = 0; i < mine.size(); ++i) mine[i] = (uint8_t)(r * 31 + i);
  auto req = (*background)->IAllGatherBytes(mine.data(), all.data(), mine.size());
  ASSERT_TRUE(req.ok());
  for (int step = 0; step < 3; ++step) {
    float one = 1.0f;
    ASSERT_TRUE(TestWorld()->AllReduce(&one, 1, ReduceOp::kSum).ok());
    EXPECT_EQ(one, (float)n);
    (*req)->Test();
  }
  ASSERT_TRUE((*req)->Wait().ok());
  for (int from = 0; from < n; ++from)
    for (size_t i = 0; i < mine.size(); ++i)
      ASSERT_EQ(all[from * mine.size() + i], (uint8_t)(from * 31 + i)) << "rank " << from << " byte " << i;
}

TEST(MpiCommunicator, BadArgumentsAreErrorsNotCrashes) {
  float x = 0;
  Status s = TestWorld()->Send(&x, 1, TestWorld()->size() + 3, 0);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("peer"), std::string::npos);
  std::vector<size_t> wrong(TestWorld()->size() + 1, 1);
  std::vector<float> buf(wrong.size());
  EXPECT_FALSE(TestWorld()->ReduceScatter(buf.data(), buf.data(), wrong, ReduceOp::kSum).ok());
}

}  // namespace
}  // namespace meridian
