#include "runtime/checkpoint/checkpoint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
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

TrainingCheckpoint MakeCheckpoint(int64_t step, uint32_t seed, bool with_optimizer = true) {
  TrainingCheckpoint c;
  c.config = TinyConfig();
  c.step = step;
  const size_t n = NumParameters(c.config);
  c.params = RandomFloats(n, seed);
  if (with_optimizer) {
    c.adam_m = RandomFloats(n, seed + 1);
    c.adam_v = RandomFloats(n, seed + 2);
  }
  c.train_data = DataCursor{3, 17, 123456789};
  c.rng_state = 0xfedcba9876543210ull;  // above 2^63: must survive JSON
  c.extra = {{"lr", 6e-4}, {"layout", {{"dp", 2}, {"pp", 1}}}, {"note", "tiny"}};
  return c;
}

// Rewrites a step directory's manifest through `edit`.
template <typename Edit>
void EditManifest(const std::string& step_dir, Edit edit) {
  const std::string path = step_dir + "/manifest.json";
  json m = json::parse(ReadBytes(path));
  edit(m);
  WriteBytes(path, m.dump(2));
}

TEST(TrainingCheckpoint, SavedCheckpointLoadsBackBitExactly) {
  const std::string root = FreshTempDir();
  TrainingCheckpoint saved = MakeCheckpoint(42, 1);
  saved.params[0] = std::numeric_limits<float>::quiet_NaN();
  saved.params[1] = -0.0f;
  ASSERT_TRUE(SaveCheckpoint(root, saved).ok());

  Result<TrainingCheckpoint> loaded = LoadCheckpoint(root + "/step_00000042");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->step, 42);
  EXPECT_EQ(DescribeConfig(loaded->config), DescribeConfig(saved.config));
  EXPECT_TRUE(BitEqual(loaded->params, saved.params));
  EXPECT_TRUE(BitEqual(loaded->adam_m, saved.adam_m));
  EXPECT_TRUE(BitEqual(loaded->adam_v, saved.adam_v));
  EXPECT_EQ(loaded->train_data.epoch, 3u);
  EXPECT_EQ(loaded->train_data.shard_index, 17u);
  EXPECT_EQ(loaded->train_data.token_offset, 123456789u);
  EXPECT_EQ(loaded->rng_state, 0xfedcba9876543210ull);
  EXPECT_EQ(loaded->extra, saved.extra);
}

TEST(TrainingCheckpoint, CheckpointWithoutOptimizerStateLoadsWithEmptyMoments) {
  const std::string root = FreshTempDir();
  const TrainingCheckpoint saved = MakeCheckpoint(5, 2, /*with_optimizer=*/false);
  ASSERT_TRUE(SaveCheckpoint(root, saved).ok());
  EXPECT_FALSE(fs::exists(root + "/step_00000005/adam_m.bin"));
  Result<TrainingCheckpoint> loaded = LoadCheckpoint(root);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(BitEqual(loaded->params, saved.params));
  EXPECT_TRUE(loaded->adam_m.empty());
  EXPECT_TRUE(loaded->adam_v.empty());
}

TEST(TrainingCheckpoint, ExtraArraysRoundTripAndAreChecked) {
  const std::string root = FreshTempDir();
  TrainingCheckpoint saved = MakeCheckpoint(7, 3);
  saved.extra_arrays["outer_start"] = saved.adam_m;
  saved.extra_arrays["outer_momentum"] = saved.adam_v;
  saved.extra_arrays["dc1.adam_m"] = saved.params;
  ASSERT_TRUE(SaveCheckpoint(root, saved).ok());
  EXPECT_TRUE(fs::exists(root + "/step_00000007/outer_momentum.bin"));
  EXPECT_TRUE(fs::exists(root + "/step_00000007/dc1.adam_m.bin"));
  Result<TrainingCheckpoint> loaded = LoadCheckpoint(root);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->extra_arrays.size(), 3u);
  EXPECT_TRUE(BitEqual(loaded->extra_arrays["outer_start"], saved.adam_m));
  EXPECT_TRUE(BitEqual(loaded->extra_arrays["dc1.adam_m"], saved.params));
  // A damaged outer array is caught like any other.
  WriteBytes(root + "/step_00000007/outer_momentum.bin", "short");
  Result<TrainingCheckpoint> damaged = LoadCheckpoint(root);
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(damaged.status().message().find("outer_momentum"), std::string::npos);
  saved.extra_arrays["outer_error"].assign(3, 0.0f);
  Status s = SaveCheckpoint(FreshTempDir(), saved);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("outer_error"), std::string::npos);
  saved.extra_arrays.erase("outer_error");
  saved.extra_arrays["../escape"] = saved.params;
  EXPECT_EQ(SaveCheckpoint(FreshTempDir(), saved).code(), Status::Code::kInvalidArgument);
}

TEST(TrainingCheckpoint, SaveWritesAStepDirectoryAndPointsLatestAtIt) {
  const std::string root = FreshTempDir() + "/run";  // created on demand
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(42, 1)).ok());
  for (const char* f : {"manifest.json", "model.bin", "adam_m.bin", "adam_v.bin"}) {
    EXPECT_TRUE(fs::is_regular_file(root + "/step_00000042/" + f)) << f;
  }
  EXPECT_EQ(ReadBytes(root + "/latest"), "step_00000042\n");
  // Nothing temporary is left behind.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(root)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"latest", "step_00000042"}));
  EXPECT_EQ(fs::file_size(root + "/step_00000042/model.bin"),
            NumParameters(TinyConfig()) * sizeof(float));
}

TEST(TrainingCheckpoint, ManifestListsEveryTensorWithItsOffsetCountAndShape) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  const json m = json::parse(ReadBytes(root + "/step_00000001/manifest.json"));
  EXPECT_EQ(m["format"], "meridian-checkpoint");
  EXPECT_EQ(m["version"], 1);
  EXPECT_EQ(m["step"], 1);
  EXPECT_EQ(m["model"]["n_layer"], 2);
  EXPECT_EQ(m["files"]["model"]["file"], "model.bin");
  EXPECT_EQ(m["files"]["model"]["xxh64"].get<std::string>().size(), 16u);
  const ParameterLayout layout(TinyConfig(), WholeModel(TinyConfig()));
  ASSERT_EQ(m["tensors"].size(), static_cast<size_t>(kNumParamTensors));
  for (int i = 0; i < kNumParamTensors; ++i) {
    EXPECT_EQ(m["tensors"][i]["name"], layout.tensor(i).name);
    EXPECT_EQ(m["tensors"][i]["offset"], layout.tensor(i).offset);
    EXPECT_EQ(m["tensors"][i]["count"], layout.tensor(i).count);
    EXPECT_EQ(m["tensors"][i]["shape"], json(layout.tensor(i).shape));
  }
  EXPECT_EQ(m["tensors"][4]["name"], "qkvw");
  EXPECT_EQ(m["tensors"][4]["shape"], json({2, 24, 8}));
}

TEST(TrainingCheckpoint, LoadingTheRootPicksTheLatestStep) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(10, 1)).ok());
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(20, 2)).ok());
  Result<std::string> latest = LatestCheckpoint(root);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(fs::path(*latest).filename(), "step_00000020");
  Result<TrainingCheckpoint> loaded = LoadCheckpoint(root + "/");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->step, 20);
  EXPECT_TRUE(BitEqual(loaded->params, MakeCheckpoint(20, 2).params));
}

TEST(TrainingCheckpoint, LatestFallsBackToTheHighestStepWhenTheLatestFileIsMissing) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(9, 1)).ok());
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(100, 2)).ok());
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(30, 3)).ok());
  fs::remove(root + "/latest");
  Result<std::string> latest = LatestCheckpoint(root);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(fs::path(*latest).filename(), "step_00000100");
}

TEST(TrainingCheckpoint, LatestFileNamingAMissingDirectoryIsIgnored) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(7, 1)).ok());
  WriteBytes(root + "/latest", "step_00000999\n");
  Result<std::string> latest = LatestCheckpoint(root);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(fs::path(*latest).filename(), "step_00000007");
}

TEST(TrainingCheckpoint, LeftoverTemporaryDirectoryFromACrashIsIgnored) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(5, 1)).ok());
  // A save of step 6 that died before its rename: complete-looking files
  // under the temporary name, and even a `latest` pointing at it.
  fs::copy(root + "/step_00000005", root + "/step_00000006.tmp-123");
  WriteBytes(root + "/step_00000006.tmp-123/model.bin", "half");
  WriteBytes(root + "/latest", "step_00000006.tmp-123\n");

  Result<std::string> latest = LatestCheckpoint(root);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(fs::path(*latest).filename(), "step_00000005");
  fs::remove(root + "/latest");
  Result<TrainingCheckpoint> loaded = LoadCheckpoint(root);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->step, 5);
}

TEST(TrainingCheckpoint, RootWithOnlyATemporaryDirectoryHasNoCheckpoint) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(5, 1)).ok());
  fs::rename(root + "/step_00000005", root + "/step_00000005.tmp-123");
  ExpectErrorNaming(LatestCheckpoint(root).status(), Status::Code::kNotFound, root);
  ExpectErrorNaming(LoadCheckpoint(root).status(), Status::Code::kNotFound, root);
}

TEST(TrainingCheckpoint, MissingRootIsNotFound) {
  const std::string root = FreshTempDir() + "/nothing_here";
  ExpectErrorNaming(LatestCheckpoint(root).status(), Status::Code::kNotFound, root);
  ExpectErrorNaming(LoadCheckpoint(root).status(), Status::Code::kNotFound, root);
}

TEST(TrainingCheckpoint, SavingTheSameStepAgainReplacesIt) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(3, 1)).ok());
  const TrainingCheckpoint second = MakeCheckpoint(3, 50, /*with_optimizer=*/false);
  ASSERT_TRUE(SaveCheckpoint(root, second).ok());
  Result<TrainingCheckpoint> loaded = LoadCheckpoint(root + "/step_00000003");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(BitEqual(loaded->params, second.params));
  EXPECT_FALSE(fs::exists(root + "/step_00000003/adam_m.bin"));
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(root)) ++entries;
  EXPECT_EQ(entries, 2);  // step_00000003 and latest, no leftovers
}

TEST(TrainingCheckpoint, FlippedByteInModelBinIsAChecksumErrorNamingModelBin) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  const std::string path = root + "/step_00000001/model.bin";
  std::string bytes = ReadBytes(path);
  bytes[bytes.size() / 2] ^= 0x01;
  WriteBytes(path, bytes);
  const json m = json::parse(ReadBytes(root + "/step_00000001/manifest.json"));
  const std::string expected_hash = m["files"]["model"]["xxh64"];
  const Status s = LoadCheckpoint(root).status();
  ExpectErrorNaming(s, Status::Code::kCorruption, path, "checksum mismatch");
  EXPECT_NE(s.message().find(expected_hash), std::string::npos) << s.ToString();
}

TEST(TrainingCheckpoint, TruncatedAdamMIsASizeError) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  const std::string path = root + "/step_00000001/adam_m.bin";
  fs::resize_file(path, fs::file_size(path) - 4);
  ExpectErrorNaming(LoadCheckpoint(root).status(), Status::Code::kCorruption, path,
                    "size mismatch");
}

TEST(TrainingCheckpoint, MissingDataFileIsNotFoundNamingIt) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  const std::string path = root + "/step_00000001/adam_v.bin";
  fs::remove(path);
  ExpectErrorNaming(LoadCheckpoint(root).status(), Status::Code::kNotFound, path);
}

TEST(TrainingCheckpoint, StepDirectoryWithoutManifestIsNotFoundNamingTheManifest) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  fs::remove(root + "/step_00000001/manifest.json");
  ExpectErrorNaming(LoadCheckpoint(root + "/step_00000001").status(), Status::Code::kNotFound,
                    root + "/step_00000001/manifest.json");
}

TEST(TrainingCheckpoint, ManifestThatIsNotJsonIsCorruption) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  const std::string path = root + "/step_00000001/manifest.json";
  WriteBytes(path, "{\"format\": \"meridian-checkpoint\", ");
  ExpectErrorNaming(LoadCheckpoint(root).status(), Status::Code::kCorruption, path,
                    "not valid JSON");
}

TEST(TrainingCheckpoint, ManifestMissingAFieldNamesTheField) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  const std::string dir = root + "/step_00000001";
  EditManifest(dir, [](json& m) { m["model"].erase("n_head"); });
  ExpectErrorNaming(LoadCheckpoint(dir).status(), Status::Code::kCorruption,
                    dir + "/manifest.json", "'model.n_head' is missing");

  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  EditManifest(dir, [](json& m) { m.erase("rng_state"); });
  ExpectErrorNaming(LoadCheckpoint(dir).status(), Status::Code::kCorruption, "'rng_state'",
                    "missing");
}

TEST(TrainingCheckpoint, ManifestFieldOfTheWrongTypeIsNamed) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  const std::string dir = root + "/step_00000001";
  EditManifest(dir, [](json& m) { m["train_data"]["epoch"] = "three"; });
  ExpectErrorNaming(LoadCheckpoint(dir).status(), Status::Code::kCorruption,
                    "'train_data.epoch'", "integer");
}

TEST(TrainingCheckpoint, ParameterCountDisagreeingWithTheConfigIsCorruption) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  const std::string dir = root + "/step_00000001";
  EditManifest(dir, [](json& m) { m["model"]["n_layer"] = 3; });
  ExpectErrorNaming(LoadCheckpoint(dir).status(), Status::Code::kCorruption,
                    dir + "/manifest.json", "num_parameters");
}

TEST(TrainingCheckpoint, UnknownFormatVersionIsRefused) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  const std::string dir = root + "/step_00000001";
  // Version 2 is the sharded format (sharded_checkpoint_test.cc); 3 is unknown.
  EditManifest(dir, [](json& m) { m["version"] = 3; });
  ExpectErrorNaming(LoadCheckpoint(dir).status(), Status::Code::kCorruption, "'version'", "is 3");
}

TEST(TrainingCheckpoint, FileNameEscapingTheStepDirectoryIsRefused) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  const std::string dir = root + "/step_00000001";
  EditManifest(dir, [](json& m) { m["files"]["model"]["file"] = "../latest"; });
  ExpectErrorNaming(LoadCheckpoint(dir).status(), Status::Code::kCorruption,
                    "'files.model.file'", "plain file name");
}

TEST(TrainingCheckpoint, SaveRefusesParamsOfTheWrongSize) {
  const std::string root = FreshTempDir();
  TrainingCheckpoint c = MakeCheckpoint(1, 1);
  c.params.pop_back();
  ExpectErrorNaming(SaveCheckpoint(root, c), Status::Code::kInvalidArgument, "params");
  c = MakeCheckpoint(1, 1);
  c.adam_v.clear();
  ExpectErrorNaming(SaveCheckpoint(root, c), Status::Code::kInvalidArgument, "adam_v");
  EXPECT_FALSE(fs::exists(root + "/step_00000001"));
}

TEST(TrainingCheckpoint, SaveRefusesExtraThatIsNotValidUtf8) {
  const std::string root = FreshTempDir();
  TrainingCheckpoint c = MakeCheckpoint(1, 1);
  c.extra = {{"name", std::string("\xff\xfe")}};
  ExpectErrorNaming(SaveCheckpoint(root, c), Status::Code::kInvalidArgument, "extra");
  // Nothing, not even a temporary directory, is left behind.
  EXPECT_TRUE(fs::is_empty(root));
}

}  // namespace
}  // namespace meridian

namespace meridian {
namespace {

TEST(NewestValidCheckpoint, ACorruptedAndAHalfCopiedNewestAreSkippedNamingTheBadFile) {
  const std::string root = FreshTempDir();
  for (int step = 1; step <= 4; ++step) ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(step, step)).ok());
  const std::string corrupt = root + "/step_00000003/model.bin";
  std::string bytes = ReadBytes(corrupt);
  bytes[bytes.size() / 3] ^= 0x10;
  WriteBytes(corrupt, bytes);
  const std::string half = root + "/step_00000004/adam_v.bin";
  fs::resize_file(half, fs::file_size(half) / 2);
  std::string path;
  std::vector<Status> skipped;
  Result<TrainingCheckpoint> ckpt = LoadNewestValidCheckpoint(root, &path, &skipped);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  EXPECT_EQ(ckpt->step, 2);
  EXPECT_EQ(path, root + "/step_00000002");
  EXPECT_TRUE(BitEqual(ckpt->params, MakeCheckpoint(2, 2).params));
  ASSERT_EQ(skipped.size(), 2u);
  ExpectErrorNaming(skipped[0], Status::Code::kCorruption, half, "size mismatch");
  ExpectErrorNaming(skipped[1], Status::Code::kCorruption, corrupt, "checksum mismatch");
}

TEST(NewestValidCheckpoint, NoneThatVerifiesIsNotFound) {
  const std::string root = FreshTempDir();
  ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(1, 1)).ok());
  fs::remove(root + "/step_00000001/adam_m.bin");
  std::string path;
  std::vector<Status> skipped;
  EXPECT_EQ(LoadNewestValidCheckpoint(root, &path, &skipped).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(skipped.size(), 1u);
}

TEST(PruneCheckpoints, KeepsTheNewestNAndTheOneLatestNames) {
  const std::string root = FreshTempDir();
  for (int step = 1; step <= 5; ++step) ASSERT_TRUE(SaveCheckpoint(root, MakeCheckpoint(step, step)).ok());
  fs::create_directory(root + "/step_00000006.tmp-999");  // a save in progress
  WriteBytes(root + "/latest", "step_00000002\n");          // as if the newer saves had not updated it
  ASSERT_TRUE(PruneCheckpoints(root, 2).ok());
  std::vector<std::string> left = ListCheckpoints(root).value();
  EXPECT_EQ(left, (std::vector<std::string>{root + "/step_00000005", root + "/step_00000004",
                                            root + "/step_00000002"}));
  EXPECT_TRUE(fs::exists(root + "/step_00000006.tmp-999"));
  EXPECT_FALSE(PruneCheckpoints(root, 0).ok());
}

}  // namespace
}  // namespace meridian
