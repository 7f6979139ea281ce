// The communicators one rank needs, built from the world and the layout.
#pragma once

#include <memory>

#include "runtime/comm/communicator.h"
#include "runtime/parallel/data_centers.h"
#include "runtime/parallel/parallel_layout.h"

namespace meridian {

struct ProcessGroups {
  Communicator* world = nullptr;       // not owned
  std::unique_ptr<Communicator> dp;    // same stage, every replica (gradient averaging)
  std::unique_ptr<Communicator> pp;    // same replica, every stage (activations)
  // First and last stage of the same replica, which both hold the tied token
  // embedding and must sum its gradient. Null when pp == 1.
  std::unique_ptr<Communicator> tied;
  // The DP group cut by data center, for hierarchical and DiLoCo-style
  // synchronisation: dp_intra_dc holds this stage's replicas in the same
  // data center; dp_inter_dc holds the ranks with the same position inside
  // their data centers' groups (position 0: the data center leaders).
  std::unique_ptr<Communicator> dp_intra_dc;
  std::unique_ptr<Communicator> dp_inter_dc;
  // Every rank in this rank's data center: where per-step metrics are
  // summed when the WAN is crossed only at round ends (DiLoCo).
  std::unique_ptr<Communicator> dc;
  int data_center = 0;
  int dp_index = 0;
  int stage = 0;
};

// Collective over the world.
Result<ProcessGroups> BuildProcessGroups(Communicator* world, const ParallelLayout& layout,
                                         const DataCenterMap& data_centers);

}  // namespace meridian
