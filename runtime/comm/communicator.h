// A group of ranks that exchange float32 buffers. The MPI implementation
// serves CPU buffers; a NCCL one serves device buffers behind the same
// interface. Nothing above runtime/comm talks to MPI or NCCL directly.
//
// Every blocking call is watched: if it has not completed within the
// watchdog timeout, the rank prints what it was waiting for (operation,
// group, peers, the caller's context such as the step) and aborts the job.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace meridian {

enum class ReduceOp { kSum, kAvg };

// A span [offset, offset + count) of a flat buffer, in elements.
struct BufferRange {
  size_t offset = 0;
  size_t count = 0;
};

// An operation in flight. Wait() completes it (under the watchdog); a
// Request must be waited on before its buffers are touched or freed.
class CommRequest {
 public:
  virtual ~CommRequest() = default;
  virtual Status Wait() = 0;
  // Drives progress without blocking; true once complete.
  virtual bool Test() = 0;
};

// A request for an operation that completed when it was issued.
std::unique_ptr<CommRequest> CompletedRequest();

// Buffers: float buffers live where the communicator's implementation
// says (host memory for MPI, device memory for NCCL); double and byte
// buffers are always host memory.
class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Human-readable name used in watchdog and error messages, e.g. "dp[stage 1]".
  virtual const std::string& name() const = 0;
  // World ranks of this group's members, in group rank order.
  virtual const std::vector<int>& world_ranks() const = 0;

  virtual Status AllReduce(float* data, size_t count, ReduceOp op) = 0;
  virtual Result<std::unique_ptr<CommRequest>> IAllReduce(float* data, size_t count, ReduceOp op) = 0;
  // Reduces several disjoint ranges of one buffer as one operation, in
  // place (a gradient bucket: one layer's slices of every tensor). The
  // default packs them into a staging buffer around IAllReduce and unpacks
  // on Wait; a device communicator reduces them in place in one group call.
  virtual Result<std::unique_ptr<CommRequest>> IAllReduceRanges(float* base, const std::vector<BufferRange>& ranges,
                                                                ReduceOp op);
  virtual Status AllReduceDouble(double* data, size_t count, ReduceOp op) = 0;
  // recv (counts[rank]) = reduction of the rank-th segment of send, where
  // send holds the segments of counts[0], counts[1], ... back to back.
  virtual Status ReduceScatter(const float* send, float* recv, const std::vector<size_t>& counts, ReduceOp op) = 0;
  // recv holds every rank's send (counts[r] floats) back to back.
  virtual Status AllGather(const float* send, float* recv, const std::vector<size_t>& counts) = 0;
  // Raw bytes, for compressed payloads: recv holds every rank's
  // bytes_per_rank bytes back to back.
  virtual Status AllGatherBytes(const void* send, void* recv, size_t bytes_per_rank) = 0;
  // The same, left in flight: an exchange that overlaps computation (the
  // outer step of overlapped DiLoCo). The default completes at once.
  virtual Result<std::unique_ptr<CommRequest>> IAllGatherBytes(const void* send, void* recv, size_t bytes_per_rank);
  virtual Status Broadcast(float* data, size_t count, int root) = 0;
  // The default issues ISend / IRecv and waits on the request, so the
  // blocking and non-blocking forms check and describe a transfer alike.
  virtual Status Send(const float* data, size_t count, int peer, int tag);
  virtual Status Recv(float* data, size_t count, int peer, int tag);
  virtual Result<std::unique_ptr<CommRequest>> ISend(const float* data, size_t count, int peer, int tag) = 0;
  virtual Result<std::unique_ptr<CommRequest>> IRecv(float* data, size_t count, int peer, int tag) = 0;
  virtual Status Barrier() = 0;

  // Ranks with the same color form a new group, ordered by key.
  // Collective over this group.
  virtual Result<std::unique_ptr<Communicator>> Split(int color, int key, const std::string& name) = 0;
};

// What the caller is doing, for watchdog messages ("step 12, micro-batch 3").
void SetCommContext(const std::string& context);
const std::string& CommContext();

}  // namespace meridian
