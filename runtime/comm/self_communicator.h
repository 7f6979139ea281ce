// The group of one: a process running alone. Collectives are identities,
// so the training loop needs no special case for the single-process run.
#pragma once

#include "runtime/comm/communicator.h"

namespace meridian {

class SelfCommunicator : public Communicator {
 public:
  explicit SelfCommunicator(std::string name = "self", int world_rank = 0)
      : name_(std::move(name)), world_ranks_{world_rank} {}

  int rank() const override { return 0; }
  int size() const override { return 1; }
  const std::string& name() const override { return name_; }
  const std::vector<int>& world_ranks() const override { return world_ranks_; }

  Status AllReduce(float*, size_t, ReduceOp) override { return Status::OK(); }
  Result<std::unique_ptr<CommRequest>> IAllReduce(float*, size_t, ReduceOp) override;
  Status AllReduceDouble(double*, size_t, ReduceOp) override { return Status::OK(); }
  Status ReduceScatter(const float* send, float* recv, const std::vector<size_t>& counts, ReduceOp) override;
  Status AllGather(const float* send, float* recv, const std::vector<size_t>& counts) override;
  Status AllGatherBytes(const void* send, void* recv, size_t bytes) override;
  Status Broadcast(float*, size_t, int) override { return Status::OK(); }
  Status Send(const float*, size_t, int peer, int) override;
  Status Recv(float*, size_t, int peer, int) override;
  Result<std::unique_ptr<CommRequest>> ISend(const float*, size_t, int peer, int) override;
  Result<std::unique_ptr<CommRequest>> IRecv(float*, size_t, int peer, int) override;
  Status Barrier() override { return Status::OK(); }
  Result<std::unique_ptr<Communicator>> Split(int color, int key, const std::string& name) override;

 private:
  std::string name_;
  std::vector<int> world_ranks_;
};

}  // namespace meridian
