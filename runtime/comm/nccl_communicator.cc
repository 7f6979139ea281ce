#include "runtime/comm/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <thread>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/stream.h"
#include "runtime/comm/watchdog.h"

namespace meridian {

namespace {

Status NcclStatus(ncclResult_t result, const char* file, int line, const char* call) {
  if (result == ncclSuccess) return Status::OK();
  // NCCL's own text for its latest failure (the argument is unused), which
  // often names the peer or the transport that failed.
  const char* detail = ncclGetLastError(nullptr);
  std::string msg = std::string(file) + ":" + std::to_string(line) + ": " + call + ": NCCL error " +
                    std::to_string((int)result) + ": " + ncclGetErrorString(result);
  if (detail != nullptr && detail[0] != '\0') msg += " (" + std::string(detail) + ")";
  return Status::Internal(msg);
}

// Every NCCL call is checked; a failure names the call, its file and line.
#define MERIDIAN_NCCL_CHECK(expr) MERIDIAN_RETURN_IF_ERROR(NcclStatus((expr), __FILE__, __LINE__, #expr))

ncclRedOp_t ToNccl(ReduceOp op) { return op == ReduceOp::kAvg ? ncclAvg : ncclSum; }

// One NCCL communicator and the stream its operations run on. Shared with
// the requests in flight on it, so a request never outlives its stream.
class NcclChannel {
 public:
  // Collective over the group; `what` names it for the watchdog.
  static Result<std::shared_ptr<NcclChannel>> Create(const ncclUniqueId& id, int size, int rank,
                                                     const std::string& what) {
    std::shared_ptr<NcclChannel> ch(new NcclChannel());
    MERIDIAN_CUDA_CHECK(cudaStreamCreateWithFlags(&ch->stream_, cudaStreamNonBlocking));
    MERIDIAN_CUDA_CHECK(cudaEventCreateWithFlags(&ch->ready_, cudaEventDisableTiming));
    WatchScope scope(what);
    const ncclResult_t init = ncclCommInitRank(&ch->comm_, size, id, rank);
    // A communicator left behind by a failed initialisation is aborted, not
    // destroyed: destroying waits for work it will never finish.
    if (init != ncclSuccess) ch->failed_ = true;
    MERIDIAN_NCCL_CHECK(init);
    return ch;
  }

  ~NcclChannel() {
    // After an asynchronous error the communicator may never drain: abort
    // it rather than wait in ncclCommDestroy.
    if (comm_ != nullptr) (void)(failed_ ? ncclCommAbort(comm_) : ncclCommDestroy(comm_));
    if (ready_ != nullptr) (void)cudaEventDestroy(ready_);
    if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
  }
  NcclChannel(const NcclChannel&) = delete;
  NcclChannel& operator=(const NcclChannel&) = delete;

  ncclComm_t comm() const { return comm_; }
  cudaStream_t stream() const { return stream_; }
  void MarkFailed() { failed_ = true; }

  // Makes this channel's stream wait for everything queued on the compute
  // stream so far, so the operation sees what the kernels produced. One
  // event suffices: cudaStreamWaitEvent captures the record current at the
  // call.
  Status OrderAfterCompute() {
    MERIDIAN_CUDA_CHECK(cudaEventRecord(ready_, cuda::ComputeStream()));
    MERIDIAN_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready_, 0));
    return Status::OK();
  }

 private:
  NcclChannel() = default;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t ready_ = nullptr;
  bool failed_ = false;
};

// Blocks until `done` has completed, under the watchdog. Polls rather than
// cudaEventSynchronize so that an asynchronous NCCL error (a peer that died,
// a network failure) comes back as a Status instead of a hang. Then makes
// the compute stream wait for `done` as well, so kernels launched later are
// ordered after the communication on the device too.
Status AwaitDone(cudaEvent_t done, NcclChannel& ch, const std::string& what) {
  {
    WatchScope scope(what);
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      const cudaError_t q = cudaEventQuery(done);
      if (q == cudaSuccess) break;
      if (q != cudaErrorNotReady) return cuda::CudaStatus(q, __FILE__, __LINE__).WithContext(what);
      ncclResult_t async = ncclSuccess;
      MERIDIAN_NCCL_CHECK(ncclCommGetAsyncError(ch.comm(), &async));
      if (async != ncclSuccess && async != ncclInProgress) {
        ch.MarkFailed();
        return NcclStatus(async, __FILE__, __LINE__, "asynchronous NCCL error").WithContext(what);
      }
      // Small operations finish within microseconds: yield at first, then
      // back off so a long wait does not burn a core the other ranks need.
      if (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2)) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
  }
  MERIDIAN_CUDA_CHECK(cudaStreamWaitEvent(cuda::ComputeStream(), done, 0));
  return Status::OK();
}

// An operation queued on a channel's stream, complete when its event is.
class NcclRequest : public CommRequest {
 public:
  NcclRequest(std::shared_ptr<NcclChannel> channel, cudaEvent_t done, std::string what)
      : channel_(std::move(channel)), done_event_(done), what_(std::move(what)) {}
  ~NcclRequest() override {
    if (!finished_) (void)Wait();
    (void)cudaEventDestroy(done_event_);
  }
  NcclRequest(const NcclRequest&) = delete;
  NcclRequest& operator=(const NcclRequest&) = delete;

  Status Wait() override {
    if (finished_) return Status::OK();
    // Finished even on error: a failed operation is not waited on twice
    // (the destructor would otherwise wait on a broken communicator).
    finished_ = true;
    return AwaitDone(done_event_, *channel_, what_);
  }

  bool Test() override {
    if (finished_) return true;
    if (cudaEventQuery(done_event_) != cudaSuccess) return false;  // errors surface in Wait()
    finished_ = true;
    (void)cudaStreamWaitEvent(cuda::ComputeStream(), done_event_, 0);
    return true;
  }

 private:
  std::shared_ptr<NcclChannel> channel_;
  cudaEvent_t done_event_;
  std::string what_;
  bool finished_ = false;
};

// Runs `calls` between ncclGroupStart and ncclGroupEnd. The group is closed
// even when a call fails: an open group would swallow every later call.
Status InGroup(const std::function<Status()>& calls) {
  MERIDIAN_NCCL_CHECK(ncclGroupStart());
  const Status s = calls();
  const ncclResult_t end = ncclGroupEnd();
  if (!s.ok()) return s;
  return NcclStatus(end, __FILE__, __LINE__, "ncclGroupEnd()");
}

using Enqueue = std::function<Status(ncclComm_t, cudaStream_t)>;

// Whether [a, a + na) and [b, b + nb) share an element.
bool Overlap(const float* a, size_t na, const float* b, size_t nb) {
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return na > 0 && nb > 0 && pa < pb + nb * sizeof(float) && pb < pa + na * sizeof(float);
}

class NcclCommunicator : public Communicator {
 public:
  static Result<std::unique_ptr<Communicator>> Create(std::unique_ptr<Communicator> host);

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  const std::string& name() const override { return host_->name(); }
  const std::vector<int>& world_ranks() const override { return host_->world_ranks(); }

  Status AllReduce(float* data, size_t count, ReduceOp op) override;
  Result<std::unique_ptr<CommRequest>> IAllReduce(float* data, size_t count, ReduceOp op) override;
  Result<std::unique_ptr<CommRequest>> IAllReduceRanges(float* base, const std::vector<BufferRange>& ranges,
                                                        ReduceOp op) override;
  Status AllReduceDouble(double* data, size_t count, ReduceOp op) override {
    return host_->AllReduceDouble(data, count, op);
  }
  Status ReduceScatter(const float* send, float* recv, const std::vector<size_t>& counts, ReduceOp op) override;
  Status AllGather(const float* send, float* recv, const std::vector<size_t>& counts) override;
  Status AllGatherBytes(const void* send, void* recv, size_t bytes_per_rank) override {
    return host_->AllGatherBytes(send, recv, bytes_per_rank);
  }
  Result<std::unique_ptr<CommRequest>> IAllGatherBytes(const void* send, void* recv,
                                                       size_t bytes_per_rank) override {
    return host_->IAllGatherBytes(send, recv, bytes_per_rank);
  }
  Status Broadcast(float* data, size_t count, int root) override;
  Result<std::unique_ptr<CommRequest>> ISend(const float* data, size_t count, int peer, int tag) override;
  Result<std::unique_ptr<CommRequest>> IRecv(float* data, size_t count, int peer, int tag) override;
  Status Barrier() override { return host_->Barrier(); }
  Result<std::unique_ptr<Communicator>> Split(int color, int key, const std::string& name) override;

 private:
  explicit NcclCommunicator(std::unique_ptr<Communicator> host) : host_(std::move(host)) {}

  std::string Describe(const std::string& op, int peer = -1) const;
  // Orders `channel` after the compute stream, enqueues the operation and
  // records its completion event.
  Result<std::unique_ptr<NcclRequest>> Launch(const std::shared_ptr<NcclChannel>& channel, const std::string& what,
                                              const Enqueue& enqueue);
  Status CheckCounts(const std::vector<size_t>& counts, const std::string& what) const;
  Status CheckPeer(int peer, const std::string& what) const;

  // Declared first, destroyed last; the channels go in a fixed order
  // (down, up, collectives) on every rank, since destroying a communicator
  // may synchronise with the peers.
  std::unique_ptr<Communicator> host_;
  std::shared_ptr<NcclChannel> collectives_;
  // Sends to higher ranks and receives from lower ranks ("upward" traffic).
  std::shared_ptr<NcclChannel> up_;
  // Sends to lower ranks and receives from higher ranks.
  std::shared_ptr<NcclChannel> down_;
};

Result<std::unique_ptr<Communicator>> NcclCommunicator::Create(std::unique_ptr<Communicator> host) {
  // Checked before any communication, so every rank fails alike.
  if (cuda::CurrentDevice() < 0) {
    return Status::FailedPrecondition("NCCL communicator over group " + host->name() +
                                      ": no CUDA device selected on this rank (call cuda::InitializeDevice first)");
  }
  const int n = host->size(), r = host->rank();
  // Point-to-point channels only where there are peers.
  const int channels = n > 1 ? 3 : 1;
  // Rank 0's payload: an ok byte, then one unique id per channel. Rank 0
  // takes part in the exchange even when it failed to make the ids, so the
  // others get an error instead of waiting for it.
  const size_t bytes = 1 + (size_t)channels * NCCL_UNIQUE_ID_BYTES;
  std::vector<char> mine(bytes, 0), all(bytes * n, 0);
  Status id_status;
  if (r == 0) {
    for (int c = 0; c < channels && id_status.ok(); ++c) {
      ncclUniqueId id;
      id_status = NcclStatus(ncclGetUniqueId(&id), __FILE__, __LINE__, "ncclGetUniqueId(&id)");
      std::memcpy(mine.data() + 1 + (size_t)c * NCCL_UNIQUE_ID_BYTES, &id, NCCL_UNIQUE_ID_BYTES);
    }
    mine[0] = id_status.ok() ? 1 : 0;
  }
  MERIDIAN_RETURN_IF_ERROR(host->AllGatherBytes(mine.data(), all.data(), bytes));
  if (!id_status.ok()) return id_status.WithContext("NCCL communicator over group " + host->name());
  if (all[0] != 1) {
    return Status::Internal("NCCL communicator over group " + host->name() +
                            ": group rank 0 could not create the NCCL unique ids");
  }
  std::unique_ptr<NcclCommunicator> nc(new NcclCommunicator(std::move(host)));
  std::shared_ptr<NcclChannel>* slots[3] = {&nc->collectives_, &nc->up_, &nc->down_};
  const char* roles[3] = {"collectives", "upward point-to-point", "downward point-to-point"};
  for (int c = 0; c < channels; ++c) {
    ncclUniqueId id;
    std::memcpy(&id, all.data() + 1 + (size_t)c * NCCL_UNIQUE_ID_BYTES, NCCL_UNIQUE_ID_BYTES);
    const std::string what = nc->Describe(std::string("communicator initialisation (") + roles[c] + ")");
    auto channel = NcclChannel::Create(id, n, r, what);
    if (!channel.ok()) return channel.status().WithContext(what);
    *slots[c] = std::move(channel).value();
  }
  return std::unique_ptr<Communicator>(std::move(nc));
}

std::string NcclCommunicator::Describe(const std::string& op, int peer) const {
  std::ostringstream os;
  os << "NCCL " << op << " on group " << name() << " (world ranks";
  for (int w : world_ranks()) os << " " << w;
  os << ")";
  if (peer >= 0 && peer < size()) os << " with peer world rank " << world_ranks()[peer];
  return os.str();
}

Result<std::unique_ptr<NcclRequest>> NcclCommunicator::Launch(const std::shared_ptr<NcclChannel>& channel,
                                                              const std::string& what, const Enqueue& enqueue) {
  cudaEvent_t done = nullptr;
  MERIDIAN_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  // Owns the event from here on; an event never recorded counts as complete.
  auto request = std::make_unique<NcclRequest>(channel, done, what);
  MERIDIAN_RETURN_IF_ERROR(channel->OrderAfterCompute());
  const Status enqueued = enqueue(channel->comm(), channel->stream());
  if (!enqueued.ok()) return enqueued.WithContext(what);
  MERIDIAN_CUDA_CHECK(cudaEventRecord(done, channel->stream()));
  return request;
}

Status NcclCommunicator::CheckCounts(const std::vector<size_t>& counts, const std::string& what) const {
  if ((int)counts.size() != size()) {
    return Status::InvalidArgument(what + ": counts has " + std::to_string(counts.size()) + " entries, group has " +
                                   std::to_string(size()));
  }
  return Status::OK();
}

Status NcclCommunicator::CheckPeer(int peer, const std::string& what) const {
  if (peer < 0 || peer >= size()) return Status::InvalidArgument(what + ": no such peer " + std::to_string(peer));
  if (peer == rank()) {
    return Status::InvalidArgument(what + ": peer " + std::to_string(peer) +
                                   " is this rank; NCCL point-to-point needs another rank");
  }
  return Status::OK();
}

Status NcclCommunicator::AllReduce(float* data, size_t count, ReduceOp op) {
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<CommRequest> req, IAllReduce(data, count, op));
  return req->Wait();
}

Result<std::unique_ptr<CommRequest>> NcclCommunicator::IAllReduce(float* data, size_t count, ReduceOp op) {
  const std::string what = Describe("all-reduce of " + std::to_string(count) + " floats");
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<NcclRequest> req,
                            Launch(collectives_, what, [&](ncclComm_t comm, cudaStream_t stream) {
                              if (count == 0) return Status::OK();  // same on every rank
                              MERIDIAN_NCCL_CHECK(
                                  ncclAllReduce(data, data, count, ncclFloat32, ToNccl(op), comm, stream));
                              return Status::OK();
                            }));
  return std::unique_ptr<CommRequest>(std::move(req));
}

Result<std::unique_ptr<CommRequest>> NcclCommunicator::IAllReduceRanges(float* base,
                                                                        const std::vector<BufferRange>& ranges,
                                                                        ReduceOp op) {
  size_t total = 0;
  for (const BufferRange& r : ranges) total += r.count;
  const std::string what = Describe("all-reduce of " + std::to_string(ranges.size()) + " ranges, " +
                                    std::to_string(total) + " floats");
  // In place, one all-reduce per range, launched together as one group.
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<NcclRequest> req,
                            Launch(collectives_, what, [&](ncclComm_t comm, cudaStream_t stream) {
                              return InGroup([&]() -> Status {
                                for (const BufferRange& r : ranges) {
                                  if (r.count == 0) continue;
                                  float* p = base + r.offset;
                                  MERIDIAN_NCCL_CHECK(
                                      ncclAllReduce(p, p, r.count, ncclFloat32, ToNccl(op), comm, stream));
                                }
                                return Status::OK();
                              });
                            }));
  return std::unique_ptr<CommRequest>(std::move(req));
}

Status NcclCommunicator::ReduceScatter(const float* send, float* recv, const std::vector<size_t>& counts,
                                       ReduceOp op) {
  const std::string what = Describe("reduce-scatter");
  MERIDIAN_RETURN_IF_ERROR(CheckCounts(counts, what));
  bool equal = true;
  size_t total = 0, mine = 0;
  for (int i = 0; i < size(); ++i) {
    equal = equal && counts[i] == counts[0];
    if (i < rank()) mine += counts[i];
    total += counts[i];
  }
  // NCCL's in-place form, or no overlap at all: anything else would race.
  if (recv != send + mine && Overlap(send, total, recv, counts[rank()])) {
    return Status::InvalidArgument(what + ": recv overlaps send without being this rank's segment of it");
  }
  const int n = size(), me = rank();
  MERIDIAN_ASSIGN_OR_RETURN(
      std::unique_ptr<NcclRequest> req, Launch(collectives_, what, [&](ncclComm_t comm, cudaStream_t stream) {
        if (equal) {
          if (counts[0] == 0) return Status::OK();
          MERIDIAN_NCCL_CHECK(ncclReduceScatter(send, recv, counts[0], ncclFloat32, ToNccl(op), comm, stream));
          return Status::OK();
        }
        // Uneven: segment i reduced onto rank i. Non-roots pass no receive
        // buffer (NCCL reads recvbuff only on the root).
        return InGroup([&]() -> Status {
          size_t offset = 0;
          for (int i = 0; i < n; ++i) {
            if (counts[i] > 0) {
              MERIDIAN_NCCL_CHECK(ncclReduce(send + offset, i == me ? recv : nullptr, counts[i], ncclFloat32,
                                             ToNccl(op), i, comm, stream));
            }
            offset += counts[i];
          }
          return Status::OK();
        });
      }));
  return req->Wait();
}

Status NcclCommunicator::AllGather(const float* send, float* recv, const std::vector<size_t>& counts) {
  const std::string what = Describe("all-gather");
  MERIDIAN_RETURN_IF_ERROR(CheckCounts(counts, what));
  bool equal = true;
  size_t total = 0, mine = 0;
  for (int i = 0; i < size(); ++i) {
    equal = equal && counts[i] == counts[0];
    if (i < rank()) mine += counts[i];
    total += counts[i];
  }
  // NCCL's in-place form, or no overlap at all: anything else would race.
  if (send != recv + mine && Overlap(send, counts[rank()], recv, total)) {
    return Status::InvalidArgument(what + ": send overlaps recv without being this rank's slot of it");
  }
  const int n = size(), me = rank();
  MERIDIAN_ASSIGN_OR_RETURN(
      std::unique_ptr<NcclRequest> req, Launch(collectives_, what, [&](ncclComm_t comm, cudaStream_t stream) {
        if (equal) {
          if (counts[0] == 0) return Status::OK();
          MERIDIAN_NCCL_CHECK(ncclAllGather(send, recv, counts[0], ncclFloat32, comm, stream));
          return Status::OK();
        }
        // Uneven: rank i broadcasts its segment into slot i of everyone's
        // recv. Non-roots name their slot as the source too (NCCL reads
        // sendbuff only on the root), so nothing outside recv is touched.
        return InGroup([&]() -> Status {
          size_t offset = 0;
          for (int i = 0; i < n; ++i) {
            if (counts[i] > 0) {
              float* slot = recv + offset;
              const float* source = i == me ? send : slot;
              MERIDIAN_NCCL_CHECK(ncclBroadcast(source, slot, counts[i], ncclFloat32, i, comm, stream));
            }
            offset += counts[i];
          }
          return Status::OK();
        });
      }));
  return req->Wait();
}

Status NcclCommunicator::Broadcast(float* data, size_t count, int root) {
  const std::string what = Describe("broadcast of " + std::to_string(count) + " floats from group rank " +
                                    std::to_string(root));
  if (root < 0 || root >= size()) return Status::InvalidArgument(what + ": no such root");
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<NcclRequest> req,
                            Launch(collectives_, what, [&](ncclComm_t comm, cudaStream_t stream) {
                              if (count == 0) return Status::OK();
                              MERIDIAN_NCCL_CHECK(ncclBroadcast(data, data, count, ncclFloat32, root, comm, stream));
                              return Status::OK();
                            }));
  return req->Wait();
}

Result<std::unique_ptr<CommRequest>> NcclCommunicator::ISend(const float* data, size_t count, int peer, int tag) {
  const std::string what =
      Describe("send of " + std::to_string(count) + " floats (tag " + std::to_string(tag) + ", unused)", peer);
  MERIDIAN_RETURN_IF_ERROR(CheckPeer(peer, what));
  // Towards a higher rank the traffic flows up; its receiver, receiving
  // from a lower rank, picks the same channel.
  const std::shared_ptr<NcclChannel>& channel = peer > rank() ? up_ : down_;
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<NcclRequest> req,
                            Launch(channel, what, [&](ncclComm_t comm, cudaStream_t stream) {
                              if (count == 0) return Status::OK();  // the receiver's count is 0 too
                              MERIDIAN_NCCL_CHECK(ncclSend(data, count, ncclFloat32, peer, comm, stream));
                              return Status::OK();
                            }));
  return std::unique_ptr<CommRequest>(std::move(req));
}

Result<std::unique_ptr<CommRequest>> NcclCommunicator::IRecv(float* data, size_t count, int peer, int tag) {
  const std::string what =
      Describe("receive of " + std::to_string(count) + " floats (tag " + std::to_string(tag) + ", unused)", peer);
  MERIDIAN_RETURN_IF_ERROR(CheckPeer(peer, what));
  // From a lower rank the traffic flows up (the sender's "to a higher rank").
  const std::shared_ptr<NcclChannel>& channel = peer < rank() ? up_ : down_;
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<NcclRequest> req,
                            Launch(channel, what, [&](ncclComm_t comm, cudaStream_t stream) {
                              if (count == 0) return Status::OK();
                              MERIDIAN_NCCL_CHECK(ncclRecv(data, count, ncclFloat32, peer, comm, stream));
                              return Status::OK();
                            }));
  return std::unique_ptr<CommRequest>(std::move(req));
}

Result<std::unique_ptr<Communicator>> NcclCommunicator::Split(int color, int key, const std::string& name) {
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> host, host_->Split(color, key, name));
  return NcclCommunicator::Create(std::move(host));
}

}  // namespace

Result<std::unique_ptr<Communicator>> CreateNcclCommunicator(std::unique_ptr<Communicator> host_group) {
  if (host_group == nullptr) return Status::InvalidArgument("CreateNcclCommunicator: no host group");
  return NcclCommunicator::Create(std::move(host_group));
}

Result<int> PickLocalDevice() {
  const int count = cuda::DeviceCount();
  if (count == 0) {
    return Status::FailedPrecondition(
        "no CUDA device on this node (cudaGetDeviceCount found none, or no driver); the GPU path needs one device "
        "per rank");
  }
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) {
    const char* value = std::getenv(var);
    if (value == nullptr || value[0] == '\0') continue;
    char* end = nullptr;
    const long local = std::strtol(value, &end, 10);
    if (*end != '\0' || local < 0) {
      return Status::InvalidArgument(std::string("PickLocalDevice: ") + var + "=" + value +
                                     " is not a local rank");
    }
    return (int)(local % count);
  }
  return 0;
}

}  // namespace meridian
