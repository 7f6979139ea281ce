// What the DiLoCo outer optimizer's files (diloco.cc, diloco_worlds.cc)
// share: a fragment's state, moving its ranges of a stage buffer, and a
// leader's values to its data center.
#pragma once

#include <algorithm>
#include <vector>

#include "common/status.h"
#include "runtime/comm/communicator.h"
#include "runtime/parallel/diloco.h"
#include "runtime/parallel/process_groups.h"
#include "runtime/parallel/stage_memory.h"

namespace meridian {

struct DilocoOuterOptimizer::Fragment {
  std::vector<BufferRange> ranges;  // in the stage buffer
  size_t count = 0;                 // floats in all ranges
  int offset = 0;                   // its rounds end after steps t with t % H == offset
  long apply_step = -1;             // its exchange is mixed in after this step; -1: none in flight
  bool received = false;            // its average is in pending_ here
  int overdue = 0;                  // elastic: rounds ended whose exchanges have not left yet
  std::vector<uint8_t> send, gathered;
  std::unique_ptr<CommRequest> request;  // the leader's exchange in flight
  // Each data center its own world (the leader's): the round in flight, and
  // the outer weights and momentum the worlds agreed on again after they
  // drifted apart (resync), to be shared in the data center at Apply.
  std::unique_ptr<WanRound> round;
  bool resync = false;
  std::vector<float> resync_state;
};

namespace diloco_detail {

// Copies values at `ranges` of a stage buffer into a contiguous run and back.
inline void GatherRanges(const std::vector<BufferRange>& ranges, const float* from, float* to) {
  for (const BufferRange& r : ranges) to = std::copy(from + r.offset, from + r.offset + r.count, to);
}
inline void ScatterRanges(const std::vector<BufferRange>& ranges, const float* from, float* to) {
  for (const BufferRange& r : ranges) {
    std::copy(from, from + r.count, to + r.offset);
    from += r.count;
  }
}

// The leader's `host` values (n floats) to every replica of its data
// center, through a buffer of the stage's memory (the group's own kind).
inline Status ShareInDataCenter(float* host, size_t n, const ProcessGroups& g, StageMemory* memory) {
  MERIDIAN_ASSIGN_OR_RETURN(StageBuffer shared, memory->Allocate(n));
  if (g.dp_intra_dc->rank() == 0) MERIDIAN_RETURN_IF_ERROR(memory->FromHost(shared.get(), host, n));
  MERIDIAN_RETURN_IF_ERROR(g.dp_intra_dc->Broadcast(shared.get(), n, 0));
  return memory->ToHost(host, shared.get(), n);
}

}  // namespace diloco_detail
}  // namespace meridian
