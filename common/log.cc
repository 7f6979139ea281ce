#include "common/log.h"

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>

#include <spdlog/formatter.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace meridian {
namespace {

enum class LogFormat { kText, kJson };

// Fixed width in text, so that messages line up.
const char* TextLevel(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "TRACE";
    case spdlog::level::debug: return "DEBUG";
    case spdlog::level::info: return "INFO ";
    case spdlog::level::warn: return "WARN ";
    case spdlog::level::err: return "ERROR";
    case spdlog::level::critical: return "CRIT ";
    default: return "?    ";
  }
}

// The names --log-level takes, so a record's level can be fed back as a
// filter.
const char* JsonLevel(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "unknown";
  }
}

bool ParseLevel(std::string_view s, spdlog::level::level_enum* out) {
  static constexpr spdlog::level::level_enum kValues[] = {spdlog::level::trace, spdlog::level::debug,
                                                          spdlog::level::info,  spdlog::level::warn,
                                                          spdlog::level::err,   spdlog::level::critical,
                                                          spdlog::level::off};
  static_assert(std::size(kValues) == std::size(kLogLevels));
  for (size_t i = 0; i < std::size(kLogLevels); ++i) {
    if (s == kLogLevels[i]) {
      *out = kValues[i];
      return true;
    }
  }
  return false;
}

bool ParseFormat(std::string_view s, LogFormat* out) {
  if (s == "text") *out = LogFormat::kText;
  else if (s == "json") *out = LogFormat::kJson;
  else return false;
  return true;
}

void Append(spdlog::memory_buf_t& dest, std::string_view s) { dest.append(s.data(), s.data() + s.size()); }

// 2026-12-03T12:34:56.789Z
void AppendUtcTime(std::chrono::system_clock::time_point t, spdlog::memory_buf_t& dest) {
  const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  long long secs = ms / 1000, milli = ms % 1000;
  if (milli < 0) milli += 1000, secs -= 1;  // before 1970: floor, not truncation
  const time_t tt = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[40];
  const int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(milli));
  Append(dest, std::string_view(buf, n > 0 ? static_cast<size_t>(n) : 0));
}

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 where the
// bytes are not one. JSON parsers reject the others.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong below U+0800
    if (c == 0xED) hi = 0x9F;  // U+D800..U+DFFF are surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong below U+10000
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size() || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  return n;
}

// A JSON string of any bytes: quotes, backslashes and control bytes
// escaped, well-formed UTF-8 copied, and every byte of a malformed
// sequence replaced by U+FFFD, so the line always parses.
void AppendJsonString(std::string_view s, spdlog::memory_buf_t& dest) {
  dest.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': Append(dest, "\\\""); break;
        case '\\': Append(dest, "\\\\"); break;
        case '\n': Append(dest, "\\n"); break;
        case '\r': Append(dest, "\\r"); break;
        case '\t': Append(dest, "\\t"); break;
        case '\b': Append(dest, "\\b"); break;
        case '\f': Append(dest, "\\f"); break;
        default:
          if (c < 0x20 || c == 0x7F) {
            char esc[8];
            std::snprintf(esc, sizeof(esc), "\\u%04x", c);
            Append(dest, esc);
          } else {
            dest.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    if (const size_t n = Utf8SequenceLength(s, i); n > 0) {
      Append(dest, s.substr(i, n));
      i += n;
    } else {
      Append(dest, "\\ufffd");
      ++i;
    }
  }
  dest.push_back('"');
}

std::string_view View(spdlog::string_view_t s) { return std::string_view(s.data(), s.size()); }

class LineFormatter final : public spdlog::formatter {
 public:
  LineFormatter(LogFormat format, std::string program) : format_(format), program_(std::move(program)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view component = msg.logger_name.size() > 0 ? View(msg.logger_name) : program_;
    if (format_ == LogFormat::kText) {
      AppendUtcTime(msg.time, dest);
      dest.push_back(' ');
      Append(dest, TextLevel(msg.level));
      dest.push_back(' ');
      Append(dest, component);
      Append(dest, ": ");
      Append(dest, View(msg.payload));
    } else {
      Append(dest, "{\"time\":\"");
      AppendUtcTime(msg.time, dest);
      Append(dest, "\",\"level\":\"");
      Append(dest, JsonLevel(msg.level));
      Append(dest, "\",\"component\":");
      AppendJsonString(component, dest);
      Append(dest, ",\"program\":");
      AppendJsonString(program_, dest);
      Append(dest, ",\"msg\":");
      AppendJsonString(View(msg.payload), dest);
      dest.push_back('}');
    }
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(format_, program_);
  }

 private:
  const LogFormat format_;
  const std::string program_;
};

// Every component logger writes through one sink, so that InitLogging
// changes the format and the destination of all of them at once, and one
// mutex keeps their lines whole.
struct LogState {
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<spdlog::logger>> loggers;  // by component
  std::shared_ptr<spdlog::sinks::dist_sink_mt> sink = std::make_shared<spdlog::sinks::dist_sink_mt>();
  spdlog::level::level_enum level = spdlog::level::info;

  LogState() {
    // Until InitLogging: stderr, text, and the environment's level where
    // it names one (a bad value is reported by InitLogging).
    LogFormat format = LogFormat::kText;
    if (const char* f = std::getenv(kLogFormatEnv)) (void)ParseFormat(f, &format);
    if (const char* l = std::getenv(kLogLevelEnv)) (void)ParseLevel(l, &level);
    sink->set_sinks({std::make_shared<spdlog::sinks::stderr_sink_mt>()});
    sink->set_formatter(std::make_unique<LineFormatter>(format, "meridian"));
  }
};

// Never destroyed: threads still running at exit may log.
LogState& State() {
  static LogState* state = new LogState();
  return *state;
}

// The flag's value, else the environment's; `from` says which, for errors.
std::string_view Choose(std::string_view flag, const char* env, std::string* from) {
  if (!flag.empty()) {
    *from = "";
    return flag;
  }
  if (const char* v = std::getenv(env); v != nullptr && *v != '\0') {
    *from = std::string(" (from $") + env + ")";
    return v;
  }
  return {};
}

}  // namespace

Status InitLogging(std::string_view program, std::string_view format, std::string_view level,
                   spdlog::sink_ptr sink) {
  std::string format_from, level_from;
  const std::string_view format_value = Choose(format, kLogFormatEnv, &format_from);
  const std::string_view level_value = Choose(level, kLogLevelEnv, &level_from);
  LogFormat f = LogFormat::kText;
  spdlog::level::level_enum l = spdlog::level::info;
  if (!format_value.empty() && !ParseFormat(format_value, &f))
    return Status::InvalidArgument("log format '" + std::string(format_value) + "'" + format_from +
                                   ": not text or json");
  if (!level_value.empty() && !ParseLevel(level_value, &l))
    return Status::InvalidArgument("log level '" + std::string(level_value) + "'" + level_from +
                                   ": not trace, debug, info, warn, error, critical or off");
  LogState& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  state.sink->set_sinks({sink ? sink : std::make_shared<spdlog::sinks::stderr_sink_mt>()});
  // set_sinks does not format the new sink: set the formatter after it.
  state.sink->set_formatter(std::make_unique<LineFormatter>(f, std::string(program)));
  state.level = l;
  for (auto& [name, logger] : state.loggers) logger->set_level(l);
  return Status::OK();
}

std::shared_ptr<spdlog::logger> Logger(std::string_view component) {
  LogState& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  std::string name(component);
  auto it = state.loggers.find(name);
  if (it != state.loggers.end()) return it->second;
  auto logger = std::make_shared<spdlog::logger>(name, state.sink);
  logger->set_level(state.level);
  state.loggers.emplace(std::move(name), logger);
  return logger;
}

}  // namespace meridian
