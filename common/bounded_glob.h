// Glob patterns from people the process does not trust (a job file's
// `data`), expanded with bounds. glob(3) walks every directory a pattern
// can reach: "D/*/../*/../*/../*/x" over eight folders is 8^4 walks of
// the same tree, and each `..` multiplies again, until memory runs out.
// Here a pattern has a fixed directory part, then wildcards in its last
// few components only, no `..` among them, and the walk stops at a cap on
// directories read, on matches and on time, with an error naming the
// limit. The daemon and the ranks use this one matcher.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/status.h"

namespace meridian {

struct GlobLimits {
  int wildcard_components = 2;    // wildcards only in the last this many components
  size_t directories = 4096;      // directories read at most
  size_t matches = 65536;         // paths matched at most
  double seconds = 1.0;           // wall time at most
};

// The paths `pattern` matches (glob(3) syntax within a component: *, ?,
// [...]; a leading dot is matched only by a dot), sorted bytewise so order
// never depends on the locale. InvalidArgument naming the pattern and the
// rule or limit it breaks; NotFound when nothing matches.
Result<std::vector<std::string>> ExpandBoundedGlob(const std::string& pattern, const GlobLimits& limits = {});

}  // namespace meridian
