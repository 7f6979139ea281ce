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
// deadlock on one serialised stream.
#pragma once

#include <memory>

#include "runtime/comm/communicator.h"

namespace meridian {

// Collective over host_group: its rank 0 makes the NCCL unique id, which
// reaches the others through host_group. Every rank must have selected its
// device (cuda::InitializeDevice) first. Takes ownership of host_group.
Result<std::unique_ptr<Communicator>> CreateNcclCommunicator(std::unique_ptr<Communicator> host_group);

// The device this rank should use: its local rank on the node (Open MPI's
// OMPI_COMM_WORLD_LOCAL_RANK, else 0) modulo the node's device count.
// Fails when the node has no CUDA device.
Result<int> PickLocalDevice();

}  // namespace meridian
