// The daemon's launcher on real files, with a stand-in for meridian-worlds
// that writes down the environment it was given: a job that runs as one
// world per data center under a daemon with TLS gets an exchange
// certificate of its own, its key readable by the job alone, and its
// worlds are told where both are.
#include "scheduler/launcher/cluster_launcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "rpc/exchange_tls.h"
#include "scheduler/launcher/world_supervisor.h"

namespace meridian::scheduler {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// One rank in each of dc-a (node a0) and dc-b (node b0), one world each.
v1::Job TwoWorldsJob(const std::string& host_a, const std::string& host_b) {
  v1::Job job;
  job.set_id("job-000042");
  for (int r = 0; r < 2; ++r) {
    v1::RankAssignment* a = job.mutable_placement()->add_ranks();
    a->set_rank(r);
    a->set_node(r == 0 ? "a0" : "b0");
    a->set_host(r == 0 ? host_a : host_b);
    a->set_data_center(r == 0 ? "dc-a" : "dc-b");
    a->set_dp_index(r);
  }
  job.mutable_placement()->set_dp(2);
  job.mutable_placement()->set_pp(1);
  job.mutable_placement()->set_dc_worlds(true);
  job.mutable_placement()->set_wan_port(30000);
  return job;
}

class ClusterLauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("cluster-launcher-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
    worlds_ = base_ / "fake-meridian-worlds";
    std::ofstream(worlds_) << "#!/bin/sh\nenv > \"$(dirname \"$1\")/worlds.env\"\n";
    fs::permissions(worlds_, fs::perms::owner_all);
    for (const char* name : {"dc-a", "dc-b"}) {
      DataCenter dc;
      dc.name = name;
      dc.launcher = LauncherKind::kLocal;
      cluster_.data_centers.push_back(dc);
    }
  }
  void TearDown() override { fs::remove_all(base_); }

  // Launches a two-world job and waits for the stand-in to exit.
  void LaunchWorldsJob(bool exchange_tls) {
    ClusterLauncherOptions o;
    o.state_dir = (base_ / "state").string();
    o.settings.train_binary = "/bin/true";
    o.settings.worlds_binary = worlds_.string();
    o.exchange_tls = exchange_tls;
    ClusterLauncher launcher(cluster_, o);
    std::mutex mu;
    std::condition_variable cv;
    bool exited = false;
    int code = -1;
    launcher.SetExitCallback([&](const std::string&, int exit_code) {
      std::lock_guard<std::mutex> lock(mu);
      exited = true;
      code = exit_code;
      cv.notify_all();
    });
    Result<int64_t> started = launcher.Launch(TwoWorldsJob("127.0.0.1", "127.0.0.1"));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return exited; }));
    EXPECT_EQ(code, 0);
  }

  fs::path Launch() const { return base_ / "state/launch/job-000042"; }

  fs::path base_, worlds_;
  Topology cluster_;
};

TEST_F(ClusterLauncherTest, AWorldsJobUnderTlsGetsAnExchangeCertificateOfItsOwn) {
  LaunchWorldsJob(/*exchange_tls=*/true);
  const std::string cert = (Launch() / "exchange.crt").string(), key = (Launch() / "exchange.key").string();
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  Result<rpc::TlsPair> pair = rpc::LoadTlsPair(cert, key);
  EXPECT_TRUE(pair.ok()) << pair.status().ToString();
  const std::string env = Read(Launch() / "worlds.env");
  EXPECT_NE(env.find("MERIDIAN_WAN_TLS_CERT=" + cert + "\n"), std::string::npos) << env;
  EXPECT_NE(env.find("MERIDIAN_WAN_TLS_KEY=" + key + "\n"), std::string::npos) << env;
  // Forwarded by name to the ranks on other hosts (mpirun -x).
  EXPECT_NE(Read(Launch() / "worlds.json").find("\"MERIDIAN_WAN_TLS_KEY\""), std::string::npos);
}

TEST_F(ClusterLauncherTest, WithoutTlsTheWorldsSpeakPlaintext) {
  LaunchWorldsJob(/*exchange_tls=*/false);
  EXPECT_FALSE(fs::exists(Launch() / "exchange.crt"));
  EXPECT_FALSE(fs::exists(Launch() / "exchange.key"));
  const std::string env = Read(Launch() / "worlds.env");
  EXPECT_FALSE(env.empty());
  EXPECT_EQ(env.find("MERIDIAN_WAN_TLS"), std::string::npos) << env;
}

// Worlds in two Slurm data centers: a world placed anew has its old Slurm
// job cancelled in its own data center alone, and its generation raised in
// the plan (the other world's entry unchanged); stopping the job cancels
// the attempt's Slurm job in each of them, in the background.
TEST_F(ClusterLauncherTest, EachSlurmWorldIsCancelledInItsOwnDataCenter) {
  fs::create_directories(base_ / "bin");
  const fs::path scancel = base_ / "bin/scancel", calls = base_ / "scancel.calls";
  std::ofstream(scancel) << "#!/bin/sh\necho \"$SLURM_CONF $*\" >> " << calls.string() << "\n";
  fs::permissions(scancel, fs::perms::owner_all);
  std::ofstream(worlds_) << "#!/bin/sh\nexec sleep 30\n";
  const std::string path = getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin";
  setenv("PATH", ((base_ / "bin").string() + ":" + path).c_str(), 1);
  for (DataCenter& dc : cluster_.data_centers) {
    dc.launcher = LauncherKind::kSlurm;
    dc.slurm_conf = "/etc/" + dc.name + ".conf";
  }
  ClusterLauncherOptions o;
  o.state_dir = (base_ / "state").string();
  o.settings.train_binary = "/bin/true";
  o.settings.worlds_binary = worlds_.string();
  o.world_replace_wait_s = 45;
  ClusterLauncher launcher(cluster_, o);
  std::mutex mu;
  std::condition_variable cv;
  bool exited = false;
  launcher.SetExitCallback([&](const std::string&, int) {
    std::lock_guard<std::mutex> lock(mu);
    exited = true;
    cv.notify_all();
  });
  const v1::Job job = TwoWorldsJob("a0", "b0");
  ASSERT_TRUE(launcher.Launch(job).ok());
  Result<WorldsPlan> first = WorldsPlanFromJson(Read(Launch() / "worlds.json"), "worlds.json");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->replace_wait_s, 45);

  v1::Job moved = job;
  moved.mutable_placement()->mutable_ranks(1)->set_node("b1");
  moved.mutable_placement()->mutable_ranks(1)->set_host("b1");
  ASSERT_TRUE(launcher.RelaunchWorld(moved, 1).ok());
  EXPECT_EQ(Read(calls), "/etc/dc-b.conf --name=" + SlurmJobName(job.id(), job.launches()) + "\n");
  Result<WorldsPlan> plan = WorldsPlanFromJson(Read(Launch() / "worlds.json"), "worlds.json");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->worlds[0].generation, 0);
  EXPECT_EQ(plan->worlds[0].command, first->worlds[0].command);
  EXPECT_EQ(plan->worlds[1].generation, 1);
  EXPECT_EQ(plan->replace_wait_s, 45);
  EXPECT_EQ(Read(Launch() / "hostfile-dc-b"), "b1\n");

  // A slow Slurm controller: scancel waits until the test lets it go. Kill
  // (called under the scheduler core's lock) returns without waiting.
  const fs::path release = base_ / "release";
  std::ofstream(scancel) << "#!/bin/sh\nwhile [ ! -f " << release.string() << " ]; do sleep 0.05; done\necho \"$SLURM_CONF $*\" >> "
                         << calls.string() << "\n";
  fs::remove(calls);
  ASSERT_TRUE(launcher.Kill(job.id()).ok());
  EXPECT_FALSE(fs::exists(calls));  // both scancels still to come
  std::ofstream(release) << "go\n";
  launcher.DrainSlurmCancels();
  EXPECT_EQ(Read(calls), "/etc/dc-a.conf --name=" + SlurmJobName(job.id(), job.launches()) +
                             "\n/etc/dc-b.conf --name=" + SlurmJobName(job.id(), job.launches()) + "\n");
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return exited; }));
  setenv("PATH", path.c_str(), 1);
}

}  // namespace
}  // namespace meridian::scheduler
