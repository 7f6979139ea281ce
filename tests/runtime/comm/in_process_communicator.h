// An in-process Communicator for unit tests: N threads of one process act
// as N ranks, so logic built on collectives (gradient synchronisation, the
// pipeline runner) is tested in milliseconds without mpirun.
//
//   InProcessWorld world(4);
//   Status s = RunRanks(world, [&](int rank, Communicator* comm) -> Status {
//     std::vector<float> g = LocalGradient(rank);
//     return comm->AllReduce(g.data(), g.size(), ReduceOp::kAvg);
//   });
//
// Semantics, where they differ from (or pin down) the MPI communicator's:
//  - Reductions are deterministic: element i is ((x0 + x1) + x2) + ... in
//    rank order, in float for float buffers and in double for double
//    buffers, so results equal a sequential reference exactly. kAvg then
//    scales as MpiCommunicator does: floats by 1.0f / size, doubles / size.
//  - Collectives match by call order on each rank. Every rank's arguments
//    are compared once all have arrived; a mismatch (another operation,
//    count, counts, root or ReduceOp, or a blocking call against a
//    non-blocking one, which MPI does not match either) is an
//    InvalidArgument on every rank, not a hang.
//  - Sends are buffered: Send and ISend copy the data and return at once.
//    Receives block until the matching message exists; messages are FIFO
//    per (source, destination, tag), receives take them in posting order,
//    and a message must have exactly the receive's count (stricter than
//    MPI, which accepts a shorter one).
//  - Non-blocking operations (all-reduce, all-gather of bytes, receives)
//    contribute at the call and complete at Wait() or Test(); destroying an unwaited request abandons it without blocking
//    (its buffers are not touched afterwards).
//  - A wait gives up with DeadlineExceeded after the world's timeout, naming
//    the operation, the group and the missing ranks. Under RunRanks it gives
//    up at once when a rank it waits for has returned (Unavailable) or any
//    rank has failed (Unavailable, naming that rank).
//  - Each Communicator object belongs to one thread at a time (as MPI's
//    FUNNELED level requires); sub-groups from Split, sibling groups
//    included, may be used concurrently.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "runtime/comm/communicator.h"

namespace meridian {

namespace in_process {
struct WorldState;
}

class InProcessWorld {
 public:
  explicit InProcessWorld(int size, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~InProcessWorld();
  InProcessWorld(const InProcessWorld&) = delete;
  InProcessWorld& operator=(const InProcessWorld&) = delete;

  int size() const { return (int)ranks_.size(); }
  // Rank i's world communicator (name "world"), owned by the world.
  Communicator* rank(int i) { return ranks_.at(i).get(); }

 private:
  friend Status RunRanks(InProcessWorld& world, const std::function<Status(int rank, Communicator* world)>& fn);
  std::shared_ptr<in_process::WorldState> state_;
  std::vector<std::unique_ptr<Communicator>> ranks_;
};

// Runs fn(rank, world.rank(rank)) on one thread per rank and returns the
// first failure ("rank R: <message>"; an exception counts as a failure), or
// OK. Once a rank fails, the others' blocked waits give up at once, and the
// world stays failed: later collectives that need waiting fail too.
Status RunRanks(InProcessWorld& world, const std::function<Status(int rank, Communicator* world)>& fn);

}  // namespace meridian
