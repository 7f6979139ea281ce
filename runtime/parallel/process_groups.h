// The communicators one rank needs, built from the world and the layout.
#pragma once

#include <memory>

#include "runtime/comm/communicator.h"
#include "runtime/parallel/parallel_layout.h"

namespace meridian {

struct ProcessGroups {
  Communicator* world = nullptr;       // not owned
  std::unique_ptr<Communicator> dp;    // same stage, every replica (gradient averaging)
  std::unique_ptr<Communicator> pp;    // same replica, every stage (activations)
  // First and last stage of the same replica, which both hold the tied token
  // embedding and must sum its gradient. Null when pp == 1.
  std::unique_ptr<Communicator> tied;
  int dp_index = 0;
  int stage = 0;
};

// Collective over the world.
Result<ProcessGroups> BuildProcessGroups(Communicator* world, const ParallelLayout& layout);

}  // namespace meridian
