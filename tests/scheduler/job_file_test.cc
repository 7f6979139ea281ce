#include "scheduler/cli/job_file.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace meridian::scheduler {
namespace {

std::vector<std::string> ExtraArgs(const v1::JobSpec& spec) {
  return {spec.training().extra_args().begin(), spec.training().extra_args().end()};
}

TEST(JobFileTest, TrainingKeysAreTheTrainersOptionsByName) {
  auto spec = ParseJobYaml(R"(name: x
training:
  batch: 2
  weight_decay: 0.05
  no_overlap: true
  resume_never: false
  tokenizer: gpt2
  extra_args: ["--seed", "7"]
)",
                           "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->training().batch(), 2);
  EXPECT_EQ(ExtraArgs(*spec),
            (std::vector<std::string>{"--seed", "7", "--weight-decay=0.05", "--no-overlap", "--tokenizer=gpt2"}));
}

TEST(JobFileTest, DcWorldsIsABooleanOfTheJob) {
  auto spec = ParseJobYaml("name: x\ndc_worlds: true\n", "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(spec->dc_worlds());
  EXPECT_FALSE(ParseJobYaml("name: x\n", "job.yaml")->dc_worlds());
  auto bad = ParseJobYaml("name: x\ndc_worlds: often\n", "job.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("dc_worlds"), std::string::npos) << bad.status().message();
}

TEST(JobFileTest, TuneDilocoIsABooleanOfTheLayout) {
  auto spec = ParseJobYaml("name: x\nlayout: {dp: 4, dp_sync: diloco, tune_diloco: true}\n", "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(spec->layout().tune_diloco());
  EXPECT_FALSE(ParseJobYaml("name: x\nlayout: {dp: 4}\n", "job.yaml")->layout().tune_diloco());
  auto bad = ParseJobYaml("name: x\nlayout: {dp: 4, tune_diloco: maybe}\n", "job.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tune_diloco"), std::string::npos) << bad.status().message();
}

TEST(JobFileTest, PriorityIsAWholeNumberOfTheJob) {
  auto spec = ParseJobYaml("name: x\npriority: -5\n", "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->priority(), -5);
  EXPECT_EQ(ParseJobYaml("name: x\n", "job.yaml")->priority(), 0);
  auto bad = ParseJobYaml("name: x\npriority: urgent\n", "job.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("priority"), std::string::npos) << bad.status().message();
}

TEST(JobFileTest, TenantNamesWhoseQuotaTheJobUses) {
  auto spec = ParseJobYaml("name: x\ntenant: lab-a\n", "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->tenant(), "lab-a");
  EXPECT_EQ(ParseJobYaml("name: x\n", "job.yaml")->tenant(), "");
  auto bad = ParseJobYaml("name: x\ntenant: [a, b]\n", "job.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tenant"), std::string::npos) << bad.status().message();
}

TEST(JobFileTest, DiscardCheckpointsIsABooleanOfTheJob) {
  auto spec = ParseJobYaml("name: x\ndiscard_checkpoints: true\n", "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(spec->discard_checkpoints());
  EXPECT_FALSE(ParseJobYaml("name: x\n", "job.yaml")->discard_checkpoints());
  auto bad = ParseJobYaml("name: x\ndiscard_checkpoints: maybe\n", "job.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("discard_checkpoints"), std::string::npos) << bad.status().message();
}

TEST(JobFileTest, AnOptionKeyMustHoldOneValue) {
  auto spec = ParseJobYaml("training: {weight_decay: [1, 2]}", "job.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("job.yaml: training.weight_decay: must be a single value"), std::string::npos)
      << spec.status().message();
}

TEST(JobFileTest, UnknownTopLevelAndModelFieldsAreStillErrors) {
  auto top = ParseJobYaml("nmae: x", "job.yaml");
  ASSERT_FALSE(top.ok());
  EXPECT_NE(top.status().message().find("job.yaml.nmae: unknown field"), std::string::npos) << top.status().message();
  auto model = ParseJobYaml("model: {layers: 2}", "job.yaml");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("model.layers: unknown field"), std::string::npos);
}

}  // namespace
}  // namespace meridian::scheduler
