// A scheduled rank checks, before it reads anything, that its data lies
// under the roots the daemon handed it (common/data_roots.h): the daemon
// checked at submit and launch, but files may change in between.
#pragma once

#include "common/data_roots.h"
#include "common/status.h"
#include "runtime/train/train_options.h"

namespace meridian {

// Every shard `data` and `val_data` match (through the bounded matcher),
// --init-from with the files it reads beside it, and --vocab-dir's two
// files. FailedPrecondition naming the option and the path otherwise.
Status CheckTrainerDataUnderRoots(const TrainOptions& o, const HandedRoots& roots);

}  // namespace meridian
