// Diagnostics of every Meridian program: one record per line on stderr,
// each with its time (UTC, milliseconds), level and component, as text
//
//   2026-12-03T12:34:56.789Z INFO  launcher: started job-000001 attempt 1
//
// or, with --log-format json (or MERIDIAN_LOG_FORMAT=json), as one JSON
// object per line, valid whatever bytes the message holds:
//
//   {"time":"2026-12-03T12:34:56.789Z","level":"info","component":"launcher",
//    "program":"meridian-scheduler","msg":"started job-000001 attempt 1"}
//
// A program calls InitLogging once after parsing its command line, then
// logs through its components' loggers:
//
//   meridian::Logger("launcher")->warn("scancel of {} exited with {}", id, rc);
//
// Results a program prints for its user (meridianctl's tables, the
// trainer's step lines, meridian-data's summaries) stay on stdout; they are
// output, not logs.
//
// Thread safety: everything here may be called from any thread; lines from
// concurrent threads never interleave.
#pragma once

#include <memory>
#include <string_view>

#include <spdlog/logger.h>

#include "common/status.h"

namespace meridian {

// The defaults a flag left unset falls back to, so that ranks started by
// mpirun (which forwards the environment) log as their launcher does.
inline constexpr const char* kLogFormatEnv = "MERIDIAN_LOG_FORMAT";
inline constexpr const char* kLogLevelEnv = "MERIDIAN_LOG_LEVEL";

// What --log-format and --log-level accept.
inline constexpr const char* kLogFormats[] = {"text", "json"};
inline constexpr const char* kLogLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};

// Sets the format and the lowest level logged for every component logger,
// those already made and those made later. An empty `format` or `level`
// takes $MERIDIAN_LOG_FORMAT or $MERIDIAN_LOG_LEVEL, else text and info.
// `program` names the program in JSON records. Returns InvalidArgument,
// naming the bad value and where it came from, for a format or level not in
// the lists above; nothing changes then. `sink` replaces stderr (tests).
// Before any call, records go to stderr as text at the environment's level.
Status InitLogging(std::string_view program, std::string_view format, std::string_view level,
                   spdlog::sink_ptr sink = nullptr);

// The logger of one component ("daemon", "core", "launcher", "agent",
// "store", "http", "auth", "train", ...): made on first use and shared
// after; never null. Keeping the pointer is fine: InitLogging reconfigures
// it in place.
std::shared_ptr<spdlog::logger> Logger(std::string_view component);

}  // namespace meridian
