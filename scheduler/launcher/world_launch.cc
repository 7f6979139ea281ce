#include "scheduler/launcher/world_launch.h"

#include <algorithm>

namespace meridian::scheduler {

std::vector<std::string> WorldDataCenters(const v1::Placement& placement) {
  std::vector<std::string> dcs;
  for (const v1::RankAssignment& r : placement.ranks())
    if (std::find(dcs.begin(), dcs.end(), r.data_center()) == dcs.end()) dcs.push_back(r.data_center());
  return dcs;
}

namespace {

// A data center's name where it is safe in a file name, else the world's index.
std::string FileTag(const std::string& dc, int world) {
  const bool safe = !dc.empty() && dc.size() <= 64 && dc[0] != '.' &&
                    std::all_of(dc.begin(), dc.end(), [](char c) {
                      return std::isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
                    });
  return safe ? dc : "world" + std::to_string(world);
}

std::vector<std::string> WithEnv(const DataCenter& dc, std::vector<std::string> cmd) {
  // Each Slurm data center its own slurm.conf: given to its sbatch alone.
  if (dc.slurm_conf.empty()) return cmd;
  cmd.insert(cmd.begin(), {"env", "SLURM_CONF=" + dc.slurm_conf});
  return cmd;
}

// Whether the job asks for strict rounds between its worlds (--wan-strict).
bool StrictRounds(const v1::Job& job) {
  const auto& args = job.spec().training().extra_args();
  return std::find(args.begin(), args.end(), "--wan-strict") != args.end();
}

}  // namespace

WorldFiles WorldOf(const v1::Job& job, const JobPaths& paths, int world) {
  const std::string dc = WorldDataCenters(job.placement())[world];
  const std::string tag = FileTag(dc, world);
  WorldFiles w;
  w.job = job;
  v1::Placement* p = w.job.mutable_placement();
  p->clear_ranks();
  for (const v1::RankAssignment& r : job.placement().ranks())
    if (r.data_center() == dc) *p->add_ranks() = r;
  w.job.mutable_spec()->mutable_training()->add_extra_args("--wan-world");
  w.job.mutable_spec()->mutable_training()->add_extra_args(std::to_string(world));
  w.hostfile_name = "hostfile-" + tag;
  w.batch_name = "job-" + tag + ".sbatch";
  w.rejoin_batch_name = "job-" + tag + "-rejoin.sbatch";
  w.paths = paths;
  w.paths.hostfile = paths.launch_dir + "/" + w.hostfile_name;
  w.paths.batch_script = paths.launch_dir + "/" + w.batch_name;
  w.paths.metrics = paths.dir + "/metrics." + tag + ".jsonl";
  w.paths.checkpoints = paths.checkpoints + "/" + tag;
  w.paths.tensorboard = paths.tensorboard + "/" + tag;
  return w;
}

Result<WorldsLaunch> PlanWorlds(const v1::Job& job, const JobPaths& paths, const Topology& cluster,
                                const LaunchSettings& settings, const std::string& this_host) {
  WorldsLaunch out;
  out.plan.job_id = job.id();
  out.plan.max_relaunches = job.spec().has_max_restarts() ? job.spec().max_restarts() : 3;
  const std::vector<std::string> dcs = WorldDataCenters(job.placement());
  for (int world = 0; world < (int)dcs.size(); ++world) {
    const DataCenter* dc = cluster.FindDataCenter(dcs[world]);
    if (dc == nullptr) return Status::InvalidArgument("placement names unknown data center " + dcs[world]);
    WorldFiles w = WorldOf(job, paths, world);
    WorldFiles rejoin = w;
    rejoin.job.mutable_spec()->mutable_training()->add_extra_args("--wan-join");
    rejoin.paths.batch_script = paths.launch_dir + "/" + w.rejoin_batch_name;
    // Worlds start when their launchers do (a Slurm queue may hold one for
    // a while): a world that starts after another has trained joins it, as
    // a relaunched one does; one that finds no live world starts alone.
    // Strict rounds start every world together instead (each waits for the
    // others' exchange before its first step): a world that joined one
    // already training would have missed its first rounds.
    if (!StrictRounds(job)) w.job = rejoin.job;
    out.files.push_back({w.hostfile_name, HostFileFor(w.job.placement(), dc->launcher, this_host)});
    WorldLaunch launch;
    launch.name = dcs[world];
    if (dc->launcher == LauncherKind::kSlurm) {
      out.files.push_back({w.batch_name, SlurmBatchScript(w.job, w.paths, cluster.launch, settings)});
      out.files.push_back({w.rejoin_batch_name, SlurmBatchScript(rejoin.job, rejoin.paths, cluster.launch, settings)});
      launch.command = WithEnv(*dc, SbatchCommand(w.job, w.paths, *dc));
      launch.rejoin_command = WithEnv(*dc, SbatchCommand(rejoin.job, rejoin.paths, *dc));
    } else {
      launch.command = MpirunCommand(w.job, w.paths, cluster.launch, dc->launcher, settings);
      launch.rejoin_command = MpirunCommand(rejoin.job, rejoin.paths, cluster.launch, dc->launcher, settings);
    }
    out.plan.worlds.push_back(std::move(launch));
  }
  return out;
}

}  // namespace meridian::scheduler
