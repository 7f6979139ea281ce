// Every program's exit codes, whatever parses its command line:
//   0  done (also --help)
//   1  the work failed (an error, a refused call)
//   2  bad usage: an unknown option, a missing argument, a bad value
// CLI11 would exit with its own internal codes (106, 109, ...) on a usage
// error; ParseCommandLine maps them.
#pragma once

#include <optional>
#include <iterator>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/log.h"
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

// --log-format text|json and --log-level on `app` (repeat for a subcommand
// that should take them after its name), for InitLogging. Unset, they are
// empty: InitLogging then takes $MERIDIAN_LOG_FORMAT and $MERIDIAN_LOG_LEVEL.
// Never read from or printed to a --config file: how a process logs is up to
// whoever starts it, not part of the run it is configured for.
inline void AddLogOptions(CLI::App& app, std::string* format, std::string* level, const char* group = nullptr) {
  CLI::Option* f = app.add_option("--log-format", *format,
                                  "Diagnostics on stderr as text or json lines (default: $MERIDIAN_LOG_FORMAT, "
                                  "else text)")
                       ->check(CLI::IsMember(std::vector<std::string>(std::begin(kLogFormats), std::end(kLogFormats))));
  CLI::Option* l = app.add_option("--log-level", *level,
                                  "Lowest level logged: trace, debug, info, warn, error, critical or off (default: "
                                  "$MERIDIAN_LOG_LEVEL, else info)")
                       ->check(CLI::IsMember(std::vector<std::string>(std::begin(kLogLevels), std::end(kLogLevels))));
  f->configurable(false);
  l->configurable(false);
  if (group != nullptr) {
    f->group(group);
    l->group(group);
  }
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
