// Conversions between the scheduler's plain structs and the wire messages.
#pragma once

#include <functional>
#include <string>

#include "meridian/v1/scheduler.pb.h"
#include "scheduler/core/topology.h"
#include "scheduler/placement/placement.h"

namespace meridian::scheduler {

v1::Node NodeToProto(const Node& node);
Node NodeFromProto(const v1::Node& node);
// Each rank's host from its node in `topology`.
v1::Placement PlacementToProto(const Placement& placement, const Topology& topology);
// The same with nodes found by `find` (NodeRegistry::Find, an index): a
// 512-rank placement must not search 25,000 nodes per rank under the
// core's lock.
v1::Placement PlacementToProto(const Placement& placement, const std::function<const Node*(const std::string&)>& find);

}  // namespace meridian::scheduler
