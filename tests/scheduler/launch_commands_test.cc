// The command lines that start a job on many hosts: rank r on the host the
// placement gave it, the cluster's launch options on mpirun, and the Slurm
// batch script and sbatch call.
#include <gtest/gtest.h>

#include <algorithm>

#include "scheduler/launcher/launch_commands.h"

namespace meridian::scheduler {
namespace {

// Ranks deliberately not in host-name order: rank 0 on hostd in dc-b.
v1::Job PlacedJob() {
  v1::Job job;
  job.set_id("job-000007");
  const char* nodes[][3] = {{"hostd", "10.0.2.3", "dc-b"}, {"hostc", "10.0.2.2", "dc-b"},
                            {"hostb", "10.0.1.3", "dc-a"}, {"hosta", "10.0.1.2", "dc-a"}};
  for (int r = 0; r < 4; ++r) {
    v1::RankAssignment* a = job.mutable_placement()->add_ranks();
    a->set_rank(r);
    a->set_node(nodes[r][0]);
    a->set_host(nodes[r][1]);
    a->set_data_center(nodes[r][2]);
  }
  job.mutable_spec()->mutable_training()->add_extra_args("--log-every");
  job.mutable_spec()->mutable_training()->add_extra_args("1");
  return job;
}

LaunchSettings Settings() {
  LaunchSettings s;
  s.scheduler_address = "10.0.0.1:7070";
  s.train_binary = "/opt/meridian/bin/meridian-train";
  s.mpirun_args = {"--mca", "btl_base_verbose", "1"};
  s.as_root = true;
  return s;
}

bool HasSequence(const std::vector<std::string>& cmd, std::vector<std::string> seq) {
  return std::search(cmd.begin(), cmd.end(), seq.begin(), seq.end()) != cmd.end();
}

TEST(LaunchCommandsTest, HostFileFollowsThePlacementOrder) {
  EXPECT_EQ(HostFileFor(PlacedJob().placement(), LauncherKind::kSsh, "vm"), "10.0.2.3\n10.0.2.2\n10.0.1.3\n10.0.1.2\n");
  EXPECT_EQ(HostFileFor(PlacedJob().placement(), LauncherKind::kSlurm, "vm"), "hostd\nhostc\nhostb\nhosta\n");
  EXPECT_EQ(HostFileFor(PlacedJob().placement(), LauncherKind::kLocal, "vm"), "vm\nvm\nvm\nvm\n");
}

TEST(LaunchCommandsTest, PathsLiveUnderTheJobRoot) {
  const JobPaths p = PathsFor("/shared/meridian", "job-000007");
  EXPECT_EQ(p.dir, "/shared/meridian/jobs/job-000007");
  EXPECT_EQ(p.metrics, "/shared/meridian/jobs/job-000007/metrics.jsonl");
  EXPECT_EQ(p.checkpoints, "/shared/meridian/jobs/job-000007/checkpoints");
  EXPECT_EQ(p.tensorboard, "/shared/meridian/jobs/job-000007/tensorboard");
  EXPECT_EQ(p.log, "/shared/meridian/jobs/job-000007/output.log");
}

TEST(LaunchCommandsTest, TheDaemonsFilesLiveApartFromTheJobs) {
  const JobPaths p = PathsFor("/shared/meridian", "job-000007");
  EXPECT_EQ(p.launch_dir, "/shared/meridian/launch/job-000007");
  for (const std::string& daemons : {p.hostfile, p.batch_script, p.LaunchLock(2), p.LaunchExit(2), p.DaemonLog()})
    EXPECT_EQ(daemons.rfind(p.launch_dir + "/", 0), 0u) << daemons;
  EXPECT_EQ(p.LaunchLock(2), "/shared/meridian/launch/job-000007/launch-2.lock");
}

TEST(LaunchCommandsTest, SshMpirunPinsRanksAndCarriesTheLaunchOptions) {
  LaunchOptions launch;
  launch.ssh_config = "/etc/meridian/ssh_config";
  launch.network = "10.0.0.0/16";
  launch.port_min = 47000;
  launch.port_count = 1000;
  launch.mca["btl_tcp_links"] = "2";
  launch.env = {"OMP_NUM_THREADS=1", "LD_LIBRARY_PATH"};
  const JobPaths paths = PathsFor("/shared", "job-000007");
  const auto cmd = MpirunCommand(PlacedJob(), paths, launch, LauncherKind::kSsh, Settings());
  EXPECT_EQ(cmd[0], "mpirun");
  EXPECT_TRUE(HasSequence(cmd, {"--hostfile", paths.hostfile}));
  EXPECT_TRUE(HasSequence(cmd, {"--mca", "rmaps", "seq"}));
  EXPECT_TRUE(HasSequence(cmd, {"--mca", "plm_rsh_args", "-F /etc/meridian/ssh_config"}));
  EXPECT_TRUE(HasSequence(cmd, {"--mca", "oob_tcp_if_include", "10.0.0.0/16"}));
  EXPECT_TRUE(HasSequence(cmd, {"--mca", "btl_tcp_if_include", "10.0.0.0/16"}));
  EXPECT_TRUE(HasSequence(cmd, {"--mca", "btl_tcp_port_min_v4", "47000"}));
  EXPECT_TRUE(HasSequence(cmd, {"--mca", "btl_tcp_port_range_v4", "1000"}));
  EXPECT_TRUE(HasSequence(cmd, {"--mca", "oob_tcp_dynamic_ipv4_ports", "47000-47999"}));
  EXPECT_TRUE(HasSequence(cmd, {"--mca", "btl_tcp_links", "2"}));
  EXPECT_TRUE(HasSequence(cmd, {"-x", "OMP_NUM_THREADS=1"}));
  EXPECT_TRUE(HasSequence(cmd, {"-x", "LD_LIBRARY_PATH"}));
  EXPECT_TRUE(HasSequence(cmd, {"--mca", "btl_base_verbose", "1"}));
  EXPECT_TRUE(HasSequence(cmd, {"-np", "4", "/opt/meridian/bin/meridian-train", "--scheduler", "10.0.0.1:7070",
                                "--job", "job-000007"}));
  EXPECT_TRUE(HasSequence(cmd, {"--metrics-out", paths.metrics, "--tensorboard", paths.tensorboard, "--log-every", "1"}));
  // Over SSH, hosts are not oversubscribed.
  EXPECT_EQ(std::count(cmd.begin(), cmd.end(), "--oversubscribe"), 0);
  const auto local = MpirunCommand(PlacedJob(), paths, LaunchOptions{}, LauncherKind::kLocal, Settings());
  EXPECT_EQ(std::count(local.begin(), local.end(), "--oversubscribe"), 1);
  EXPECT_FALSE(HasSequence(local, {"--mca", "plm_rsh_args"}));
}

TEST(LaunchCommandsTest, SlurmScriptStartsRanksWithSrunOnTheHostFile) {
  v1::Job job = PlacedJob();
  job.set_launches(2);  // its second attempt: a Slurm job name of its own
  const JobPaths paths = PathsFor("/shared", "job-000007");
  LaunchOptions launch;
  launch.env = {"OMP_NUM_THREADS=1", "PASSED_THROUGH"};
  const std::string script = SlurmBatchScript(job, paths, launch, Settings());
  EXPECT_NE(script.find("export SLURM_HOSTFILE='" + paths.hostfile + "'"), std::string::npos) << script;
  EXPECT_NE(script.find("export OMP_NUM_THREADS='1'"), std::string::npos) << script;
  EXPECT_NE(script.find("exec srun --mpi=pmix --distribution=arbitrary --kill-on-bad-exit=1 --ntasks=4 "
                        "'/opt/meridian/bin/meridian-train' '--scheduler' '10.0.0.1:7070' '--job' 'job-000007'"),
            std::string::npos)
      << script;
  DataCenter dc;
  dc.name = "dc-s";
  dc.launcher = LauncherKind::kSlurm;
  dc.slurm_partition = "batch";
  const auto cmd = SbatchCommand(job, paths, dc);
  EXPECT_EQ(cmd[0], "sbatch");
  EXPECT_TRUE(HasSequence(cmd, {"--wait"}));
  EXPECT_TRUE(HasSequence(cmd, {"--job-name=meridian-job-000007-a2"}));
  EXPECT_TRUE(HasSequence(cmd, {"--nodelist=hosta,hostb,hostc,hostd", "--nodes=4", "--ntasks=4"}));
  EXPECT_TRUE(HasSequence(cmd, {"--partition=batch", paths.batch_script}));
}

TEST(LaunchCommandsTest, APlacementAcrossLaunchersIsRefused) {
  Topology topo;
  topo.data_centers.resize(2);
  topo.data_centers[0].name = "dc-a";
  topo.data_centers[0].launcher = LauncherKind::kSsh;
  topo.data_centers[1].name = "dc-b";
  topo.data_centers[1].launcher = LauncherKind::kSlurm;
  Result<LauncherKind> kind = LauncherForPlacement(topo, PlacedJob().placement());
  ASSERT_FALSE(kind.ok());
  EXPECT_NE(kind.status().message().find("dc-b (launcher slurm)"), std::string::npos) << kind.status().message();
  topo.data_centers[1].launcher = LauncherKind::kSsh;
  kind = LauncherForPlacement(topo, PlacedJob().placement());
  ASSERT_TRUE(kind.ok());
  EXPECT_EQ(*kind, LauncherKind::kSsh);
}

}  // namespace
}  // namespace meridian::scheduler
