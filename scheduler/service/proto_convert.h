// Conversions between the scheduler's plain structs and the wire messages.
#pragma once

#include "meridian/v1/scheduler.pb.h"
#include "scheduler/core/topology.h"
#include "scheduler/placement/placement.h"

namespace meridian::scheduler {

v1::Node NodeToProto(const Node& node);
Node NodeFromProto(const v1::Node& node);
v1::Placement PlacementToProto(const Placement& placement, const Topology& topology);

}  // namespace meridian::scheduler
