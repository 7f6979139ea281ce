// How data-parallel replicas agree on their gradients (see gradient_sync.h
// for what each mode does). Pure: the placement engine prices the same
// modes the runtime runs.
#pragma once

#include "common/closed_set.h"

namespace meridian {

enum class DpSync { kSync, kHierarchical, kDiloco };
inline constexpr ClosedSet<DpSync, 3> kDpSyncModes{
    "dp-sync", {{{DpSync::kSync, "sync"}, {DpSync::kHierarchical, "hierarchical"}, {DpSync::kDiloco, "diloco"}}}};

// InvalidArgument naming the value.
inline Result<DpSync> ParseDpSync(std::string_view name) { return kDpSyncModes.Parse(name); }
inline const char* DpSyncName(DpSync mode) { return kDpSyncModes.Name(mode); }

}  // namespace meridian
