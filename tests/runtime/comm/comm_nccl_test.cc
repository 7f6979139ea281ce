// Runs under mpirun (ctest labels "gpu" and "mpi"): every rank executes
// every test, one GPU per rank. Where a node has fewer CUDA devices than
// ranks (no GPU at all, or one GPU shared by two ranks, which NCCL refuses)
// every rank skips the device tests together.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/stream.h"
#include "runtime/comm/nccl_communicator.h"
#include "tests/common/mpi_test_main.h"

namespace meridian {
namespace {

using cuda::DeviceBuffer;

// Ranks of the world job on this rank's host, by comparing host names.
int RanksOnThisNode() {
  constexpr size_t kName = 256;
  std::vector<char> mine(kName, 0), all(kName * TestWorld()->size(), 0);
  gethostname(mine.data(), kName - 1);
  if (!TestWorld()->AllGatherBytes(mine.data(), all.data(), kName).ok()) return INT_MAX;
  int same = 0;
  for (int r = 0; r < TestWorld()->size(); ++r) {
    if (std::memcmp(all.data() + r * kName, mine.data(), kName) == 0) ++same;
  }
  return same;
}

// Uploads on the compute stream without waiting: the communicator must
// order its own stream after it.
DeviceBuffer<float> ToDevice(const std::vector<float>& host) {
  DeviceBuffer<float> d;
  EXPECT_TRUE(d.Allocate(std::max<size_t>(host.size(), 1)).ok());
  EXPECT_EQ(cudaMemcpyAsync(d.data(), host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice,
                            cuda::ComputeStream()),
            cudaSuccess);
  return d;
}

// Downloads on the compute stream, which the communicator made wait for
// the operation.
std::vector<float> ToHost(const float* device, size_t n) {
  std::vector<float> host(n);
  EXPECT_EQ(cudaMemcpyAsync(host.data(), device, n * sizeof(float), cudaMemcpyDeviceToHost, cuda::ComputeStream()),
            cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(cuda::ComputeStream()), cudaSuccess);
  return host;
}

class NcclCommunicatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Decided together: a rank that went ahead alone would wait forever in
    // ncclCommInitRank for the ones that skipped.
    const int local_ranks = RanksOnThisNode(), devices = cuda::DeviceCount();
    double short_nodes = devices < local_ranks ? 1.0 : 0.0;
    if (!TestWorld()->AllReduceDouble(&short_nodes, 1, ReduceOp::kSum).ok()) short_nodes = 1.0;
    if (short_nodes > 0) {
      skip_ = new std::string("needs one CUDA device per rank on every node; " +
                              std::to_string((int)short_nodes) + " rank(s) found fewer (this node: " +
                              std::to_string(local_ranks) + " ranks, " + std::to_string(devices) + " devices)");
      return;
    }
    setup_ = new Status(SetUpNccl());
  }

  static Status SetUpNccl() {
    MERIDIAN_ASSIGN_OR_RETURN(int device, PickLocalDevice());
    MERIDIAN_RETURN_IF_ERROR(cuda::InitializeDevice(device));
    MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> host,
                              TestWorld()->Split(0, TestWorld()->rank(), "nccl-world"));
    MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> nccl, CreateNcclCommunicator(std::move(host)));
    nccl_ = nccl.release();
    return Status::OK();
  }

  static void TearDownTestSuite() {
    // Before main finalises MPI.
    delete nccl_;
    nccl_ = nullptr;
  }

  void SetUp() override {
    if (skip_ != nullptr) GTEST_SKIP() << *skip_;
    ASSERT_NE(setup_, nullptr);
    ASSERT_TRUE(setup_->ok()) << setup_->ToString();
  }

  static Communicator* nccl() { return nccl_; }

  static inline std::string* skip_ = nullptr;
  static inline Status* setup_ = nullptr;
  static inline Communicator* nccl_ = nullptr;
};

TEST_F(NcclCommunicatorTest, AllReduceSumsAndAverages) {
  const int n = nccl()->size(), r = nccl()->rank();
  EXPECT_EQ(nccl()->world_ranks()[r], TestWorld()->rank());
  std::vector<float> x(1001);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (float)(r + 1) * (float)i;
  DeviceBuffer<float> dx = ToDevice(x);
  ASSERT_TRUE(nccl()->AllReduce(dx.data(), x.size(), ReduceOp::kSum).ok());
  const std::vector<float> sum = ToHost(dx.data(), x.size());
  const float factor = n * (n + 1) / 2.0f;
  for (size_t i = 0; i < x.size(); ++i) ASSERT_FLOAT_EQ(sum[i], factor * i) << "element " << i;

  std::vector<float> y(7, (float)r);
  DeviceBuffer<float> dy = ToDevice(y);
  auto req = nccl()->IAllReduce(dy.data(), y.size(), ReduceOp::kAvg);
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  ASSERT_TRUE((*req)->Wait().ok());
  EXPECT_TRUE((*req)->Test());
  for (float v : ToHost(dy.data(), y.size())) ASSERT_NEAR(v, (n - 1) / 2.0f, 1e-6f);

  double d[2] = {1.0 * r, 2.0};
  ASSERT_TRUE(nccl()->AllReduceDouble(d, 2, ReduceOp::kSum).ok());
  EXPECT_DOUBLE_EQ(d[0], n * (n - 1) / 2.0);
  EXPECT_DOUBLE_EQ(d[1], 2.0 * n);
}

TEST_F(NcclCommunicatorTest, AllReduceRangesLeavesTheRestOfTheBufferAlone) {
  const int n = nccl()->size(), r = nccl()->rank();
  std::vector<float> x(100);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (float)(r + 1) + 1000.0f * (float)i;
  const std::vector<BufferRange> ranges = {{5, 10}, {40, 1}, {99, 0}, {70, 20}};
  DeviceBuffer<float> dx = ToDevice(x);
  auto req = nccl()->IAllReduceRanges(dx.data(), ranges, ReduceOp::kSum);
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  ASSERT_TRUE((*req)->Wait().ok());
  const std::vector<float> got = ToHost(dx.data(), x.size());
  std::vector<bool> reduced(x.size(), false);
  for (const BufferRange& b : ranges)
    for (size_t i = b.offset; i < b.offset + b.count; ++i) reduced[i] = true;
  const float rank_sum = n * (n + 1) / 2.0f;
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = reduced[i] ? rank_sum + n * 1000.0f * (float)i : x[i];
    ASSERT_FLOAT_EQ(got[i], want) << "element " << i << (reduced[i] ? " (in a range)" : " (outside the ranges)");
  }
}

TEST_F(NcclCommunicatorTest, ReduceScatterAndAllGatherHandleUnevenAndEqualCounts) {
  const int n = nccl()->size(), r = nccl()->rank();
  for (bool uneven : {true, false}) {
    SCOPED_TRACE(uneven ? "uneven counts" : "equal counts");
    std::vector<size_t> counts(n);
    for (int i = 0; i < n; ++i) counts[i] = uneven ? 3 + 2 * i : 6;
    const size_t total = std::accumulate(counts.begin(), counts.end(), size_t{0});
    const size_t offset = std::accumulate(counts.begin(), counts.begin() + r, size_t{0});
    std::vector<float> send(total);
    for (size_t i = 0; i < total; ++i) send[i] = (float)i + r;
    DeviceBuffer<float> dsend = ToDevice(send), dmine;
    ASSERT_TRUE(dmine.Allocate(counts[r]).ok());
    ASSERT_TRUE(nccl()->ReduceScatter(dsend.data(), dmine.data(), counts, ReduceOp::kAvg).ok());
    const std::vector<float> mine = ToHost(dmine.data(), counts[r]);
    for (size_t i = 0; i < counts[r]; ++i) ASSERT_NEAR(mine[i], (float)(offset + i) + (n - 1) / 2.0f, 1e-4f);

    // In place: the receive buffer is this rank's segment of the send buffer.
    DeviceBuffer<float> dinplace = ToDevice(send);
    ASSERT_TRUE(
        nccl()->ReduceScatter(dinplace.data(), dinplace.data() + offset, counts, ReduceOp::kSum).ok());
    const std::vector<float> summed = ToHost(dinplace.data() + offset, counts[r]);
    for (size_t i = 0; i < counts[r]; ++i) ASSERT_FLOAT_EQ(summed[i], n * (float)(offset + i) + n * (n - 1) / 2.0f);

    std::vector<float> poison(total, -1.0f);
    DeviceBuffer<float> dall = ToDevice(poison);
    ASSERT_TRUE(nccl()->AllGather(dmine.data(), dall.data(), counts).ok());
    const std::vector<float> all = ToHost(dall.data(), total);
    for (size_t i = 0; i < total; ++i) ASSERT_NEAR(all[i], (float)i + (n - 1) / 2.0f, 1e-4f) << "element " << i;

    // In place: this rank's slot of the output is the input.
    std::vector<float> slotted(total, 0.0f);
    std::copy(mine.begin(), mine.end(), slotted.begin() + offset);
    DeviceBuffer<float> dslotted = ToDevice(slotted);
    ASSERT_TRUE(nccl()->AllGather(dslotted.data() + offset, dslotted.data(), counts).ok());
    EXPECT_EQ(ToHost(dslotted.data(), total), all);
  }
}

TEST_F(NcclCommunicatorTest, BroadcastFromEveryRoot) {
  const int n = nccl()->size(), r = nccl()->rank();
  for (int root = 0; root < n; ++root) {
    std::vector<float> b(5, r == root ? 42.0f + root : -1.0f);
    DeviceBuffer<float> db = ToDevice(b);
    ASSERT_TRUE(nccl()->Broadcast(db.data(), b.size(), root).ok());
    for (float v : ToHost(db.data(), b.size())) ASSERT_EQ(v, 42.0f + root) << "root " << root;
  }
}

TEST_F(NcclCommunicatorTest, SendAndReceiveBothWaysAtOnce) {
  const int n = nccl()->size(), r = nccl()->rank();
  DeviceBuffer<float> scratch;
  ASSERT_TRUE(scratch.Allocate(4).ok());
  EXPECT_EQ(nccl()->Send(scratch.data(), 4, r, 0).code(), Status::Code::kInvalidArgument);  // to itself
  EXPECT_EQ(nccl()->Send(scratch.data(), 4, n, 0).code(), Status::Code::kInvalidArgument);
  if (n < 2) return;  // no peer to exchange with

  // Ranks 0 and 1 exchange at once: each posts its send before its receive,
  // which only completes because the two directions run on separate
  // communicators and streams.
  constexpr size_t kCount = 1 << 16;
  if (r < 2) {
    const int peer = 1 - r;
    std::vector<float> out(kCount);
    for (size_t i = 0; i < kCount; ++i) out[i] = (float)(r * 1000000 + i);
    DeviceBuffer<float> dout = ToDevice(out), din;
    ASSERT_TRUE(din.Allocate(kCount).ok());
    auto send = nccl()->ISend(dout.data(), kCount, peer, 1);
    ASSERT_TRUE(send.ok()) << send.status().ToString();
    auto recv = nccl()->IRecv(din.data(), kCount, peer, 2);  // tags do not need to match
    ASSERT_TRUE(recv.ok()) << recv.status().ToString();
    ASSERT_TRUE((*recv)->Wait().ok());
    ASSERT_TRUE((*send)->Wait().ok());
    const std::vector<float> in = ToHost(din.data(), kCount);
    for (size_t i = 0; i < kCount; ++i) ASSERT_EQ(in[i], (float)(peer * 1000000 + i)) << "element " << i;
  }

  // A ring: receive from the left, blocking send to the right.
  std::vector<float> one = {(float)r};
  DeviceBuffer<float> dout = ToDevice(one), din;
  ASSERT_TRUE(din.Allocate(1).ok());
  auto rq = nccl()->IRecv(din.data(), 1, (r + n - 1) % n, 9);
  ASSERT_TRUE(rq.ok()) << rq.status().ToString();
  ASSERT_TRUE(nccl()->Send(dout.data(), 1, (r + 1) % n, 9).ok());
  ASSERT_TRUE((*rq)->Wait().ok());
  EXPECT_EQ(ToHost(din.data(), 1)[0], (float)((r + n - 1) % n));
}

TEST_F(NcclCommunicatorTest, SplitBuildsOneNcclGroupPerColor) {
  const int n = nccl()->size(), r = nccl()->rank();
  auto sub = nccl()->Split(r % 2, r, "parity");
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  EXPECT_EQ((*sub)->name(), "parity");
  EXPECT_EQ((*sub)->size(), (n + 1 - r % 2) / 2);
  EXPECT_EQ((*sub)->world_ranks()[(*sub)->rank()], TestWorld()->rank());
  const std::vector<float> host_one = {1.0f};
  DeviceBuffer<float> one = ToDevice(host_one);
  ASSERT_TRUE((*sub)->AllReduce(one.data(), 1, ReduceOp::kSum).ok());
  EXPECT_EQ(ToHost(one.data(), 1)[0], (float)(*sub)->size());
  double d = 1.0;
  ASSERT_TRUE((*sub)->AllReduceDouble(&d, 1, ReduceOp::kAvg).ok());
  EXPECT_DOUBLE_EQ(d, 1.0);
}

TEST_F(NcclCommunicatorTest, BadArgumentsAreErrorsNotHangs) {
  DeviceBuffer<float> buf;
  ASSERT_TRUE(buf.Allocate(16).ok());
  std::vector<size_t> wrong(nccl()->size() + 1, 1);
  Status s = nccl()->ReduceScatter(buf.data(), buf.data() + 8, wrong, ReduceOp::kSum);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("counts"), std::string::npos) << s.ToString();
  EXPECT_EQ(nccl()->AllGather(buf.data(), buf.data() + 8, wrong).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(nccl()->Broadcast(buf.data(), 4, nccl()->size()).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(nccl()->IRecv(buf.data(), 4, -1, 0).status().code(), Status::Code::kInvalidArgument);

  // Overlapping buffers other than NCCL's in-place forms would race.
  const int n = nccl()->size(), r = nccl()->rank();
  const std::vector<size_t> fours(n, 4);
  DeviceBuffer<float> big;
  ASSERT_TRUE(big.Allocate(4 * n + 8).ok());
  s = nccl()->ReduceScatter(big.data(), big.data() + 4 * r + 1, fours, ReduceOp::kSum);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  s = nccl()->AllGather(big.data() + 4 * r + 1, big.data(), fours);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
}

// These two need no device: they check the errors a CPU-only node gives.
TEST(NcclCommunicator, PickLocalDeviceFailsClearlyWithoutADevice) {
  if (cuda::DeviceCount() > 0) GTEST_SKIP() << "this node has a CUDA device";
  Result<int> device = PickLocalDevice();
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(device.status().message().find("no CUDA device"), std::string::npos) << device.status().ToString();
}

TEST(NcclCommunicator, CreatingOneWithoutASelectedDeviceIsAnError) {
  if (cuda::DeviceCount() > 0) GTEST_SKIP() << "this node has a CUDA device";
  auto host = TestWorld()->Split(0, TestWorld()->rank(), "no-device");
  ASSERT_TRUE(host.ok());
  auto nccl = CreateNcclCommunicator(std::move(host).value());
  ASSERT_FALSE(nccl.ok());
  EXPECT_EQ(nccl.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(nccl.status().message().find("InitializeDevice"), std::string::npos) << nccl.status().ToString();
}

}  // namespace
}  // namespace meridian
