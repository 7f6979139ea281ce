#include "runtime/comm/self_communicator.h"

#include <algorithm>

namespace meridian {

namespace {

Status NoPeer(const std::string& group, int peer) {
  return Status::InvalidArgument("group " + group + " has one rank; peer " + std::to_string(peer) + " does not exist");
}

}  // namespace

Result<std::unique_ptr<CommRequest>> SelfCommunicator::IAllReduce(float*, size_t, ReduceOp) {
  return CompletedRequest();
}

Status SelfCommunicator::ReduceScatter(const float* send, float* recv, const std::vector<size_t>& counts, ReduceOp) {
  if (counts.size() != 1) return Status::InvalidArgument("ReduceScatter on " + name_ + ": counts must have 1 entry");
  if (send != recv) std::copy(send, send + counts[0], recv);
  return Status::OK();
}

Status SelfCommunicator::AllGather(const float* send, float* recv, const std::vector<size_t>& counts) {
  if (counts.size() != 1) return Status::InvalidArgument("AllGather on " + name_ + ": counts must have 1 entry");
  if (send != recv) std::copy(send, send + counts[0], recv);
  return Status::OK();
}

Status SelfCommunicator::AllGatherBytes(const void* send, void* recv, size_t bytes) {
  if (send != recv) std::copy((const char*)send, (const char*)send + bytes, (char*)recv);
  return Status::OK();
}

Status SelfCommunicator::Send(const float*, size_t, int peer, int) { return NoPeer(name_, peer); }
Status SelfCommunicator::Recv(float*, size_t, int peer, int) { return NoPeer(name_, peer); }
Result<std::unique_ptr<CommRequest>> SelfCommunicator::ISend(const float*, size_t, int peer, int) {
  return NoPeer(name_, peer);
}
Result<std::unique_ptr<CommRequest>> SelfCommunicator::IRecv(float*, size_t, int peer, int) {
  return NoPeer(name_, peer);
}

Result<std::unique_ptr<Communicator>> SelfCommunicator::Split(int, int, const std::string& name) {
  return std::unique_ptr<Communicator>(new SelfCommunicator(name, world_ranks_[0]));
}

}  // namespace meridian
