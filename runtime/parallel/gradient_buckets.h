// Data-parallel gradient averaging in buckets that overlap the backward
// pass (the DDP / Horovod fusion-buffer idea): as soon as the backward pass
// has finished every gradient in a bucket, the bucket's all-reduce starts,
// while earlier layers are still computing. A bucket is a set of ranges of
// the flat gradient buffer (IAllReduceRanges): MPI packs them, NCCL reduces
// them in place on the device.
#pragma once

#include <memory>
#include <vector>

#include "runtime/comm/communicator.h"
#include "runtime/model/parameter_layout.h"

namespace meridian {

class GradientBuckets {
 public:
  // Buckets hold up to bucket_bytes of gradients (at least one tensor
  // slice each). With overlap off, every bucket is reduced after backward.
  GradientBuckets(Communicator* dp, const ParameterLayout& layout, size_t bucket_bytes, bool overlap);

  // Backward-hook entry: the gradients of local layer `layer` (or, with -1,
  // of the embeddings and final LayerNorm) are final.
  void OnGradientsReady(float* grads, int layer);

  // Completes every bucket (starting those not yet started) and writes the
  // averaged gradients back into `grads`.
  Status Finish(float* grads);

  size_t num_buckets() const { return buckets_.size(); }
  // Seconds Finish spent waiting, last call: the all-reduce time not hidden.
  double exposed_wait_s() const { return exposed_wait_s_; }
  size_t bytes_per_step() const;

 private:
  struct Bucket {
    std::vector<BufferRange> ranges;
    size_t count = 0;     // floats in all ranges
    int ready_event = 0;  // index into the event order; launch when reached
    std::unique_ptr<CommRequest> request;
  };
  void Launch(float* grads, Bucket& b);

  Communicator* dp_;
  bool overlap_;
  std::vector<Bucket> buckets_;
  std::vector<int> event_of_layer_;  // hook argument -> event index
  int num_layers_ = 0;
  double exposed_wait_s_ = 0.0;
  Status error_;
};

}  // namespace meridian
