#include "common/log.h"

#include <stdlib.h>
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

namespace meridian {
namespace {

// Logs into a string instead of stderr.
class CapturedLog {
 public:
  CapturedLog() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {}
  Status Init(std::string_view format, std::string_view level) {
    return InitLogging("log-test", format, level, sink_);
  }
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  std::string Text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

// Each test sets the variables it needs; none leaks into the next.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv(kLogFormatEnv);
    unsetenv(kLogLevelEnv);
  }
  void TearDown() override { SetUp(); }
};

// Seconds since the epoch of "2026-12-03T12:34:56.789Z", read as UTC.
double ParseUtc(const std::string& s) {
  struct tm tm {};
  int ms = 0;
  EXPECT_EQ(std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms),
            7)
      << s;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + ms / 1000.0;
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST_F(LogTest, TextLinesCarryUtcTimeLevelComponentAndMessage) {
  CapturedLog log;
  ASSERT_TRUE(log.Init("text", "info").ok());
  Logger("launcher")->info("started {} attempt {}", "job-000001", 1);
  Logger("daemon")->warn("WARNING: --insecure");
  Logger("core")->error("the state store failed");
  const std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 3u) << log.Text();
  const std::regex line(R"(^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\w+ *) (\w+): (.*)$)");
  const std::vector<std::vector<std::string>> want = {{"INFO ", "launcher", "started job-000001 attempt 1"},
                                                      {"WARN ", "daemon", "WARNING: --insecure"},
                                                      {"ERROR", "core", "the state store failed"}};
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, line)) << lines[i];
    EXPECT_NEAR(ParseUtc(m[1]), NowSeconds(), 5.0) << "not UTC now: " << lines[i];
    EXPECT_EQ(m[2], want[i][0]);
    EXPECT_EQ(m[3], want[i][1]);
    EXPECT_EQ(m[4], want[i][2]);
  }
}

// Messages that break naive JSON writers: quotes, backslashes, newlines,
// every control byte, and UTF-8 both well-formed and not.
std::vector<std::string> AwkwardMessages() {
  std::vector<std::string> m = {
      "say \"hi\" \\ back\\slash",
      "two\nlines\r\nand\ttabs",
      "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E",  // é, €, U+1D11E: kept as they are
      "\xFF\xFE bad lead bytes",
      "overlong \xC0\x80 slash \xE0\x80\xAF",
      "lone continuation \x80\xBF",
      "truncated \xE2\x82",
      "at the end \xF0\x9F\x98",
      "surrogate \xED\xA0\x80 and past U+10FFFF \xF4\x90\x80\x80",
      "{\"already\": \"json\"}",
      "",
  };
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls.push_back(static_cast<char>(c));
  controls.push_back('\x7F');
  m.push_back(controls);
  return m;
}

bool IsValidUtf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();  // throws type_error 316 on invalid UTF-8
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

TEST_F(LogTest, JsonLinesParseWhateverBytesTheMessageHolds) {
  CapturedLog log;
  ASSERT_TRUE(log.Init("json", "info").ok());
  const std::vector<std::string> messages = AwkwardMessages();
  for (const std::string& m : messages) Logger("store")->info("{}", m);
  // Component names are escaped too.
  Logger("we\"ird\n")->info("x");
  const std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), messages.size() + 1) << "a message broke a line:\n" << log.Text();
  for (size_t i = 0; i < messages.size(); ++i) {
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(lines[i])) << lines[i];
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j.size(), 5u) << lines[i];
    EXPECT_NEAR(ParseUtc(j.at("time").get<std::string>()), NowSeconds(), 5.0);
    EXPECT_EQ(j.at("level"), "info");
    EXPECT_EQ(j.at("component"), "store");
    EXPECT_EQ(j.at("program"), "log-test");
    const std::string msg = j.at("msg").get<std::string>();
    if (IsValidUtf8(messages[i])) {
      EXPECT_EQ(msg, messages[i]) << lines[i];
    } else {
      EXPECT_NE(msg.find("\xEF\xBF\xBD"), std::string::npos) << "no U+FFFD for the bad bytes: " << lines[i];
    }
  }
  EXPECT_EQ(nlohmann::json::parse(lines.back()).at("component"), "we\"ird\n");
}

TEST_F(LogTest, JsonLinesParseForRandomBytes) {
  CapturedLog log;
  ASSERT_TRUE(log.Init("json", "trace").ok());
  std::mt19937 rng(1234);
  std::vector<std::string> messages(500);
  for (std::string& m : messages) {
    m.resize(rng() % 64);
    for (char& c : m) c = static_cast<char>(rng() % 256);
    Logger("fuzz")->debug("{}", m);
  }
  const std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), messages.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(lines[i])) << "message " << i << ": " << lines[i];
    EXPECT_EQ(j.at("level"), "debug");
    if (IsValidUtf8(messages[i])) {
      EXPECT_EQ(j.at("msg"), messages[i]);
    }
  }
}

TEST_F(LogTest, LevelFiltersEveryLoggerIncludingThoseMadeBefore) {
  auto early = Logger("early");  // made before InitLogging: reconfigured in place
  CapturedLog log;
  ASSERT_TRUE(log.Init("text", "warn").ok());
  early->info("dropped");
  early->warn("kept 1");
  Logger("late")->debug("dropped");
  Logger("late")->error("kept 2");
  Logger("late")->critical("kept 3");
  const std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), 3u) << log.Text();
  EXPECT_NE(lines[0].find(" WARN  early: kept 1"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(" ERROR late: kept 2"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find(" CRIT  late: kept 3"), std::string::npos) << lines[2];

  ASSERT_TRUE(log.Init("text", "off").ok());
  Logger("late")->critical("dropped");
  EXPECT_EQ(log.Lines().size(), 3u);
}

TEST_F(LogTest, EnvironmentGivesDefaultsAndFlagsWin) {
  setenv(kLogFormatEnv, "json", 1);
  setenv(kLogLevelEnv, "error", 1);
  {
    CapturedLog log;
    ASSERT_TRUE(log.Init("", "").ok());
    Logger("train")->warn("dropped");
    Logger("train")->error("kept");
    const std::vector<std::string> lines = log.Lines();
    ASSERT_EQ(lines.size(), 1u) << log.Text();
    EXPECT_EQ(nlohmann::json::parse(lines[0]).at("msg"), "kept");
  }
  {
    CapturedLog log;
    ASSERT_TRUE(log.Init("text", "debug").ok());
    Logger("train")->debug("kept");
    const std::vector<std::string> lines = log.Lines();
    ASSERT_EQ(lines.size(), 1u) << log.Text();
    EXPECT_NE(lines[0].find(" DEBUG train: kept"), std::string::npos) << lines[0];
  }
}

TEST_F(LogTest, BadValuesAreRefusedAndNameTheirSource) {
  CapturedLog log;
  Status s = log.Init("xml", "");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("'xml'"), std::string::npos) << s.message();
  EXPECT_EQ(log.Init("", "loud").code(), Status::Code::kInvalidArgument);

  setenv(kLogLevelEnv, "verbose", 1);
  s = log.Init("", "");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("$MERIDIAN_LOG_LEVEL"), std::string::npos) << s.message();
  EXPECT_TRUE(log.Init("", "info").ok()) << "the flag wins over a bad environment value";
}

TEST_F(LogTest, ConcurrentThreadsWriteWholeLines) {
  CapturedLog log;
  ASSERT_TRUE(log.Init("json", "info").ok());
  constexpr int kThreads = 8, kLines = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      auto logger = Logger("worker-" + std::to_string(t % 3));
      for (int i = 0; i < kLines; ++i) logger->info("thread {} line {} \"{}\"", t, i, std::string(t * 10, 'x'));
    });
  }
  for (std::thread& t : threads) t.join();
  const std::vector<std::string> lines = log.Lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  for (const std::string& line : lines) ASSERT_TRUE(nlohmann::json::accept(line)) << line;
}

}  // namespace
}  // namespace meridian
