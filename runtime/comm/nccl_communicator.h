// Communicator over NCCL: its float buffers are device memory. Each group
// has its own NCCL communicator and stream; every operation first makes that
// stream wait (by event) for the work already queued on the compute stream
// (cuda::ComputeStream), so it reduces or sends what the kernels produced.
// Blocking calls return once the operation has finished on the device
// (waited under the watchdog); requests do the same in Wait().
//
// Host-side operations (AllReduceDouble, AllGatherBytes, Barrier) go
// through the host group (MPI, or the one-process group) it was built over;
// Split splits the host group and builds a NCCL communicator over the part.
// Point-to-point traffic towards higher ranks and towards lower ranks uses
// two separate NCCL communicators and streams, so a pipeline stage sending
// activations forward while it receives gradients from behind cannot
// deadlock on one serialised stream. Collectives have a third communicator
// and stream, so a receive posted early never holds up a collective queued
// behind it. All three are created together, collectively, at construction:
// point-to-point calls are not collective, so none can be created later.
//
// Where this differs from the MPI communicator:
// - Tags are ignored. NCCL matches point-to-point messages in issue order
//   per pair of ranks and direction, so the messages a rank sends to a peer
//   must be received by that peer in the same order. Sending to oneself is
//   an error.
// - ReduceScatter and AllGather take uneven counts. Equal counts use NCCL's
//   own reduce-scatter / all-gather; uneven ones become one group of
//   ncclReduce (segment i reduced onto rank i) / ncclBroadcast (rank i's
//   segment from rank i), launched together.
// - Aliasing: ReduceScatter's recv must be exactly this rank's segment of
//   send or not overlap send at all; AllGather's send must be exactly this
//   rank's slot of recv or not overlap recv at all (NCCL's in-place forms).
// - Barrier is the host group's barrier; it does not drain device work.
#pragma once

#include <memory>

#include "runtime/comm/communicator.h"

namespace meridian {

// Collective over host_group: its rank 0 makes the NCCL unique id, which
// reaches the others through host_group. Every rank must have selected its
// device (cuda::InitializeDevice) first. Takes ownership of host_group.
Result<std::unique_ptr<Communicator>> CreateNcclCommunicator(std::unique_ptr<Communicator> host_group);

// The device this rank should use: its local rank on the node (Open MPI's
// OMPI_COMM_WORLD_LOCAL_RANK, else MPICH's MPI_LOCALRANKID, else Slurm's
// SLURM_LOCALID, else 0) modulo the node's device count.
// Fails when the node has no CUDA device.
Result<int> PickLocalDevice();

}  // namespace meridian
