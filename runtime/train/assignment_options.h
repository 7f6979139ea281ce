// What a scheduled rank trains, as a pure function of what the daemon
// answered (GetAssignment: the job's spec, its placement, this rank's
// assignment and the attempt): the job's model, training options and
// layout over the options the launcher gave on the command line (paths
// such as --checkpoint-dir stay). No RPC, no environment: scheduler_client
// asks, checks the rank's surroundings, then calls this.
#pragma once

#include "meridian/v1/scheduler.pb.h"
#include "runtime/train/train_options.h"

namespace meridian {

// Fills `*o` from the job:
// - the model (preset and the sizes given), every training option the
//   spec sets, the device and dtype;
// - dp and pp from the placement, and --pools with one entry per run of
//   consecutive ranks in one data center ("dc-a:2,dc-b:2");
// - the gradient sync the placement priced (sync when it names none);
// - a checkpoint every steps/5 unless the command line gave one, rounded up
//   to whole DiLoCo rounds under diloco (weights agree only at round ends);
// - the rank's GPU and layer range, and the attempt;
// - one world per data center (dc_worlds): --wan-world's data center as
//   the pools, its replicas as dp, every world's leader for this rank's
//   stage, its share of the data, and elastic DiLoCo; where the placement
//   gives link windows, the window of the link to each world
//   (--wan-peer-windows) instead of the job-wide --wan-window.
// InvalidArgument for a device, dtype or sync mode this build has no word
// for (a newer daemon's); `*o` may then be partly filled.
// A job that runs as one world per data center (Placement.dc_worlds):
// the job's rank that is rank `local_rank` of world `world` (the data
// centers in the order their first ranks come); -1 when there is none.
int WorldRank(const v1::Placement& placement, int world, int local_rank);

Status ApplyJobToOptions(const v1::JobSpec& spec, const v1::Placement& placement, const v1::RankAssignment& assignment,
                       int attempt, TrainOptions* o);

}  // namespace meridian
