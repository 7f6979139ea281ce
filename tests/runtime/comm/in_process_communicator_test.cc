// The in-process communicator against sequential references, with 1 to 4
// ranks. Checks inside rank threads use EXPECT_* (ASSERT_* cannot return a
// Status); communication errors travel back through RunRanks.
#include "tests/runtime/comm/in_process_communicator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

namespace meridian {
namespace {

using std::chrono::milliseconds;

// Rank r's i-th value. The large terms of opposite sign make float sums
// depend on their order, so exact equality checks the rank order.
float Val(int r, size_t i) {
  static const float kBase[] = {1e8f, 1.0f, -1e8f, 3.0f};
  return kBase[r % 4] * (1.0f + 0.001f * (float)i) + 0.1f * (float)i;
}

std::vector<float> Vals(int r, size_t count, size_t first = 0) {
  std::vector<float> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = Val(r, first + i);
  return v;
}

// The sequential reference: x0 + x1 + ... in rank order, in float.
float RefSum(int n, size_t i) {
  float s = 0.0f;
  for (int r = 0; r < n; ++r) s += Val(r, i);
  return s;
}

float RefAvg(int n, size_t i) { return RefSum(n, i) * (1.0f / n); }

class InProcessRanks : public ::testing::TestWithParam<int> {
 protected:
  int n() const { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Ranks, InProcessRanks, ::testing::Values(1, 2, 3, 4),
                         [](const auto& info) { return std::to_string(info.param) + "ranks"; });

TEST_P(InProcessRanks, WorldCommunicators) {
  InProcessWorld world(n());
  ASSERT_EQ(world.size(), n());
  for (int r = 0; r < n(); ++r) {
    EXPECT_EQ(world.rank(r)->rank(), r);
    EXPECT_EQ(world.rank(r)->size(), n());
    EXPECT_EQ(world.rank(r)->name(), "world");
    std::vector<int> expected(n());
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(world.rank(r)->world_ranks(), expected);
  }
}

TEST_P(InProcessRanks, AllReduceSumsInRankOrder) {
  InProcessWorld world(n());
  const size_t count = 37;
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    std::vector<float> x = Vals(r, count);
    MERIDIAN_RETURN_IF_ERROR(comm->AllReduce(x.data(), count, ReduceOp::kSum));
    for (size_t i = 0; i < count; ++i) EXPECT_EQ(x[i], RefSum(n(), i)) << "rank " << r << " element " << i;
    x = Vals(r, count);
    MERIDIAN_RETURN_IF_ERROR(comm->AllReduce(x.data(), count, ReduceOp::kAvg));
    for (size_t i = 0; i < count; ++i) EXPECT_EQ(x[i], RefAvg(n(), i)) << "rank " << r << " element " << i;
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, IAllReduceCompletesAtWaitAndSeveralCanBeInFlight) {
  InProcessWorld world(n());
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    std::vector<float> a = Vals(r, 5), b = Vals(r, 9, 100);
    MERIDIAN_ASSIGN_OR_RETURN(auto ra, comm->IAllReduce(a.data(), a.size(), ReduceOp::kSum));
    MERIDIAN_ASSIGN_OR_RETURN(auto rb, comm->IAllReduce(b.data(), b.size(), ReduceOp::kAvg));
    // A blocking collective between post and wait, then the waits in reverse.
    MERIDIAN_RETURN_IF_ERROR(comm->Barrier());
    MERIDIAN_RETURN_IF_ERROR(rb->Wait());
    MERIDIAN_RETURN_IF_ERROR(ra->Wait());
    EXPECT_TRUE(ra->Test());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], RefSum(n(), i));
    for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b[i], RefAvg(n(), 100 + i));
    // Test() drives a request to completion without Wait().
    std::vector<float> c = Vals(r, 3);
    MERIDIAN_ASSIGN_OR_RETURN(auto rc, comm->IAllReduce(c.data(), c.size(), ReduceOp::kSum));
    while (!rc->Test()) std::this_thread::yield();
    for (size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i], RefSum(n(), i));
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, IAllReduceRangesReducesOnlyTheRanges) {
  InProcessWorld world(n());
  const std::vector<BufferRange> ranges = {{2, 3}, {10, 4}, {15, 5}};
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    std::vector<float> x = Vals(r, 21);
    MERIDIAN_ASSIGN_OR_RETURN(auto req, comm->IAllReduceRanges(x.data(), ranges, ReduceOp::kSum));
    MERIDIAN_RETURN_IF_ERROR(req->Wait());
    for (size_t i = 0; i < x.size(); ++i) {
      bool in_range = false;
      for (const BufferRange& br : ranges) in_range |= i >= br.offset && i < br.offset + br.count;
      EXPECT_EQ(x[i], in_range ? RefSum(n(), i) : Val(r, i)) << "rank " << r << " element " << i;
    }
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, AllReduceDoubleSumsInDouble) {
  InProcessWorld world(n());
  auto val = [](int r, size_t i) { return (r % 2 ? -1e16 : 1e16) * (r + 1) + 0.1 * (double)i + r; };
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg}) {
      std::vector<double> x(6);
      for (size_t i = 0; i < x.size(); ++i) x[i] = val(r, i);
      MERIDIAN_RETURN_IF_ERROR(comm->AllReduceDouble(x.data(), x.size(), op));
      for (size_t i = 0; i < x.size(); ++i) {
        double ref = 0.0;
        for (int k = 0; k < n(); ++k) ref += val(k, i);
        if (op == ReduceOp::kAvg) ref /= n();
        EXPECT_EQ(x[i], ref) << "rank " << r << " element " << i;
      }
    }
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, ReduceScatterWithUnequalCounts) {
  InProcessWorld world(n());
  const std::vector<size_t> all_counts = {2, 0, 5, 1};  // rank 1 receives nothing
  const std::vector<size_t> counts(all_counts.begin(), all_counts.begin() + n());
  const size_t total = std::accumulate(counts.begin(), counts.end(), size_t{0});
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    const std::vector<float> send = Vals(r, total);
    size_t offset = 0;
    for (int k = 0; k < r; ++k) offset += counts[k];
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAvg}) {
      std::vector<float> recv(counts[r] + 1, -7.0f);  // one more, to see nothing is written past counts[r]
      MERIDIAN_RETURN_IF_ERROR(comm->ReduceScatter(send.data(), recv.data(), counts, op));
      for (size_t i = 0; i < counts[r]; ++i)
        EXPECT_EQ(recv[i], op == ReduceOp::kSum ? RefSum(n(), offset + i) : RefAvg(n(), offset + i));
      EXPECT_EQ(recv.back(), -7.0f);
    }
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, AllGatherWithUnequalCountsAndInPlace) {
  InProcessWorld world(n());
  const std::vector<size_t> all_counts = {3, 1, 0, 4};
  const std::vector<size_t> counts(all_counts.begin(), all_counts.begin() + n());
  const size_t total = std::accumulate(counts.begin(), counts.end(), size_t{0});
  std::vector<float> expected;
  for (int r = 0; r < n(); ++r)
    for (float v : Vals(r, counts[r])) expected.push_back(v);
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    const std::vector<float> mine = Vals(r, counts[r]);
    std::vector<float> all(total, -1.0f);
    MERIDIAN_RETURN_IF_ERROR(comm->AllGather(mine.data(), all.data(), counts));
    EXPECT_EQ(all, expected) << "rank " << r;
    // In place: this rank's slot of the output is the input.
    size_t offset = 0;
    for (int k = 0; k < r; ++k) offset += counts[k];
    std::vector<float> inplace(total, 0.0f);
    std::copy(mine.begin(), mine.end(), inplace.begin() + offset);
    MERIDIAN_RETURN_IF_ERROR(comm->AllGather(inplace.data() + offset, inplace.data(), counts));
    EXPECT_EQ(inplace, expected) << "rank " << r;
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, AllGatherBytes) {
  InProcessWorld world(n());
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    const char mine[3] = {(char)('a' + r), (char)('A' + r), (char)r};
    std::vector<char> all(3 * n(), '?');
    MERIDIAN_RETURN_IF_ERROR(comm->AllGatherBytes(mine, all.data(), 3));
    for (int k = 0; k < n(); ++k) {
      EXPECT_EQ(all[3 * k], 'a' + k);
      EXPECT_EQ(all[3 * k + 1], 'A' + k);
      EXPECT_EQ(all[3 * k + 2], (char)k);
    }
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, BroadcastFromEveryRoot) {
  InProcessWorld world(n());
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    for (int root = n() - 1; root >= 0; --root) {  // the last rank first: a non-zero root where n > 1
      std::vector<float> x = r == root ? Vals(root, 11) : std::vector<float>(11, -1.0f);
      MERIDIAN_RETURN_IF_ERROR(comm->Broadcast(x.data(), x.size(), root));
      EXPECT_EQ(x, Vals(root, 11)) << "rank " << r << " root " << root;
    }
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, BarrierHoldsEveryRankUntilAllArrive) {
  InProcessWorld world(n());
  std::vector<std::atomic<int>> arrived(5);
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    for (int round = 0; round < 5; ++round) {
      if (r == 0) std::this_thread::sleep_for(milliseconds(2));  // the last to arrive, usually
      arrived[round]++;
      MERIDIAN_RETURN_IF_ERROR(comm->Barrier());
      EXPECT_EQ(arrived[round].load(), n()) << "rank " << r << " round " << round;
    }
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, SendRecvRing) {
  InProcessWorld world(n());  // with one rank the ring sends to itself, which buffered sends allow
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    const int right = (r + 1) % n(), left = (r + n() - 1) % n();
    // Blocking sends first everywhere: buffered, so the ring does not deadlock.
    MERIDIAN_RETURN_IF_ERROR(comm->Send(Vals(r, 4).data(), 4, right, 5));
    std::vector<float> in(4);
    MERIDIAN_RETURN_IF_ERROR(comm->Recv(in.data(), 4, left, 5));
    EXPECT_EQ(in, Vals(left, 4)) << "rank " << r;
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, ISendIRecvPostedBeforeAnyWait) {
  InProcessWorld world(n());
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    const int right = (r + 1) % n(), left = (r + n() - 1) % n();
    // Pipeline fashion: activations to the right, gradients to the left,
    // every operation posted before any is waited on.
    const std::vector<float> act = Vals(r, 6), grad = Vals(r, 2, 50);
    std::vector<float> act_in(6), grad_in(2);
    MERIDIAN_ASSIGN_OR_RETURN(auto a, comm->ISend(act.data(), act.size(), right, 1));
    MERIDIAN_ASSIGN_OR_RETURN(auto b, comm->IRecv(act_in.data(), act_in.size(), left, 1));
    MERIDIAN_ASSIGN_OR_RETURN(auto c, comm->IRecv(grad_in.data(), grad_in.size(), right, 2));
    MERIDIAN_ASSIGN_OR_RETURN(auto d, comm->ISend(grad.data(), grad.size(), left, 2));
    MERIDIAN_RETURN_IF_ERROR(c->Wait());
    MERIDIAN_RETURN_IF_ERROR(b->Wait());
    MERIDIAN_RETURN_IF_ERROR(a->Wait());
    MERIDIAN_RETURN_IF_ERROR(d->Wait());
    EXPECT_EQ(act_in, Vals(left, 6)) << "rank " << r;
    EXPECT_EQ(grad_in, Vals(right, 2, 50)) << "rank " << r;
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, MessagesWithOneTagArriveInOrderWhateverTheWaitOrder) {
  InProcessWorld world(n());
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    const int right = (r + 1) % n(), left = (r + n() - 1) % n();
    float in[3] = {-1, -1, -1}, other = -1;
    MERIDIAN_ASSIGN_OR_RETURN(auto q0, comm->IRecv(&in[0], 1, left, 7));
    MERIDIAN_ASSIGN_OR_RETURN(auto q1, comm->IRecv(&in[1], 1, left, 7));
    MERIDIAN_ASSIGN_OR_RETURN(auto q2, comm->IRecv(&in[2], 1, left, 7));
    MERIDIAN_ASSIGN_OR_RETURN(auto q3, comm->IRecv(&other, 1, left, 8));
    // Tag 8 first: tags are separate queues.
    const float v8 = 800.0f + r;
    MERIDIAN_RETURN_IF_ERROR(comm->Send(&v8, 1, right, 8));
    for (int k = 0; k < 3; ++k) {
      const float v = 10.0f * r + k;
      MERIDIAN_RETURN_IF_ERROR(comm->Send(&v, 1, right, 7));
    }
    MERIDIAN_RETURN_IF_ERROR(q2->Wait());  // the third posted receive takes the third message
    MERIDIAN_RETURN_IF_ERROR(q0->Wait());
    MERIDIAN_RETURN_IF_ERROR(q3->Wait());
    while (!q1->Test()) std::this_thread::yield();
    for (int k = 0; k < 3; ++k) EXPECT_EQ(in[k], 10.0f * left + k) << "rank " << r;
    EXPECT_EQ(other, 800.0f + left);
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, SplitIntoTwoGroupsUsedConcurrently) {
  InProcessWorld world(n());
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    // Colors by parity; keys reversed, so group order is the reverse of world order.
    const int color = r % 2;
    MERIDIAN_ASSIGN_OR_RETURN(auto sub, comm->Split(color, -r, color ? "odd" : "even"));
    std::vector<int> members;
    for (int k = n() - 1; k >= 0; --k)
      if (k % 2 == color) members.push_back(k);
    EXPECT_EQ(sub->name(), color ? "odd" : "even");
    EXPECT_EQ(sub->size(), (int)members.size());
    EXPECT_EQ(sub->world_ranks(), members);
    EXPECT_EQ(sub->world_ranks()[sub->rank()], r);

    // A sum in group rank order, so in descending world rank.
    std::vector<float> x = Vals(r, 8);
    MERIDIAN_RETURN_IF_ERROR(sub->AllReduce(x.data(), x.size(), ReduceOp::kSum));
    for (size_t i = 0; i < x.size(); ++i) {
      float ref = 0.0f;
      for (int m : members) ref += Val(m, i);
      EXPECT_EQ(x[i], ref) << "rank " << r << " element " << i;
    }
    // Broadcast from the group's last rank, and a ring inside the group.
    const int root = sub->size() - 1;
    std::vector<float> b = sub->rank() == root ? Vals(r, 3) : std::vector<float>(3);
    MERIDIAN_RETURN_IF_ERROR(sub->Broadcast(b.data(), b.size(), root));
    EXPECT_EQ(b, Vals(members[root], 3));
    const int right = (sub->rank() + 1) % sub->size(), left = (sub->rank() + sub->size() - 1) % sub->size();
    const float out = (float)r;
    float in = -1.0f;
    MERIDIAN_RETURN_IF_ERROR(sub->Send(&out, 1, right, 0));
    MERIDIAN_RETURN_IF_ERROR(sub->Recv(&in, 1, left, 0));
    EXPECT_EQ(in, (float)members[left]);

    // The parent still works, and its messages do not mix with the group's.
    float one = 1.0f;
    MERIDIAN_RETURN_IF_ERROR(comm->AllReduce(&one, 1, ReduceOp::kSum));
    EXPECT_EQ(one, (float)n());

    // A split of the split: everyone alone.
    MERIDIAN_ASSIGN_OR_RETURN(auto single, sub->Split(sub->rank(), 0, "single"));
    EXPECT_EQ(single->size(), 1);
    EXPECT_EQ(single->world_ranks(), std::vector<int>{r});
    float y = 5.0f;
    MERIDIAN_RETURN_IF_ERROR(single->AllReduce(&y, 1, ReduceOp::kAvg));
    EXPECT_EQ(y, 5.0f);
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(InProcessRanks, MismatchedCountsAreAnErrorOnEveryRank) {
  if (n() < 2) GTEST_SKIP() << "needs two ranks to disagree";
  InProcessWorld world(n());
  std::vector<Status> got(n());
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    std::vector<float> x(3 + r);
    got[r] = comm->AllReduce(x.data(), x.size(), ReduceOp::kSum);
    return got[r];
  });
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  for (int r = 0; r < n(); ++r) {
    EXPECT_EQ(got[r].code(), Status::Code::kInvalidArgument) << got[r].ToString();
    EXPECT_NE(got[r].message().find("mismatched"), std::string::npos) << got[r].message();
    EXPECT_NE(got[r].message().find("group world"), std::string::npos) << got[r].message();
    EXPECT_NE(got[r].message().find("all-reduce (sum) of 4 floats"), std::string::npos) << got[r].message();
  }
}

TEST_P(InProcessRanks, DifferentCollectivesAreAnError) {
  if (n() < 2) GTEST_SKIP() << "needs two ranks to disagree";
  InProcessWorld world(n());
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    if (r == 0) return comm->Barrier();
    float x = 0;
    return comm->Broadcast(&x, 1, 0);
  });
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("called barrier"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("called broadcast"), std::string::npos) << s.message();
}

TEST(InProcessCommunicator, ARankThatReturnsEarlyFailsItsPeersAtOnce) {
  InProcessWorld world(2);  // the default 30 s timeout: this must not wait for it
  const auto start = std::chrono::steady_clock::now();
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    if (r == 1) return Status::OK();  // the bug: rank 1 skips the all-reduce
    float x = 1;
    return comm->AllReduce(&x, 1, ReduceOp::kSum);
  });
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("rank 0: all-reduce"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("world rank 1 returned without joining"), std::string::npos) << s.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(InProcessCommunicator, RunRanksReturnsTheFirstFailureAndWakesThePeers) {
  InProcessWorld world(3);
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    if (r == 2) return Status::NotFound("no such shard");
    float x = 0;
    if (r == 1) return comm->Recv(&x, 1, 2, 0);  // never sent
    return comm->AllReduce(&x, 1, ReduceOp::kSum);
  });
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  EXPECT_EQ(s.message(), "rank 2: no such shard");
}

TEST(InProcessCommunicator, AnExceptionIsAFailure) {
  InProcessWorld world(2);
  Status s = RunRanks(world, [&](int r, Communicator*) -> Status {
    if (r == 1) throw std::runtime_error("boom");
    return Status::OK();
  });
  EXPECT_EQ(s.code(), Status::Code::kInternal);
  EXPECT_NE(s.message().find("rank 1: exception: boom"), std::string::npos) << s.message();
}

TEST(InProcessCommunicator, AWaitGivesUpAfterTheTimeoutNamingOpAndGroup) {
  // Outside RunRanks nothing says that rank 1 will never come: only the timeout.
  InProcessWorld world(2, milliseconds(200));
  Status s;
  std::thread t([&] {
    float x = 1;
    s = world.rank(0)->AllReduce(&x, 1, ReduceOp::kSum);
  });
  t.join();
  EXPECT_EQ(s.code(), Status::Code::kDeadlineExceeded) << s.ToString();
  EXPECT_NE(s.message().find("all-reduce (sum) of 1 floats on group world (world ranks 0 1)"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("waiting for world rank(s) 1"), std::string::npos) << s.message();

  float y = 0;
  s = world.rank(1)->Recv(&y, 1, 0, 3);
  EXPECT_EQ(s.code(), Status::Code::kDeadlineExceeded) << s.ToString();
  EXPECT_NE(s.message().find("receive of 1 floats (tag 3) on group world"), std::string::npos) << s.message();
}

TEST(InProcessCommunicator, BadArgumentsAreErrors) {
  InProcessWorld world(2);
  Communicator* c = world.rank(0);
  float x[4] = {};
  EXPECT_EQ(c->Send(x, 1, 2, 0).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(c->Send(x, 1, -1, 0).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(c->Recv(x, 1, 1, -5).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(c->Broadcast(x, 1, 2).code(), Status::Code::kInvalidArgument);
  Status s = c->AllGather(x, x, {1, 1, 1});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("counts has 3 entries, group has 2"), std::string::npos) << s.message();
  EXPECT_EQ(c->ReduceScatter(x, x, {1}, ReduceOp::kSum).code(), Status::Code::kInvalidArgument);
}

TEST(InProcessCommunicator, AMessageOfAnotherSizeIsAnError) {
  InProcessWorld world(2);
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    float x[3] = {1, 2, 3};
    if (r == 0) return comm->Send(x, 3, 1, 0);
    return comm->Recv(x, 2, 0, 0);
  });
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("the message has 3 floats"), std::string::npos) << s.message();
}

TEST(InProcessCommunicator, NegativeSplitColorIsAnErrorOnEveryRank) {
  InProcessWorld world(2);
  std::vector<Status> got(2);
  Status s = RunRanks(world, [&](int r, Communicator* comm) -> Status {
    got[r] = comm->Split(r == 1 ? -1 : 0, 0, "bad").status();
    return got[r];
  });
  for (const Status& g : got) EXPECT_EQ(g.code(), Status::Code::kInvalidArgument) << g.ToString();
}

TEST(InProcessCommunicator, AnAbandonedRequestDoesNotBlockOrWrite) {
  InProcessWorld world(2);
  Status s = RunRanks(world, [&](int, Communicator* comm) -> Status {
    std::vector<float> x(4, 1.0f);
    {
      MERIDIAN_ASSIGN_OR_RETURN(auto req, comm->IAllReduce(x.data(), x.size(), ReduceOp::kSum));
    }  // destroyed unwaited
    EXPECT_EQ(x, std::vector<float>(4, 1.0f));
    float y = 1;
    MERIDIAN_RETURN_IF_ERROR(comm->AllReduce(&y, 1, ReduceOp::kSum));
    EXPECT_EQ(y, 2.0f);
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

}  // namespace
}  // namespace meridian
