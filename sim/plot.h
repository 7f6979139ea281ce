// Plots of simulated runs as one SVG page: GPU utilisation over time and
// the distribution (CDF) of queueing delays, one line per run, so policies
// compared on one trace sit on the same axes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "sim/simulation.h"

namespace meridian::sim {

// `runs`: a name and a run each (at most 8 are told apart by colour).
std::string PlotSvg(const std::vector<std::pair<std::string, const SimulationResult*>>& runs);

}  // namespace meridian::sim
