// Sharded (version 2) checkpoints: three "ranks" in one process write
// overlapping pieces of the whole state; the reader, the whole-checkpoint
// loaders and the error paths are checked against the original arrays.
#include "runtime/checkpoint/sharded_checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/model/parameter_layout.h"
#include "tests/runtime/checkpoint/test_util.h"

namespace meridian {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing_util::BitEqual;
using testing_util::ExpectErrorNaming;
using testing_util::FreshTempDir;
using testing_util::RandomFloats;
using testing_util::ReadBytes;
using testing_util::TinyConfig;
using testing_util::WriteBytes;

const std::vector<std::string> kArrays = {"model", "adam_m", "adam_v", "outer_momentum"};

// The whole training state the ranks split between them.
struct WholeState {
  GPTConfig config = TinyConfig();
  size_t n = NumParameters(TinyConfig());
  std::map<std::string, std::vector<float>> arrays;
};

WholeState MakeState(uint32_t seed) {
  WholeState s;
  for (size_t i = 0; i < kArrays.size(); ++i) s.arrays[kArrays[i]] = RandomFloats(s.n, seed + uint32_t(i));
  s.arrays["model"][1] = std::numeric_limits<float>::quiet_NaN();
  s.arrays["model"][2] = -0.0f;
  return s;
}

CheckpointHeader HeaderFor(const WholeState& s, int64_t step) {
  CheckpointHeader h;
  h.config = s.config;
  h.step = step;
  h.train_data = DataCursor{3, 17, 123456789};
  h.rng_state = 0xfedcba9876543210ull;  // above 2^63: must survive JSON
  h.extra = {{"dp", 3}, {"note", "sharded"}};
  h.arrays = kArrays;
  return h;
}

ShardPiece Piece(const WholeState& s, const std::string& array, size_t begin, size_t end) {
  return ShardPiece{array, begin, end - begin, s.arrays.at(array).data() + begin};
}

// What each of three ranks writes: every array split differently, with
// overlaps (rank 2 also holds the start of the model, as the last pipeline
// stage holds the tied token embedding) and rank 1 holding two adjacent
// model pieces. Only rank 1 holds model [n/2, 2n/3) and adam_m [n/2, n).
std::vector<std::vector<ShardPiece>> SplitAmongRanks(const WholeState& s) {
  const size_t n = s.n;
  return {
      {Piece(s, "model", 0, n / 3 + 7), Piece(s, "adam_m", 0, n / 2), Piece(s, "adam_v", 100, 200),
       Piece(s, "outer_momentum", n / 4, n)},
      {Piece(s, "model", n / 3, n / 2), Piece(s, "model", n / 2, 2 * n / 3 + 3), Piece(s, "adam_m", n / 2, n),
       Piece(s, "outer_momentum", 0, n / 4)},
      {Piece(s, "model", 0, 16), Piece(s, "model", 2 * n / 3, n), Piece(s, "adam_v", 0, n)},
  };
}

// Every rank writes its shard, then "rank 0" publishes.
Status SaveSharded(const std::string& root, const WholeState& s, int64_t step,
                   const std::vector<std::vector<ShardPiece>>& ranks, double timeout_s = 10.0) {
  const std::string dir = ShardedTempDir(root, step, "test");
  for (size_t r = 0; r < ranks.size(); ++r) MERIDIAN_RETURN_IF_ERROR(WriteRankShard(dir, int(r), ranks[r]));
  return PublishShardedCheckpoint(root, dir, int(ranks.size()), HeaderFor(s, step), timeout_s);
}

std::unique_ptr<CheckpointReader> OpenOrDie(const std::string& dir) {
  Result<std::unique_ptr<CheckpointReader>> r = CheckpointReader::Open(dir);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

// Reads [begin, begin + count) of `array` and compares with the original.
void ExpectRangeReadsBack(CheckpointReader& reader, const WholeState& s, const std::string& array,
                          size_t begin, size_t count) {
  std::vector<float> got(count, 1234.5f);
  const Status st = reader.Read(array, begin, count, got.data());
  ASSERT_TRUE(st.ok()) << st.ToString();
  const std::vector<float> want(s.arrays.at(array).begin() + long(begin),
                                s.arrays.at(array).begin() + long(begin + count));
  EXPECT_TRUE(BitEqual(got, want)) << array << " [" << begin << ", +" << count << ")";
}

// The piece of `file` in the manifest whose whole_offset is `whole_offset`.
json ManifestPiece(const std::string& step_dir, const std::string& array, uint64_t whole_offset) {
  const json m = json::parse(ReadBytes(step_dir + "/manifest.json"));
  for (const json& p : m["pieces"])
    if (p["array"] == array && p["whole_offset"] == whole_offset) return p;
  ADD_FAILURE() << "no piece of " << array << " at " << whole_offset;
  return json::object();
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::string bytes = ReadBytes(path);
  bytes[offset] ^= 0x10;
  WriteBytes(path, bytes);
}

TEST(ShardedCheckpoint, PublishWritesAStepDirectoryOfRankFilesAndPointsLatestAtIt) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(1);
  ASSERT_TRUE(SaveSharded(root, s, 42, SplitAmongRanks(s)).ok());
  const std::string dir = root + "/step_00000042";
  EXPECT_EQ(ReadBytes(root + "/latest"), "step_00000042\n");
  EXPECT_FALSE(fs::exists(ShardedTempDir(root, 42, "test")));
  for (const char* f : {"rank-00000.bin", "rank-00001.bin", "rank-00002.bin", "manifest.json"})
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
  const json m = json::parse(ReadBytes(dir + "/manifest.json"));
  EXPECT_EQ(m["format"], "meridian-checkpoint");
  EXPECT_EQ(m["version"], 2);
  EXPECT_EQ(m["arrays"], json(kArrays));
  ASSERT_EQ(m["files"].size(), 3u);
  EXPECT_EQ(m["files"][1]["file"], "rank-00001.bin");
  EXPECT_EQ(m["files"][1]["bytes"], fs::file_size(dir + "/rank-00001.bin"));
  EXPECT_EQ(m["pieces"].size(), 11u);
  EXPECT_EQ(m["tensors"].size(), size_t(kNumParamTensors));
}

TEST(ShardedCheckpoint, ReaderReturnsAnyRangeBitExactly) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(2);
  ASSERT_TRUE(SaveSharded(root, s, 7, SplitAmongRanks(s)).ok());
  std::unique_ptr<CheckpointReader> reader = OpenOrDie(root + "/step_00000007");
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->format_version(), 2);
  const CheckpointHeader& h = reader->header();
  EXPECT_EQ(h.step, 7);
  EXPECT_EQ(DescribeConfig(h.config), DescribeConfig(s.config));
  EXPECT_EQ(h.rng_state, 0xfedcba9876543210ull);
  EXPECT_EQ(h.train_data.token_offset, 123456789u);
  EXPECT_EQ(h.extra, HeaderFor(s, 7).extra);
  EXPECT_EQ(h.arrays, kArrays);
  EXPECT_TRUE(reader->has_array("outer_momentum"));
  EXPECT_FALSE(reader->has_array("dc1.adam_m"));

  // Spanning the pieces of all three ranks, and the whole of each array.
  ExpectRangeReadsBack(*reader, s, "model", s.n / 3 - 5, s.n / 3 + 20);
  for (const std::string& a : kArrays) ExpectRangeReadsBack(*reader, s, a, 0, s.n);
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    const std::string& a = kArrays[rng() % kArrays.size()];
    const size_t begin = rng() % s.n;
    const size_t count = rng() % (s.n - begin + 1);
    ExpectRangeReadsBack(*reader, s, a, begin, count);
  }
}

TEST(ShardedCheckpoint, WholeCheckpointAndLoadCheckpointEqualTheOriginalArrays) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(3);
  ASSERT_TRUE(SaveSharded(root, s, 9, SplitAmongRanks(s)).ok());
  std::unique_ptr<CheckpointReader> reader = OpenOrDie(root + "/step_00000009");
  ASSERT_TRUE(reader);
  Result<TrainingCheckpoint> whole = ReadWholeCheckpoint(*reader);
  Result<TrainingCheckpoint> loaded = LoadCheckpoint(root);
  for (Result<TrainingCheckpoint>* c : {&whole, &loaded}) {
    ASSERT_TRUE(c->ok()) << c->status().ToString();
    const TrainingCheckpoint& ckpt = c->value();
    EXPECT_EQ(ckpt.step, 9);
    EXPECT_EQ(ckpt.rng_state, 0xfedcba9876543210ull);
    EXPECT_EQ(ckpt.extra["note"], "sharded");
    EXPECT_TRUE(BitEqual(ckpt.params, s.arrays.at("model")));
    EXPECT_TRUE(BitEqual(ckpt.adam_m, s.arrays.at("adam_m")));
    EXPECT_TRUE(BitEqual(ckpt.adam_v, s.arrays.at("adam_v")));
    ASSERT_EQ(ckpt.extra_arrays.size(), 1u);
    EXPECT_TRUE(BitEqual(ckpt.extra_arrays.at("outer_momentum"), s.arrays.at("outer_momentum")));
  }
}

TEST(ShardedCheckpoint, PublishingTheSameStepAgainReplacesIt) {
  const std::string root = FreshTempDir();
  const WholeState first = MakeState(4), second = MakeState(40);
  ASSERT_TRUE(SaveSharded(root, first, 5, SplitAmongRanks(first)).ok());
  ASSERT_TRUE(SaveSharded(root, second, 5, SplitAmongRanks(second)).ok());
  Result<TrainingCheckpoint> loaded = LoadCheckpoint(root + "/step_00000005");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(BitEqual(loaded->params, second.arrays.at("model")));
}

TEST(ShardedCheckpoint, ReadsOutsideTheCheckpointAreRefused) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(5);
  ASSERT_TRUE(SaveSharded(root, s, 1, SplitAmongRanks(s)).ok());
  std::unique_ptr<CheckpointReader> reader = OpenOrDie(root + "/step_00000001");
  ASSERT_TRUE(reader);
  std::vector<float> buf(16);
  ExpectErrorNaming(reader->Read("dc1.adam_m", 0, 1, buf.data()), Status::Code::kNotFound, "dc1.adam_m");
  ExpectErrorNaming(reader->Read("model", s.n - 1, 2, buf.data()), Status::Code::kInvalidArgument, "model",
                    std::to_string(s.n));
  EXPECT_EQ(reader->Read("model", std::numeric_limits<uint64_t>::max(), 2, buf.data()).code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(reader->Read("model", s.n, 0, buf.data()).ok());
}

TEST(ShardedCheckpoint, ARankWithNothingToWriteStillTakesPart) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(16);
  std::vector<std::vector<ShardPiece>> ranks = SplitAmongRanks(s);
  ranks.emplace_back();  // rank 3 holds no part that it writes
  ASSERT_TRUE(SaveSharded(root, s, 8, ranks).ok());
  EXPECT_EQ(fs::file_size(root + "/step_00000008/rank-00003.bin"), 0u);
  Result<TrainingCheckpoint> loaded = LoadCheckpoint(root);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(BitEqual(loaded->adam_v, s.arrays.at("adam_v")));
}

TEST(ShardedCheckpoint, PublishWithAMissingRankTimesOutNamingItsFile) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(6);
  std::vector<std::vector<ShardPiece>> ranks = SplitAmongRanks(s);
  const std::string dir = ShardedTempDir(root, 3, "test");
  ASSERT_TRUE(WriteRankShard(dir, 0, ranks[0]).ok());
  ASSERT_TRUE(WriteRankShard(dir, 1, ranks[1]).ok());
  const Status st = PublishShardedCheckpoint(root, dir, 3, HeaderFor(s, 3), /*timeout_s=*/0.05);
  ExpectErrorNaming(st, Status::Code::kDeadlineExceeded, "rank-00002.json", "shared");
  EXPECT_EQ(st.message().find("rank-00001.json"), std::string::npos) << st.ToString();
  EXPECT_TRUE(fs::exists(dir));  // left for inspection
  EXPECT_FALSE(fs::exists(root + "/step_00000003"));
  EXPECT_FALSE(fs::exists(root + "/latest"));
}

TEST(ShardedCheckpoint, AnUncoveredRangeIsCorruptionNamingTheArrayAndOffset) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(7);
  std::vector<std::vector<ShardPiece>> ranks = SplitAmongRanks(s);
  ranks[1][2] = Piece(s, "adam_m", s.n / 2 + 5, s.n);  // floats [n/2, n/2 + 5) are nobody's
  ExpectErrorNaming(SaveSharded(root, s, 2, ranks), Status::Code::kCorruption, "'adam_m'",
                    "offset " + std::to_string(s.n / 2));
  EXPECT_FALSE(fs::exists(root + "/step_00000002"));

  ranks = SplitAmongRanks(s);
  ranks[2].pop_back();  // adam_v held only in [100, 200)
  ExpectErrorNaming(SaveSharded(root, s, 2, ranks), Status::Code::kCorruption, "'adam_v'", "offset 0");
}

TEST(ShardedCheckpoint, PiecesOfAnArrayTheHeaderDoesNotListAreRefused) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(8);
  std::vector<std::vector<ShardPiece>> ranks = SplitAmongRanks(s);
  ranks[0].push_back(ShardPiece{"dc1.adam_m", 0, 4, s.arrays.at("model").data()});
  ExpectErrorNaming(SaveSharded(root, s, 2, ranks), Status::Code::kCorruption, "dc1.adam_m", "arrays");
}

TEST(ShardedCheckpoint, WriteRankShardRefusesBadPieces) {
  const std::string dir = FreshTempDir() + "/shard";
  const std::vector<float> data(8);
  ExpectErrorNaming(WriteRankShard(dir, 0, {{"model", 0, 8, nullptr}}), Status::Code::kInvalidArgument,
                    "no data");
  ExpectErrorNaming(WriteRankShard(dir, 0, {{"model", 0, 0, data.data()}}), Status::Code::kInvalidArgument,
                    "empty");
  ExpectErrorNaming(WriteRankShard(dir, 0, {{"../model", 0, 8, data.data()}}),
                    Status::Code::kInvalidArgument, "'../model'");
  EXPECT_EQ(WriteRankShard(dir, -1, {}).code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir + "/rank-00000.json"));
}

TEST(ShardedCheckpoint, AFlippedByteFailsOnlyReadsOfItsPiece) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(9);
  ASSERT_TRUE(SaveSharded(root, s, 4, SplitAmongRanks(s)).ok());
  const std::string dir = root + "/step_00000004";
  const json piece = ManifestPiece(dir, "model", s.n / 2);
  ASSERT_EQ(piece["file"], "rank-00001.bin");
  FlipByte(dir + "/rank-00001.bin", piece["file_offset"].get<uint64_t>() + 40);

  std::unique_ptr<CheckpointReader> reader = OpenOrDie(dir);  // contents are checked as read
  ASSERT_TRUE(reader);
  std::vector<float> buf(s.n);
  ExpectErrorNaming(reader->Read("model", s.n / 2 + 20, 5, buf.data()), Status::Code::kCorruption,
                    dir + "/rank-00001.bin", "checksum mismatch");
  ExpectRangeReadsBack(*reader, s, "model", 0, 10);           // rank 0's piece
  ExpectRangeReadsBack(*reader, s, "adam_m", s.n / 2, s.n / 2);  // rank 1's other piece: intact
  ExpectErrorNaming(LoadCheckpoint(dir).status(), Status::Code::kCorruption, "rank-00001.bin");
}

TEST(ShardedCheckpoint, ATruncatedRankFileFailsOpenNamingIt) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(10);
  ASSERT_TRUE(SaveSharded(root, s, 4, SplitAmongRanks(s)).ok());
  const std::string dir = root + "/step_00000004";
  const std::string file = dir + "/rank-00002.bin";
  fs::resize_file(file, fs::file_size(file) - 4);
  ExpectErrorNaming(CheckpointReader::Open(dir).status(), Status::Code::kCorruption, file, "size mismatch");
  fs::remove(file);
  ExpectErrorNaming(CheckpointReader::Open(dir).status(), Status::Code::kNotFound, file);
}

TEST(ShardedCheckpoint, AVersion1DirectoryReadsThroughTheReader) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(11);
  TrainingCheckpoint c;
  c.config = s.config;
  c.step = 6;
  c.params = s.arrays.at("model");
  c.adam_m = s.arrays.at("adam_m");
  c.adam_v = s.arrays.at("adam_v");
  c.extra_arrays["outer_momentum"] = s.arrays.at("outer_momentum");
  c.rng_state = 99;
  ASSERT_TRUE(SaveCheckpoint(root, c).ok());
  const std::string dir = root + "/step_00000006";
  FlipByte(dir + "/adam_v.bin", 12);

  std::unique_ptr<CheckpointReader> reader = OpenOrDie(dir);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->format_version(), 1);
  EXPECT_EQ(reader->header().step, 6);
  EXPECT_EQ(reader->header().rng_state, 99u);
  EXPECT_EQ(reader->header().arrays, kArrays);
  std::mt19937 rng(11);
  for (int i = 0; i < 50; ++i) {
    const std::string& a = kArrays[rng() % 2 == 0 ? 0 : 3];
    const size_t begin = rng() % s.n;
    ExpectRangeReadsBack(*reader, s, a, begin, rng() % (s.n - begin + 1));
  }
  std::vector<float> buf(4);
  ExpectErrorNaming(reader->Read("adam_v", 100, 4, buf.data()), Status::Code::kCorruption,
                    dir + "/adam_v.bin", "checksum mismatch");
  ExpectRangeReadsBack(*reader, s, "adam_m", 3, 100);
}

TEST(ShardedCheckpoint, NewestValidSkipsACorruptedShardedNewest) {
  const std::string root = FreshTempDir();
  const WholeState older = MakeState(12), newer = MakeState(13);
  TrainingCheckpoint c;
  c.config = older.config;
  c.step = 1;
  c.params = older.arrays.at("model");
  ASSERT_TRUE(SaveCheckpoint(root, c).ok());
  ASSERT_TRUE(SaveSharded(root, newer, 2, SplitAmongRanks(newer)).ok());
  FlipByte(root + "/step_00000002/rank-00000.bin", 8);

  std::string path;
  std::vector<Status> skipped;
  Result<TrainingCheckpoint> ckpt = LoadNewestValidCheckpoint(root, &path, &skipped);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  EXPECT_EQ(path, root + "/step_00000001");
  EXPECT_TRUE(BitEqual(ckpt->params, older.arrays.at("model")));
  ASSERT_EQ(skipped.size(), 1u);
  ExpectErrorNaming(skipped[0], Status::Code::kCorruption, root + "/step_00000002/rank-00000.bin");
}

// Rewrites one field of the first piece in manifest.json.
void EditFirstPiece(const std::string& dir, const char* field, const json& value) {
  json m = json::parse(ReadBytes(dir + "/manifest.json"));
  m["pieces"][0][field] = value;
  WriteBytes(dir + "/manifest.json", m.dump(1));
}

TEST(ShardedCheckpoint, PiecesRunningPastTheirFileOrArrayAreCorruption) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(14);
  ASSERT_TRUE(SaveSharded(root, s, 1, SplitAmongRanks(s)).ok());
  const std::string dir = root + "/step_00000001";
  const std::string original = ReadBytes(dir + "/manifest.json");
  const uint64_t file_bytes = fs::file_size(dir + "/rank-00000.bin");
  const uint64_t huge = std::numeric_limits<uint64_t>::max();
  struct Edit {
    const char* field;
    json value;
    const char* says;
  };
  for (const Edit& e : {Edit{"file_offset", file_bytes - 8, "past the end of rank-00000.bin"},
                        Edit{"file_offset", huge, "past the end of rank-00000.bin"},
                        Edit{"count", huge, "past the end of the array"},
                        Edit{"count", uint64_t{1} << 62, "past the end of the array"},
                        Edit{"whole_offset", huge - 2, "past the end of the array"},
                        Edit{"count", 0, "empty"},
                        Edit{"count", -1, "non-negative integer"},
                        Edit{"file", "../latest", "not in 'files'"},
                        Edit{"array", "adam", "not in 'arrays'"},
                        Edit{"xxh64", "12", "hex digits"}}) {
    WriteBytes(dir + "/manifest.json", original);
    EditFirstPiece(dir, e.field, e.value);
    ExpectErrorNaming(CheckpointReader::Open(dir).status(), Status::Code::kCorruption,
                      dir + "/manifest.json", e.says);
  }
  WriteBytes(dir + "/manifest.json", original);
  {
    json m = json::parse(original);
    m["pieces"][1]["file_offset"] = 0;  // shares rank 0's first bytes with pieces[0]
    WriteBytes(dir + "/manifest.json", m.dump());
    ExpectErrorNaming(CheckpointReader::Open(dir).status(), Status::Code::kCorruption, "overlaps");
  }
  {
    json m = json::parse(original);
    m["pieces"].erase(m["pieces"].size() - 1);  // rank 2's adam_v [0, n): the rest is [100, 200)
    WriteBytes(dir + "/manifest.json", m.dump());
    ExpectErrorNaming(CheckpointReader::Open(dir).status(), Status::Code::kCorruption, "'adam_v'",
                      "no piece covering offset 0");
  }
}

// Random damage to the pieces must give an error, never a crash, a hang or
// a huge allocation. (A damaged manifest can still read: a moved piece
// keeps a matching checksum, which guards the data, not the manifest.)
TEST(ShardedCheckpoint, FuzzedManifestsGiveErrorsNotCrashes) {
  const std::string root = FreshTempDir();
  const WholeState s = MakeState(15);
  ASSERT_TRUE(SaveSharded(root, s, 1, SplitAmongRanks(s)).ok());
  const std::string dir = root + "/step_00000001";
  const json original = json::parse(ReadBytes(dir + "/manifest.json"));
  const std::vector<json> values = {0, 1, 3, 4, 16, s.n / 2, s.n - 1, s.n, s.n + 1,
                                    uint64_t{1} << 31, uint64_t{1} << 32, uint64_t{1} << 62,
                                    std::numeric_limits<uint64_t>::max(), -1, "x", nullptr};
  const char* fields[] = {"whole_offset", "count", "file_offset"};
  std::mt19937 rng(15);
  int opened = 0;
  for (int i = 0; i < 300; ++i) {
    json m = original;
    for (int k = 0, edits = 1 + int(rng() % 3); k < edits; ++k) {
      json& piece = m["pieces"][rng() % m["pieces"].size()];
      piece[fields[rng() % 3]] = values[rng() % values.size()];
    }
    if (rng() % 8 == 0) m["files"][rng() % 3]["bytes"] = values[rng() % values.size()];
    WriteBytes(dir + "/manifest.json", m.dump());
    Result<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(dir);
    if (!reader.ok()) {
      EXPECT_EQ(reader.status().code(), Status::Code::kCorruption) << reader.status().ToString();
      continue;
    }
    ++opened;
    Result<TrainingCheckpoint> whole = ReadWholeCheckpoint(**reader);
    if (!whole.ok()) {
      EXPECT_EQ(whole.status().code(), Status::Code::kCorruption) << whole.status().ToString();
    }
  }
  EXPECT_LT(opened, 300);
}

}  // namespace
}  // namespace meridian
