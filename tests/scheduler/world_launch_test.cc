// A job that runs as one world per data center: each world's command lines
// (its own launcher, --wan-world, --wan-join to rejoin, its own files), the
// plan meridian-worlds reads, and the supervisor relaunching a world that
// fails while the others run, or stopping them all once one fails too often.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "scheduler/launcher/world_launch.h"
#include "scheduler/launcher/world_supervisor.h"

namespace meridian::scheduler {
namespace {

// dc-a (ssh) holds ranks 0 and 2, dc-b (slurm) ranks 1 and 3: replicas of
// one stage each, interleaved as placement may leave them.
v1::Job WorldsJob() {
  v1::Job job;
  job.set_id("job-000042");
  const char* nodes[][3] = {{"a0", "10.0.1.2", "dc-a"}, {"b0", "10.0.2.2", "dc-b"},
                            {"a1", "10.0.1.3", "dc-a"}, {"b1", "10.0.2.3", "dc-b"}};
  for (int r = 0; r < 4; ++r) {
    v1::RankAssignment* a = job.mutable_placement()->add_ranks();
    a->set_rank(r);
    a->set_node(nodes[r][0]);
    a->set_host(nodes[r][1]);
    a->set_data_center(nodes[r][2]);
    a->set_dp_index(r);
  }
  job.mutable_placement()->set_dp(4);
  job.mutable_placement()->set_pp(1);
  job.mutable_placement()->set_dc_worlds(true);
  job.mutable_placement()->set_wan_port(30000);
  job.mutable_spec()->set_max_restarts(2);
  return job;
}

Topology MixedCluster() {
  Topology t;
  DataCenter a, b;
  a.name = "dc-a";
  a.launcher = LauncherKind::kSsh;
  b.name = "dc-b";
  b.launcher = LauncherKind::kSlurm;
  b.slurm_conf = "/etc/slurm-b/slurm.conf";
  t.data_centers = {a, b};
  return t;
}

LaunchSettings Settings() {
  LaunchSettings s;
  s.scheduler_address = "10.0.0.1:7070";
  s.train_binary = "/opt/meridian/bin/meridian-train";
  return s;
}

bool Has(const std::vector<std::string>& cmd, std::vector<std::string> seq) {
  return std::search(cmd.begin(), cmd.end(), seq.begin(), seq.end()) != cmd.end();
}

TEST(WorldLaunch, EachWorldIsItsDataCentersRanksWithItsOwnFiles) {
  const JobPaths paths = PathsFor("/shared", "job-000042");
  EXPECT_EQ(WorldDataCenters(WorldsJob().placement()), (std::vector<std::string>{"dc-a", "dc-b"}));
  const WorldFiles b = WorldOf(WorldsJob(), paths, 1);
  ASSERT_EQ(b.job.placement().ranks_size(), 2);
  EXPECT_EQ(b.job.placement().ranks(0).node(), "b0");
  EXPECT_EQ(b.job.placement().ranks(1).node(), "b1");
  EXPECT_EQ(b.paths.hostfile, "/shared/launch/job-000042/hostfile-dc-b");
  EXPECT_EQ(b.paths.metrics, "/shared/jobs/job-000042/metrics.dc-b.jsonl");
  EXPECT_EQ(b.paths.checkpoints, "/shared/jobs/job-000042/checkpoints/dc-b");
  EXPECT_EQ(b.paths.log, paths.log);  // one log for the job
  // A data center whose name is no safe file name goes by its index.
  v1::Job odd = WorldsJob();
  for (auto& r : *odd.mutable_placement()->mutable_ranks())
    if (r.data_center() == "dc-b") r.set_data_center("../b");
  EXPECT_EQ(WorldOf(odd, paths, 1).paths.metrics, "/shared/jobs/job-000042/metrics.world1.jsonl");
}

TEST(WorldLaunch, MixedLaunchersEachStartTheirWorldAndRelaunchItToRejoin) {
  const JobPaths paths = PathsFor("/shared", "job-000042");
  Result<WorldsLaunch> w = PlanWorlds(WorldsJob(), paths, MixedCluster(), Settings(), "daemon-host");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->plan.worlds.size(), 2u);
  EXPECT_EQ(w->plan.max_relaunches, 2);
  const WorldLaunch& a = w->plan.worlds[0];
  EXPECT_EQ(a.name, "dc-a");
  EXPECT_EQ(a.command[0], "mpirun");
  EXPECT_TRUE(Has(a.command, {"--hostfile", "/shared/launch/job-000042/hostfile-dc-a"}));
  EXPECT_TRUE(Has(a.command, {"-np", "2"}));
  EXPECT_TRUE(Has(a.command, {"--wan-world", "0"}));
  EXPECT_TRUE(Has(a.command, {"--metrics-out", "/shared/jobs/job-000042/metrics.dc-a.jsonl"}));
  // A world that starts after another joins it, as a relaunched one does.
  EXPECT_TRUE(Has(a.command, {"--wan-join"}));
  EXPECT_TRUE(Has(a.rejoin_command, {"--wan-join"}));
  const WorldLaunch& b = w->plan.worlds[1];
  EXPECT_TRUE(Has(b.command, {"env", "SLURM_CONF=/etc/slurm-b/slurm.conf", "sbatch"}));
  EXPECT_TRUE(Has(b.command, {"--nodelist=b0,b1"}));
  EXPECT_EQ(b.command.back(), "/shared/launch/job-000042/job-dc-b.sbatch");
  EXPECT_EQ(b.rejoin_command.back(), "/shared/launch/job-000042/job-dc-b-rejoin.sbatch");
  std::map<std::string, std::string> files(w->files.begin(), w->files.end());
  EXPECT_EQ(files["hostfile-dc-a"], "10.0.1.2\n10.0.1.3\n");
  EXPECT_EQ(files["hostfile-dc-b"], "b0\nb1\n");
  EXPECT_NE(files["job-dc-b.sbatch"].find("'--wan-world' '1' '--wan-join'"), std::string::npos) << files["job-dc-b.sbatch"];
  EXPECT_NE(files["job-dc-b-rejoin.sbatch"].find("'--wan-join'"), std::string::npos);
  // Strict rounds: the worlds start together from the first step (none
  // joins another); only a relaunched world rejoins.
  v1::Job strict = WorldsJob();
  strict.mutable_spec()->mutable_training()->add_extra_args("--wan-strict");
  Result<WorldsLaunch> s = PlanWorlds(strict, paths, MixedCluster(), Settings(), "daemon-host");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_FALSE(Has(s->plan.worlds[0].command, {"--wan-join"}));
  EXPECT_TRUE(Has(s->plan.worlds[0].rejoin_command, {"--wan-join"}));
  std::map<std::string, std::string> strict_files(s->files.begin(), s->files.end());
  EXPECT_EQ(strict_files["job-dc-b.sbatch"].find("'--wan-join'"), std::string::npos);
  EXPECT_NE(strict_files["job-dc-b-rejoin.sbatch"].find("'--wan-join'"), std::string::npos);
  // A placement naming a data center the cluster lacks is refused by name.
  v1::Job lost = WorldsJob();
  lost.mutable_placement()->mutable_ranks(1)->set_data_center("dc-gone");
  EXPECT_NE(PlanWorlds(lost, paths, MixedCluster(), Settings(), "h").status().message().find("dc-gone"),
            std::string::npos);
}

TEST(WorldsPlan, RoundTripsThroughJsonAndRefusesWhatCannotRun) {
  WorldsPlan plan;
  plan.job_id = "job-1";
  plan.max_relaunches = 5;
  plan.relaunch_delay_s = 0.5;
  plan.replace_wait_s = 45.0;
  plan.worlds = {{"dc-a", {"a", "1"}, {"a", "1", "--wan-join"}}, {"dc-b", {"b"}, {"b", "--wan-join"}, 2}};
  Result<WorldsPlan> back = WorldsPlanFromJson(WorldsPlanToJson(plan), "plan.json");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->job_id, "job-1");
  EXPECT_EQ(back->max_relaunches, 5);
  EXPECT_EQ(back->replace_wait_s, 45.0);
  ASSERT_EQ(back->worlds.size(), 2u);
  EXPECT_EQ(back->worlds[1].generation, 2);
  EXPECT_EQ(back->worlds[0].rejoin_command, plan.worlds[0].rejoin_command);
  EXPECT_NE(WorldsPlanFromJson("{", "plan.json").status().message().find("plan.json"), std::string::npos);
  EXPECT_NE(WorldsPlanFromJson(R"({"job_id":"j","max_relaunches":1,"relaunch_delay_s":0,"worlds":[]})", "p")
                .status()
                .message()
                .find("worlds: none"),
            std::string::npos);
}

// Worlds as shell commands: `flag` files say what happened.
TEST(SuperviseWorlds, AFailedWorldIsRelaunchedWhileTheOthersRun) {
  const std::string dir = ::testing::TempDir() + "/supervise_ok";
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  WorldsPlan plan;
  plan.job_id = "job-ok";
  plan.relaunch_delay_s = 0.0;
  // World a runs a while and succeeds; world b dies at once and succeeds
  // once relaunched, while a still runs.
  plan.worlds = {{"a", {"sh", "-c", "sleep 0.5; test -f " + dir + "/b-rejoined && touch " + dir + "/a-saw"},
                  {"sh", "-c", "exit 9"}},
                 {"b", {"sh", "-c", "exit 3"}, {"sh", "-c", "touch " + dir + "/b-rejoined"}}};
  EXPECT_EQ(SuperviseWorlds(plan), 0);
  EXPECT_EQ(std::system(("test -f " + dir + "/a-saw").c_str()), 0) << "world a ended before b rejoined";
}

TEST(SuperviseWorlds, AWorldFailingTooOftenStopsTheOthers) {
  WorldsPlan plan;
  plan.job_id = "job-bad";
  plan.max_relaunches = 1;
  plan.relaunch_delay_s = 0.0;
  plan.worlds = {{"a", {"sleep", "30"}, {"sleep", "30"}}, {"b", {"sh", "-c", "exit 4"}, {"sh", "-c", "exit 5"}}};
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(SuperviseWorlds(plan), 5);  // the rejoin's status
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}

// The daemon places a world anew: it rewrites the plan file with the
// world's generation raised; the supervisor stops the world where it ran and
// starts its new command, leaving the other world alone.
TEST(SuperviseWorlds, AWorldPlacedAnewIsStoppedAndStartedWhereItNowRuns) {
  const std::string dir = ::testing::TempDir() + "/supervise_moved";
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const std::string file = dir + "/worlds.json";
  WorldsPlan plan;
  plan.job_id = "job-moved";
  plan.relaunch_delay_s = 0.0;
  // World a waits for b's new placement to have run; b hangs where it is.
  plan.worlds = {{"a",
                  {"sh", "-c", "for i in $(seq 100); do test -f " + dir + "/b-moved && exit 0; sleep 0.1; done; exit 7"},
                  {"sh", "-c", "exit 8"}},
                 {"b", {"sleep", "60"}, {"sleep", "60"}}};
  std::ofstream(file) << WorldsPlanToJson(plan);
  std::thread daemon([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    WorldsPlan moved = plan;
    moved.worlds[1].generation = 1;
    moved.worlds[1].rejoin_command = {"sh", "-c", "touch " + dir + "/b-moved"};
    std::ofstream(file) << WorldsPlanToJson(moved);
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(SuperviseWorlds(plan, file), 0);
  daemon.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 8.0)
      << "the old placement of b was not stopped";
}

// A world out of relaunches (its node is gone) waits for the daemon to
// place it anew rather than stopping the job at once.
TEST(SuperviseWorlds, AWorldOutOfRelaunchesWaitsForANewPlacement) {
  const std::string dir = ::testing::TempDir() + "/supervise_wait";
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const std::string file = dir + "/worlds.json";
  WorldsPlan plan;
  plan.job_id = "job-wait";
  plan.max_relaunches = 0;
  plan.relaunch_delay_s = 0.0;
  plan.replace_wait_s = 20.0;
  plan.worlds = {{"a", {"sh", "-c", "sleep 1.5"}, {"sh", "-c", "exit 8"}},
                 {"b", {"sh", "-c", "exit 6"}, {"sh", "-c", "exit 6"}}};
  std::ofstream(file) << WorldsPlanToJson(plan);
  std::thread daemon([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    WorldsPlan moved = plan;
    moved.worlds[1].generation = 1;
    moved.worlds[1].rejoin_command = {"true"};
    std::ofstream(file) << WorldsPlanToJson(moved);
  });
  EXPECT_EQ(SuperviseWorlds(plan, file), 0);
  daemon.join();
  // Without a new placement it stops the job once the wait is over.
  plan.replace_wait_s = 0.5;
  std::ofstream(file) << WorldsPlanToJson(plan);
  EXPECT_EQ(SuperviseWorlds(plan, file), 6);
}

}  // namespace
}  // namespace meridian::scheduler
