// Every program's exit codes, whatever parses its command line:
//   0  done (also --help)
//   1  the work failed (an error, a refused call)
//   2  bad usage: an unknown option, a missing argument, a bad value
// CLI11 would exit with its own internal codes (106, 109, ...) on a usage
// error; ParseCommandLine maps them.
#pragma once

#include <optional>

#include <CLI/CLI.hpp>

namespace meridian {

inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// Parses argv into `app`. std::nullopt: go on. Otherwise the program
// should exit with the returned code, CLI11 having printed the help or the
// usage error.
inline std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  return std::nullopt;
}

}  // namespace meridian
