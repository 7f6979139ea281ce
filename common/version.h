// The version every program prints for --version: the project's version
// from CMake's project() and the git commit the binary was built from.
#pragma once

namespace meridian {

const char* VersionNumber();  // "0.1.0"
const char* GitCommit();      // "4ec1465a1b2c", "-dirty" when built from a modified tree; "unknown" without git
const char* VersionString();  // "0.1.0 (commit 4ec1465a1b2c)"

}  // namespace meridian
