// Communicator over an MPI communicator (Open MPI), for CPU buffers.
// Blocking calls are non-blocking MPI calls completed under the watchdog.
#pragma once

#include <mpi.h>

#include "runtime/comm/communicator.h"

namespace meridian {

class MpiCommunicator : public Communicator {
 public:
  // Initialises MPI (thread level FUNNELED) and returns the world group.
  // Call once per process; MPI is finalised at exit.
  static Result<std::unique_ptr<Communicator>> InitWorld(int* argc, char*** argv);

  // True when this process was started by mpirun (or another PMIx launcher).
  // Ends every rank of the MPI world at once (MPI_Abort), so that one
  // rank's error is not followed by its peers waiting in a collective for
  // the watchdog. For errors after MPI_Init; the caller prints the reason.
  [[noreturn]] static void AbortWorld(int exit_code);
  static bool LaunchedByMpirun();

  MpiCommunicator(MPI_Comm comm, std::string name, bool owned);
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& name() const override { return name_; }
  const std::vector<int>& world_ranks() const override { return world_ranks_; }

  Status AllReduce(float* data, size_t count, ReduceOp op) override;
  Result<std::unique_ptr<CommRequest>> IAllReduce(float* data, size_t count, ReduceOp op) override;
  Status AllReduceDouble(double* data, size_t count, ReduceOp op) override;
  Status ReduceScatter(const float* send, float* recv, const std::vector<size_t>& counts, ReduceOp op) override;
  Status AllGather(const float* send, float* recv, const std::vector<size_t>& counts) override;
  Status AllGatherBytes(const void* send, void* recv, size_t bytes_per_rank) override;
  Result<std::unique_ptr<CommRequest>> IAllGatherBytes(const void* send, void* recv, size_t bytes) override;
  Status Broadcast(float* data, size_t count, int root) override;
  Result<std::unique_ptr<CommRequest>> ISend(const float* data, size_t count, int peer, int tag) override;
  Result<std::unique_ptr<CommRequest>> IRecv(float* data, size_t count, int peer, int tag) override;
  Status Barrier() override;
  Result<std::unique_ptr<Communicator>> Split(int color, int key, const std::string& name) override;

 private:
  std::string Describe(const std::string& op, int peer = -1) const;

  MPI_Comm comm_;
  std::string name_;
  bool owned_;
  int rank_ = 0, size_ = 1;
  std::vector<int> world_ranks_;
};

}  // namespace meridian
