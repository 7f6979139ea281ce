#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "runtime/parallel/compression.h"
#include "runtime/parallel/data_centers.h"
#include "runtime/parallel/parallel_layout.h"
#include "runtime/parallel/pipeline_schedule.h"
#include "runtime/parallel/stage_params.h"

namespace meridian {
namespace {

TEST(ParallelLayout, RejectsMismatchedDegreesNamingEach) {
  Status s = ValidateLayout(ParallelLayout{2, 3}, 4, 12);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("dp 2 x pp 3 = 6"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("4"), std::string::npos);
  EXPECT_FALSE(ValidateLayout(ParallelLayout{1, 5}, 5, 4).ok());
  EXPECT_TRUE(ValidateLayout(ParallelLayout{2, 2}, 4, 4).ok());
  ParallelLayout l{2, 3};
  EXPECT_EQ(l.RankOf(l.DpIndex(4), l.Stage(4)), 4);
  EXPECT_EQ(l.Stage(4), 1);
}

TEST(PartitionLayers, CoversEveryLayerOnceAndBalancesTheHead) {
  GPTConfig c = *PresetConfig("d12");
  for (int pp : {1, 2, 3, 4, 12}) {
    auto stages = PartitionLayers(c, pp, 1024);
    ASSERT_EQ((int)stages.size(), pp);
    int next = 0;
    for (const StageSpec& s : stages) {
      EXPECT_EQ(s.layer_begin, next);
      EXPECT_GE(s.num_layers(), 1);
      next = s.layer_end;
    }
    EXPECT_EQ(next, c.n_layer);
    EXPECT_TRUE(stages.front().first);
    EXPECT_TRUE(stages.back().last);
  }
  // The LM head (50304 x 768) costs about 1.5 layers at seq 1024: the last
  // of 4 stages gets fewer layers than the first.
  auto four = PartitionLayers(c, 4, 1024);
  EXPECT_LT(four.back().num_layers(), four.front().num_layers());
}

TEST(PipelineSchedule, OneFOneBRunsEveryMicroBatchOnceInOrder) {
  for (int pp : {1, 2, 4}) {
    for (int m : {1, 2, 3, 8}) {
      for (int stage = 0; stage < pp; ++stage) {
        auto a = BuildPipelineSchedule(PipelineScheduleKind::k1F1B, stage, pp, m);
        ASSERT_EQ((int)a.size(), 2 * m);
        int next_f = 0, next_b = 0, in_flight = 0, max_in_flight = 0;
        for (const auto& x : a) {
          if (x.forward) {
            EXPECT_EQ(x.microbatch, next_f++);
            max_in_flight = std::max(max_in_flight, ++in_flight);
          } else {
            EXPECT_EQ(x.microbatch, next_b++);
            EXPECT_LT(x.microbatch, next_f);  // backward after its forward
            --in_flight;
          }
        }
        EXPECT_LE(max_in_flight, PipelineSlots(PipelineScheduleKind::k1F1B, stage, pp, m));
      }
    }
  }
  // The last stage alternates from the start; stage 0 of 4 warms up with 3.
  auto last = BuildPipelineSchedule(PipelineScheduleKind::k1F1B, 3, 4, 4);
  EXPECT_EQ(last[0], (PipelineAction{true, 0}));
  EXPECT_EQ(last[1], (PipelineAction{false, 0}));
  auto first = BuildPipelineSchedule(PipelineScheduleKind::k1F1B, 0, 4, 4);
  EXPECT_TRUE(first[0].forward && first[1].forward && first[2].forward && first[3].forward);
  EXPECT_NEAR(IdealBubbleFraction(4, 4), 3.0 / 7.0, 1e-12);
}

TEST(StageParams, StagesRoundTripThroughTheWholeModel) {
  GPTConfig c = *PresetConfig("d4");
  c.vocab_size = 64; c.padded_vocab_size = 64; c.max_seq_len = 8; c.n_embd = 16; c.n_head = 2;
  ParameterLayout whole(c, WholeModel(c));
  std::vector<float> src(whole.total());
  std::iota(src.begin(), src.end(), 0.0f);
  std::vector<float> rebuilt(whole.total(), -1.0f);
  for (const StageSpec& s : PartitionLayers(c, 3, 8)) {
    ParameterLayout stage(c, s);
    std::vector<float> part(stage.total());
    CopyWholeToStage(whole, src.data(), stage, part.data());
    CopyStageToWhole(stage, part.data(), whole, rebuilt.data());
  }
  EXPECT_EQ(rebuilt, src);
}

TEST(Compression, RoundTripsWithinEachFormatsPrecision) {
  std::vector<float> x(1000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * i) * (i % 7 == 0 ? 100.0f : 0.01f);
  for (Compression c : {Compression::kNone, Compression::kFp16, Compression::kInt8}) {
    std::vector<uint8_t> payload(CompressedBytes(c, x.size()));
    Compress(c, x.data(), x.size(), nullptr, payload.data());
    std::vector<float> y(x.size(), 0.0f);
    DecompressAdd(c, payload.data(), x.size(), 1.0f, y.data());
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t chunk = i / kInt8Chunk;
      float chunk_max = 0;
      for (size_t j = chunk * kInt8Chunk; j < std::min(x.size(), (chunk + 1) * kInt8Chunk); ++j)
        chunk_max = std::max(chunk_max, std::fabs(x[j]));
      const float tol = c == Compression::kNone ? 0.0f
                        : c == Compression::kFp16 ? std::fabs(x[i]) * 1e-3f + 1e-7f
                                                  : chunk_max / 127.0f * 0.5f + 1e-7f;
      ASSERT_LE(std::fabs(y[i] - x[i]), tol) << CompressionName(c) << " at " << i;
    }
  }
  EXPECT_EQ(CompressedBytes(Compression::kInt8, 1000), 1000u + 4 * 4);
  EXPECT_EQ(CompressedBytes(Compression::kFp16, 1000), 2000u);
}

TEST(Compression, Int4RoundTripsWithinHalfAStepOfItsBlock) {
  std::vector<float> x(1000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * i) * (i % 7 == 0 ? 100.0f : 0.01f);
  std::vector<uint8_t> payload(CompressedBytes(Compression::kInt4, x.size()));
  Compress(Compression::kInt4, x.data(), x.size(), nullptr, payload.data());
  std::vector<float> y(x.size(), 0.0f);
  DecompressAdd(Compression::kInt4, payload.data(), x.size(), 1.0f, y.data());
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t block = i / kInt4Block;
    float block_max = 0;
    for (size_t j = block * kInt4Block; j < std::min(x.size(), (block + 1) * kInt4Block); ++j)
      block_max = std::max(block_max, std::fabs(x[j]));
    ASSERT_LE(std::fabs(y[i] - x[i]), block_max / 7.0f * 0.5f * (1 + 1e-5f) + 1e-7f) << i;
  }
  EXPECT_EQ(CompressedBytes(Compression::kInt4, 1000), 500u + 4 * 16);  // 16 blocks of 64
  EXPECT_EQ(CompressedBytes(Compression::kInt4, 3), 2u + 4);             // an odd count rounds up a byte
}

// Top-k: each chunk sends its kSparseTopK largest values and nothing else;
// 2-bit codes (+-s, +-s/3) put each within s/3 of the truth, s the chunk's
// largest: a small value that makes the top-k goes as s/3, and the error
// feedback takes back the difference.
TEST(Compression, SparseSendsEachChunksLargestValuesOnly) {
  std::vector<float> x(600, 0.0f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.001f * std::sin(0.1f * i);
  const size_t big[] = {3, 77, 200, 255, 256, 300, 511, 599};  // 4 in the first chunk, 3 in the second, 1 in the last
  for (size_t i : big) x[i] = (i % 2 ? -1.0f : 1.0f) * (1.0f + i / 1000.0f);
  std::vector<uint8_t> payload(CompressedBytes(Compression::kSparse, x.size()));
  Compress(Compression::kSparse, x.data(), x.size(), nullptr, payload.data());
  std::vector<float> y(x.size(), 0.0f);
  DecompressAdd(Compression::kSparse, payload.data(), x.size(), 1.0f, y.data());
  size_t sent = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (y[i] == 0.0f) continue;
    ++sent;
    const bool is_big = std::find(std::begin(big), std::end(big), i) != std::end(big);
    if (i < 256) EXPECT_TRUE(is_big) << i << " was sent, not one of the largest";
    EXPECT_NEAR(y[i], x[i], 1.6f / 3) << i;
  }
  EXPECT_EQ(sent, 3 * kSparseTopK);  // top-k of each of the three chunks
  // Scale, k indices and k 2-bit codes per chunk.
  EXPECT_EQ(CompressedBytes(Compression::kSparse, 600), 3 * (4 + kSparseTopK + (2 * kSparseTopK + 7) / 8));
  EXPECT_LT(CompressedBytes(Compression::kSparse, 1 << 20) * 100, CompressedBytes(Compression::kNone, 1 << 20));
}

// Error feedback loses nothing: after any number of rounds, what was sent
// plus what waits in the error buffer is exactly what went in, so every
// value is sent in the end however small.
TEST(Compression, ErrorFeedbackConservesWhatWasNotSentYet) {
  for (Compression c : {Compression::kInt8, Compression::kInt4, Compression::kSparse}) {
    std::vector<float> x(700), error(700, 0.0f), sent(700, 0.0f);
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.001f * (float)((i * 7919) % 13) - 0.004f + (i == 5 ? 1.0f : 0.0f);
    std::vector<uint8_t> payload(CompressedBytes(c, x.size()));
    const int rounds = 40;
    for (int r = 0; r < rounds; ++r) {
      Compress(c, x.data(), x.size(), error.data(), payload.data());
      DecompressAdd(c, payload.data(), x.size(), 1.0f, sent.data());
    }
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(sent[i] + error[i], rounds * x[i], 1e-4f) << CompressionName(c) << " at " << i;
  }
}

TEST(Compression, EveryModeHasAWord) {
  for (Compression c : {Compression::kNone, Compression::kFp16, Compression::kInt8, Compression::kInt4,
                        Compression::kSparse})
    EXPECT_EQ(*ParseCompression(CompressionName(c)), c);
  EXPECT_FALSE(ParseCompression("int2").ok());
}

// Error feedback: over many rounds of the same input, the sum of what was
// sent tracks the sum of what should have been sent to within one step.
TEST(Compression, Int8ErrorFeedbackKeepsTheRunningSumExact) {
  std::vector<float> x(300), error(300, 0.0f), sent(300, 0.0f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.001f * (float)((i * 7919) % 13) - 0.004f + (i == 5 ? 1.0f : 0.0f);
  std::vector<uint8_t> payload(CompressedBytes(Compression::kInt8, x.size()));
  const int rounds = 50;
  for (int r = 0; r < rounds; ++r) {
    Compress(Compression::kInt8, x.data(), x.size(), error.data(), payload.data());
    DecompressAdd(Compression::kInt8, payload.data(), x.size(), 1.0f, sent.data());
  }
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(sent[i], rounds * x[i], 1.0f / 127.0f + 1e-4f) << i;
}

TEST(ParsePools, AcceptsADataCenterThatRecursForStraddlingReplicas) {
  // DP2 x PP2 with each replica's stage 0 in east and stage 1 in west.
  auto map = ParsePools("east:1,west:1,east:1,west:1", 4);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->names, (std::vector<std::string>{"east", "west"}));
  EXPECT_EQ(map->rank_to_dc, (std::vector<int>{0, 1, 0, 1}));
  auto merged = ParsePools("east:2,east:1", 3);
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->num_data_centers(), 1);
}

TEST(ParsePools, MapsConsecutiveRanksToDataCenters) {
  auto map = ParsePools("east:2,west:3", 5);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->names, (std::vector<std::string>{"east", "west"}));
  EXPECT_EQ(map->rank_to_dc, (std::vector<int>{0, 0, 1, 1, 1}));
  EXPECT_EQ(ParsePools("", 3)->num_data_centers(), 1);
  EXPECT_NE(ParsePools("east:2,west:2", 5).status().message().find("5"), std::string::npos);
  EXPECT_NE(ParsePools("east", 1).status().message().find("'east'"), std::string::npos);
  EXPECT_FALSE(ParsePools("east:x", 1).ok());
}

}  // namespace
}  // namespace meridian
