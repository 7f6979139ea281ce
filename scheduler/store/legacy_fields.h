// Jobs stored before the closed sets (device, dtype, dp_sync) were enums
// kept them as words in the fields now named legacy_*. These move each
// word into its enum field and clear it, so the rest of the daemon sees
// enums only. The state migration runs them over every stored job once;
// the service runs them over each request, so an older meridianctl's
// specs still mean what they said.
#pragma once

#include "common/status.h"
#include "meridian/v1/scheduler.pb.h"

namespace meridian::scheduler {

// An enum field already set wins (it was written later). InvalidArgument
// naming the field for a word no value has; the message is then untouched.
Status UpgradeLegacyFields(v1::JobSpec* spec);
// The job's spec and placement.
Status UpgradeLegacyFields(v1::Job* job);

}  // namespace meridian::scheduler
