// Every program's exit codes, whatever parses its command line:
//   0  done (also --help)
//   1  the work failed (an error, a refused call)
//   2  bad usage: an unknown option, a missing argument, a bad value
// CLI11 would exit with its own internal codes (106, 109, ...) on a usage
// error; ParseCommandLine maps them.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "common/version.h"

namespace meridian {

inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// `--version`: "meridianctl 0.1.0 (commit 4ec1465a1b2c)", exit 0.
inline void AddVersionFlag(CLI::App& app, const char* argv0) {
  std::string name = argv0 ? argv0 : "meridian";
  if (size_t slash = name.rfind('/'); slash != std::string::npos) name.erase(0, slash + 1);
  app.set_version_flag("--version", name + " " + VersionString(), "Print the version and the git commit, then exit");
}

// Parses argv into `app` (adding --version). std::nullopt: go on. Otherwise the program
// should exit with the returned code, CLI11 having printed the help or the
// usage error.
inline std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  AddVersionFlag(app, argc > 0 ? argv[0] : nullptr);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  return std::nullopt;
}

}  // namespace meridian
