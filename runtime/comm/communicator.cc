#include "runtime/comm/communicator.h"

#include <algorithm>

namespace meridian {

namespace {

// Owns the staging buffer of a packed ranges all-reduce and unpacks it into
// the caller's buffer once the inner request completes.
class PackedRangesRequest : public CommRequest {
 public:
  PackedRangesRequest(float* base, std::vector<BufferRange> ranges, std::vector<float> staging)
      : base_(base), ranges_(std::move(ranges)), staging_(std::move(staging)) {}
  ~PackedRangesRequest() override {
    if (inner_ && !unpacked_) (void)Wait();
  }
  void set_inner(std::unique_ptr<CommRequest> inner) { inner_ = std::move(inner); }
  float* staging() { return staging_.data(); }

  Status Wait() override {
    if (unpacked_) return Status::OK();
    MERIDIAN_RETURN_IF_ERROR(inner_->Wait());
    Unpack();
    return Status::OK();
  }
  bool Test() override {
    if (unpacked_) return true;
    if (!inner_->Test()) return false;
    Unpack();
    return true;
  }

 private:
  void Unpack() {
    size_t pos = 0;
    for (const BufferRange& r : ranges_) {
      std::copy(staging_.begin() + pos, staging_.begin() + pos + r.count, base_ + r.offset);
      pos += r.count;
    }
    unpacked_ = true;
  }
  float* base_;
  std::vector<BufferRange> ranges_;
  std::vector<float> staging_;
  std::unique_ptr<CommRequest> inner_;
  bool unpacked_ = false;
};

class CompletedRequestImpl : public CommRequest {
 public:
  Status Wait() override { return Status::OK(); }
  bool Test() override { return true; }
};

}  // namespace

std::unique_ptr<CommRequest> CompletedRequest() { return std::make_unique<CompletedRequestImpl>(); }

Result<std::unique_ptr<CommRequest>> Communicator::IAllGatherBytes(const void* send, void* recv,
                                                                   size_t bytes_per_rank) {
  MERIDIAN_RETURN_IF_ERROR(AllGatherBytes(send, recv, bytes_per_rank));
  return CompletedRequest();
}

Result<std::unique_ptr<CommRequest>> Communicator::IAllReduceRanges(float* base, const std::vector<BufferRange>& ranges,
                                                                    ReduceOp op) {
  size_t total = 0;
  for (const BufferRange& r : ranges) total += r.count;
  std::vector<float> staging(total);
  size_t pos = 0;
  for (const BufferRange& r : ranges) {
    std::copy(base + r.offset, base + r.offset + r.count, staging.begin() + pos);
    pos += r.count;
  }
  auto request = std::make_unique<PackedRangesRequest>(base, ranges, std::move(staging));
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<CommRequest> inner, IAllReduce(request->staging(), total, op));
  request->set_inner(std::move(inner));
  return std::unique_ptr<CommRequest>(std::move(request));
}

Status Communicator::Send(const float* data, size_t count, int peer, int tag) {
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<CommRequest> req, ISend(data, count, peer, tag));
  return req->Wait();
}

Status Communicator::Recv(float* data, size_t count, int peer, int tag) {
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<CommRequest> req, IRecv(data, count, peer, tag));
  return req->Wait();
}

}  // namespace meridian
