// What a job may touch: only allowed extra options with valid values, and
// data under the data roots after `..` and symbolic links.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "scheduler/service/job_options.h"
#include "tests/scheduler/core_fixture.h"
#include "tests/scheduler/tiny_job.h"

namespace meridian::scheduler {
namespace {

namespace fs = std::filesystem;

v1::TrainingOptions With(std::vector<std::string> args) {
  v1::TrainingOptions t;
  for (std::string& a : args) t.add_extra_args(std::move(a));
  return t;
}

void ExpectRefused(const Status& s, const std::string& what) {
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(what), std::string::npos) << s.ToString();
}

TEST(ExtraArgs, OnlyAllowedOptionsWithValidValuesPass) {
  EXPECT_TRUE(CheckExtraArgs(With({"--comm-timeout", "5", "--no-overlap", "--pp-schedule=gpipe"}), {}).ok());
  ExpectRefused(CheckExtraArgs(With({"--export-llmc", "/etc/cron.d/x"}), {}), "extra_args[0] = --export-llmc");
  ExpectRefused(CheckExtraArgs(With({"--log-every", "1", "--checkpoint-dir", "/tmp/x"}), {}),
                "extra_args[2] = --checkpoint-dir");
  ExpectRefused(CheckExtraArgs(With({"--metrics-out=/root/.bashrc"}), {}), "--metrics-out");
  ExpectRefused(CheckExtraArgs(With({"--comm-timeout", "abc"}), {}), "--comm-timeout takes a number");
  ExpectRefused(CheckExtraArgs(With({"--comm-timeout", "nan"}), {}), "--comm-timeout");
  ExpectRefused(CheckExtraArgs(With({"--pp-schedule", "zigzag"}), {}), "--pp-schedule");
  ExpectRefused(CheckExtraArgs(With({"--no-overlap=1"}), {}), "takes no value");
  ExpectRefused(CheckExtraArgs(With({"--comm-timeout"}), {}), "needs a value");
  EXPECT_TRUE(CheckExtraArgs(With({"--tokenizer", "gpt2", "--peak-tflops", "989"}), {}).ok());
  ExpectRefused(CheckExtraArgs(With({"--tokenizer", "sentencepiece"}), {}), "--tokenizer");
}

class DataRootsTest : public CoreFixture {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "root");
    fs::create_directories(dir_ / "outside");
    std::ofstream(dir_ / "root/train_000.bin") << "x";
    std::ofstream(dir_ / "outside/secret.bin") << "x";
    fs::create_symlink(dir_ / "outside/secret.bin", dir_ / "root/train_001.bin");
    fs::create_symlink(dir_ / "outside", dir_ / "root/elsewhere");
    roots_ = {(dir_ / "root").string()};
    // The core a test starts is that of a daemon run with roots_ as --data-root.
    options_.data_roots = roots_;
  }
  std::string P(const std::string& rel) const { return (dir_ / rel).string(); }
  std::vector<std::string> roots_;
};

TEST_F(DataRootsTest, PathsOutsideTheRootsAreRefusedThroughDotDotAndSymbolicLinks) {
  EXPECT_TRUE(CheckUnderDataRoots("spec.training.data", P("root/train_000.bin"), roots_).ok());
  ExpectRefused(CheckUnderDataRoots("spec.training.data", P("root/../outside/secret.bin"), roots_),
                "spec.training.data");
  ExpectRefused(CheckUnderDataRoots("spec.training.data", P("root/elsewhere/*.bin"), roots_), "outside the data roots");
  // A glob inside the root whose match is a link out of it.
  ExpectRefused(CheckUnderDataRoots("spec.training.val_data", P("root/train_*.bin"), roots_),
                "its match " + P("root/train_001.bin"));
  ExpectRefused(CheckExtraArgs(With({"--init-from", P("root/elsewhere/secret.bin")}), roots_),
                "extra_args[1] (--init-from)");
  EXPECT_TRUE(CheckExtraArgs(With({"--init-from", P("root/train_000.bin")}), roots_).ok());
  EXPECT_TRUE(CheckUnderDataRoots("spec.training.data", P("outside/secret.bin"), {}).ok());  // no roots: anywhere
}

TEST_F(DataRootsTest, HuggingFaceModelFilesMayNotLinkOutOfTheRoots) {
  // --init-from DIR reads DIR/model.safetensors and DIR/config.json;
  // --init-from X.safetensors reads the config.json beside it.
  fs::create_directories(dir_ / "root/hf");
  std::ofstream(dir_ / "root/hf/model.safetensors") << "x";
  std::ofstream(dir_ / "root/hf/config.json") << "{}";
  EXPECT_TRUE(CheckExtraArgs(With({"--init-from", P("root/hf")}), roots_).ok());
  EXPECT_TRUE(CheckExtraArgs(With({"--init-from", P("root/hf/model.safetensors")}), roots_).ok());
  fs::remove(dir_ / "root/hf/config.json");
  fs::create_symlink(dir_ / "outside/secret.bin", dir_ / "root/hf/config.json");
  ExpectRefused(CheckExtraArgs(With({"--init-from", P("root/hf")}), roots_), P("root/hf/config.json"));
  ExpectRefused(CheckExtraArgs(With({"--init-from", P("root/hf/model.safetensors")}), roots_),
                "extra_args[1] (--init-from)");
  fs::create_directories(dir_ / "root/hf2");
  fs::create_symlink(dir_ / "outside/secret.bin", dir_ / "root/hf2/model.safetensors");
  ExpectRefused(CheckExtraArgs(With({"--init-from", P("root/hf2")}), roots_), P("root/hf2/model.safetensors"));
}

TEST_F(DataRootsTest, Gpt2VocabularyFilesMayNotLinkOutOfTheRoots) {
  fs::create_directories(dir_ / "root/gpt2");
  std::ofstream(dir_ / "root/gpt2/encoder.json") << "{}";
  std::ofstream(dir_ / "root/gpt2/vocab.bpe") << "#";
  EXPECT_TRUE(CheckExtraArgs(With({"--vocab-dir", P("root/gpt2")}), roots_).ok());
  ExpectRefused(CheckExtraArgs(With({"--vocab-dir", P("outside")}), roots_), "extra_args[1] (--vocab-dir)");
  fs::remove(dir_ / "root/gpt2/vocab.bpe");
  fs::create_symlink(dir_ / "outside/secret.bin", dir_ / "root/gpt2/vocab.bpe");
  ExpectRefused(CheckExtraArgs(With({"--vocab-dir", P("root/gpt2")}), roots_), P("root/gpt2/vocab.bpe"));
}

TEST(ExtraArgs, DilocoOptionsArePricedAsTheRanksWillRunThem) {
  v1::JobSpec spec = TinyJob(4, 1);
  Result<JobRequest> plain = SchedulerCore::ToJobRequest(spec);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->diloco_h, 50);
  EXPECT_EQ(plain->outer_compress, Compression::kNone);
  // The last value wins, as in meridian-train; both spellings count.
  *spec.mutable_training() = With({"--diloco-h", "10", "--diloco-h=20", "--outer-compress", "int4",
                                   "--diloco-fragments", "2", "--diloco-overlap=3"});
  spec.mutable_training()->set_batch(2);
  spec.mutable_training()->set_seq(16);
  Result<JobRequest> r = SchedulerCore::ToJobRequest(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->diloco_h, 20);
  EXPECT_EQ(r->outer_compress, Compression::kInt4);
  EXPECT_EQ(r->diloco_fragments, 2);
  EXPECT_EQ(r->diloco_overlap, 3);
  *spec.mutable_training()->mutable_extra_args(7) = "--diloco-overlap=x";
  ExpectRefused(SchedulerCore::ToJobRequest(spec).status(), "--diloco-overlap x");
}

TEST(ExtraArgs, TuningDilocoIsForJobsThatMayRunIt) {
  v1::JobSpec spec = TinyJob(4, 1);
  spec.mutable_layout()->set_tune_diloco(true);
  for (v1::DpSync mode : {v1::DP_SYNC_AUTO, v1::DP_SYNC_DILOCO}) {
    spec.mutable_layout()->set_dp_sync(mode);
    EXPECT_TRUE(SchedulerCore::ValidateSpec(spec).ok()) << v1::DpSync_Name(mode);
    Result<JobRequest> r = SchedulerCore::ToJobRequest(spec);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->tune_diloco);
  }
  for (v1::DpSync mode : {v1::DP_SYNC_SYNC, v1::DP_SYNC_HIERARCHICAL}) {
    spec.mutable_layout()->set_dp_sync(mode);
    ExpectRefused(SchedulerCore::ValidateSpec(spec), "spec.layout.tune_diloco");
  }
  // The empty-cluster check of one shape is not reused for the other.
  v1::JobSpec untuned = spec;
  untuned.mutable_layout()->set_tune_diloco(false);
  EXPECT_NE(SchedulerCore::ShapeOf(spec, *SchedulerCore::ToJobRequest(spec)),
            SchedulerCore::ShapeOf(untuned, *SchedulerCore::ToJobRequest(untuned)));
}

TEST_F(DataRootsTest, SubmitRefusesDataOutsideTheRootsNamingTheField) {
  StartCore();
  SchedulerCore& core = *core_;
  Result<v1::Job> outside = core.SubmitJob(TinyJob(1, 1, P("root/../outside/*.bin")));
  ASSERT_FALSE(outside.ok());
  ExpectRefused(outside.status(), "spec.training.data");
  EXPECT_TRUE(core.SubmitJob(TinyJob(1, 1, P("root/train_000.bin"))).ok());
  v1::JobSpec exporting = TinyJob(1, 1, P("root/train_000.bin"));
  exporting.mutable_training()->add_extra_args("--export-llmc");
  exporting.mutable_training()->add_extra_args("/any/path");
  ExpectRefused(core.SubmitJob(exporting).status(), "--export-llmc");
}

// The roots are checked again at every launch: a link swapped in after the
// submit fails the relaunch, naming the field.
TEST_F(DataRootsTest, ARelaunchChecksTheRootsAgain) {
  fs::create_directories(dir_ / "root/data");
  std::ofstream(dir_ / "root/data/train_000.bin") << "x";
  StartCore();
  SchedulerCore& core = *core_;
  FakeLauncher& launcher = launcher_;
  const v1::Job job = core.SubmitJob(TinyJob(1, 1, P("root/data/train_*.bin"))).value();
  ASSERT_EQ(core.GetJob(job.id())->state(), v1::RUNNING);
  fs::remove(dir_ / "root/data/train_000.bin");
  fs::create_symlink(dir_ / "outside/secret.bin", dir_ / "root/data/train_000.bin");
  launcher.Exit(job.id(), 1);  // a rank died: the relaunch checks again
  const v1::Job after = core.GetJob(job.id()).value();
  EXPECT_EQ(after.state(), v1::FAILED);
  EXPECT_NE(after.message().find("spec.training.data"), std::string::npos) << after.message();
  EXPECT_EQ(launcher.launched.size(), 1u);
}

// A token's own data_roots narrow the daemon's: alice reads only her folder.
TEST_F(DataRootsTest, ATokensDataRootsNarrowTheDaemons) {
  fs::create_directories(dir_ / "root/alice");
  std::ofstream(dir_ / "root/alice/train_000.bin") << "x";
  StartCore();
  SchedulerCore& core = *core_;
  const std::vector<std::string> alice = {P("root/alice")};
  EXPECT_TRUE(core.SubmitJob(TinyJob(1, 1, P("root/alice/train_*.bin")), "alice", alice).ok());
  Result<v1::Job> others = core.SubmitJob(TinyJob(1, 1, P("root/train_000.bin")), "alice", alice);
  ASSERT_FALSE(others.ok());
  ExpectRefused(others.status(), "this token's data_roots");
  v1::JobSpec init = TinyJob(1, 1, P("root/alice/train_000.bin"));
  init.mutable_training()->add_extra_args("--init-from");
  init.mutable_training()->add_extra_args(P("root/train_000.bin"));
  ExpectRefused(core.SubmitJob(init, "alice", alice).status(), "extra_args[1] (--init-from)");
  // Roots of its own do not widen the daemon's.
  ExpectRefused(core.SubmitJob(TinyJob(1, 1, P("outside/secret.bin")), "alice", {P("outside")}).status(),
                "(--data-root)");
}

}  // namespace
}  // namespace meridian::scheduler
