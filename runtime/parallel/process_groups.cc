#include "runtime/parallel/process_groups.h"

namespace meridian {

Result<ProcessGroups> BuildProcessGroups(Communicator* world, const ParallelLayout& layout,
                                         const DataCenterMap& data_centers) {
  ProcessGroups g;
  g.world = world;
  const int rank = world->rank();
  g.dp_index = layout.DpIndex(rank);
  g.stage = layout.Stage(rank);
  MERIDIAN_ASSIGN_OR_RETURN(g.dp, world->Split(g.stage, g.dp_index, "dp[stage " + std::to_string(g.stage) + "]"));
  MERIDIAN_ASSIGN_OR_RETURN(g.pp, world->Split(g.dp_index, g.stage, "pp[replica " + std::to_string(g.dp_index) + "]"));
  if (layout.pp > 1) {
    // Every rank must take part in the split; middle stages get singleton
    // groups of their own that they never use.
    const bool end = g.stage == 0 || g.stage == layout.pp - 1;
    const int color = end ? g.dp_index : layout.dp + rank;
    MERIDIAN_ASSIGN_OR_RETURN(g.tied, world->Split(color, g.stage, "tied-wte[replica " + std::to_string(g.dp_index) + "]"));
    if (!end) g.tied.reset();
  }
  g.data_center = data_centers.rank_to_dc.at(rank);
  const std::string& dc = data_centers.names[g.data_center];
  MERIDIAN_ASSIGN_OR_RETURN(g.dp_intra_dc,
                            g.dp->Split(g.data_center, g.dp_index, g.dp->name() + "@" + dc));
  MERIDIAN_ASSIGN_OR_RETURN(g.dc, world->Split(g.data_center, rank, "world@" + dc));
  MERIDIAN_ASSIGN_OR_RETURN(g.dp_inter_dc, g.dp->Split(g.dp_intra_dc->rank(), g.data_center,
                                                       g.dp->name() + "/across-dc#" +
                                                           std::to_string(g.dp_intra_dc->rank())));
  return g;
}

}  // namespace meridian
