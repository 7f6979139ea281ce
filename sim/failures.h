// Node failures for meridian-sim: JSON lines, one failure a line,
//   {"at_s": 3600, "node": "dc-003-n012", "down_s": 1800}
// The node stops heartbeating at at_s and comes back down_s later. Errors
// name the source, the line and the field.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "sim/simulation.h"

namespace meridian::sim {

Result<std::vector<NodeFailure>> ParseFailures(const std::string& text, const std::string& source);
Result<std::vector<NodeFailure>> ReadFailuresFile(const std::string& path);

}  // namespace meridian::sim
