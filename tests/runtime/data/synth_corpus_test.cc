#include "runtime/data/synth_corpus.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <regex>
#include <sstream>
#include <string>

namespace meridian {
namespace {

// FNV-1a, to pin the corpus without storing it.
uint64_t Fingerprint(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// FNV-1a of GenerateSynthText(1337, 10000), recorded when the generator was written.
constexpr uint64_t kGoldenFingerprint = 17023810215067159637ULL;

TEST(SplitMix64, MatchesTheReferenceStream) {
  // Published outputs of Vigna's splitmix64.c for seed 1234567.
  SplitMix64 rng(1234567);
  EXPECT_EQ(rng.Next(), 6457827717110365317ULL);
  EXPECT_EQ(rng.Next(), 3203168211198807973ULL);
  EXPECT_EQ(rng.Next(), 9817491932198370423ULL);
}

TEST(SplitMix64, BoundedDrawsStayInRangeAndHitEveryValue) {
  SplitMix64 rng(7);
  int seen[10] = {};
  for (int i = 0; i < 10'000; ++i) {
    const uint64_t v = rng.Below(10);
    ASSERT_LT(v, 10u);
    ++seen[v];
  }
  for (int count : seen) EXPECT_GT(count, 800);
  for (int i = 0; i < 1000; ++i) {
    const int64_t v = rng.Between(-3, 3);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
  }
}

TEST(SynthCorpus, SameSeedGivesTheSameText) {
  EXPECT_EQ(GenerateSynthText(5, 50'000), GenerateSynthText(5, 50'000));
}

TEST(SynthCorpus, IsPinnedAcrossPlatforms) {
  // A change here changes every synthetic dataset and loss curve: only
  // update the constant on purpose.
  EXPECT_EQ(Fingerprint(GenerateSynthText(1337, 10'000)), kGoldenFingerprint);
}

TEST(SynthCorpus, DifferentSeedsGiveDifferentText) {
  EXPECT_NE(GenerateSynthText(1, 1000), GenerateSynthText(2, 1000));
}

TEST(SynthCorpus, LongerTextExtendsShorterText) {
  const std::string shorter = GenerateSynthText(9, 1000);
  const std::string longer = GenerateSynthText(9, 5000);
  EXPECT_EQ(longer.substr(0, shorter.size()), shorter);
}

TEST(SynthCorpus, StopsWithinOneLineOfTheRequestedSize) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{123'457}}) {
    const std::string text = GenerateSynthText(3, n);
    EXPECT_GE(text.size(), n);
    EXPECT_LT(text.size(), n + 64);
    if (!text.empty()) {
      EXPECT_EQ(text.back(), '\n');
    }
  }
}

TEST(SynthCorpus, LinesAreTrueFactsAndTemplatedSentences) {
  const std::regex arith(R"((\d+)([-+*])(\d+)=(\d+))");
  const std::regex count(R"(count( \d+){4,7})");
  const std::regex sentence(R"(the [a-z]+ [a-z]+ [a-z]+ the [a-z]+\.)");
  std::istringstream in(GenerateSynthText(11, 100'000));
  std::string line;
  int arith_lines = 0, count_lines = 0, sentences = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, arith)) {
      const long a = std::stol(m[1]), b = std::stol(m[3]), c = std::stol(m[4]);
      const char op = m[2].str()[0];
      EXPECT_EQ(op == '+' ? a + b : op == '-' ? a - b : a * b, c) << line;
      ++arith_lines;
    } else if (std::regex_match(line, count)) {
      std::istringstream nums(line.substr(6));
      long prev = -1, v = 0;
      while (nums >> v) {
        if (prev >= 0) {
          EXPECT_EQ(v, prev + 1) << line;
        }
        prev = v;
      }
      ++count_lines;
    } else if (std::regex_match(line, sentence)) {
      ++sentences;
    } else {
      ADD_FAILURE() << "unexpected line: '" << line << "'";
    }
  }
  const int total = arith_lines + count_lines + sentences;
  EXPECT_GT(total, 5000);
  EXPECT_GT(arith_lines, total / 2);
  EXPECT_GT(count_lines, total / 10);
  EXPECT_GT(sentences, total / 10);
}

}  // namespace
}  // namespace meridian
