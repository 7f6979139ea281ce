#include "scheduler/launcher/cluster_launcher.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <optional>

#include "common/data_roots.h"
#include "common/log.h"
#include "common/net_address.h"
#include "scheduler/launcher/exchange_certificate.h"
#include "scheduler/launcher/job_directories.h"
#include "scheduler/launcher/job_environment.h"
#include "scheduler/launcher/world_launch.h"

namespace meridian::scheduler {

namespace {

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The job's outer exchange certificate and key, in its launch directory.
constexpr char kExchangeCertFile[] = "exchange.crt";
constexpr char kExchangeKeyFile[] = "exchange.key";

std::vector<std::string> SlurmEnv(const DataCenter& dc) {
  if (dc.slurm_conf.empty()) return {};
  return {"SLURM_CONF=" + dc.slurm_conf};
}

}  // namespace

ClusterLauncher::ClusterLauncher(const Topology& topology, ClusterLauncherOptions options)
    : options_(std::move(options)),
      processes_(options_.kill_grace_s) {
  cluster_.data_centers = topology.data_centers;
  cluster_.launch = topology.launch;
}

std::string ClusterLauncher::JobRoot() const {
  return cluster_.launch.job_root.empty() ? options_.state_dir : cluster_.launch.job_root;
}

std::string ClusterLauncher::LogPath(const std::string& job_id) const { return PathsFor(JobRoot(), job_id).log; }

LaunchSettings ClusterLauncher::SettingsFor(const v1::Job& job) {
  std::lock_guard<std::mutex> lock(mu_);
  LaunchSettings settings = options_.settings;
  if (job_token_) settings.rank_env.push_back("MERIDIAN_JOB_TOKEN=" + job_token_(job.id(), job.launches()));
  // The ranks check their data against the same roots the daemon did.
  if (!options_.data_roots.empty())
    settings.rank_env.push_back(std::string(kDataRootsEnv) + "=" + JoinRoots(options_.data_roots));
  if (job.owner_data_roots_size() > 0)
    settings.rank_env.push_back(std::string(kOwnerDataRootsEnv) + "=" +
                                JoinRoots({job.owner_data_roots().begin(), job.owner_data_roots().end()}));
  for (std::string& e : ExchangeTlsEnvFor(job)) settings.rank_env.push_back(std::move(e));
  return settings;
}

Result<int64_t> ClusterLauncher::Launch(const v1::Job& job) {
  // One world per data center: each its own launcher, whatever they are.
  LauncherKind kind = LauncherKind::kLocal;
  if (!job.placement().dc_worlds()) {
    MERIDIAN_ASSIGN_OR_RETURN(kind, LauncherForPlacement(cluster_, job.placement()));
  }
  const JobPaths paths = PathsFor(JobRoot(), job.id());
  const LaunchSettings settings = SettingsFor(job);
  const RunAs* as = options_.run_as ? &*options_.run_as : nullptr;
  MERIDIAN_ASSIGN_OR_RETURN(LaunchDirectory launch_dir, LaunchDirectory::Prepare(JobRoot(), job.id(), as));
  MERIDIAN_RETURN_IF_ERROR(launch_dir.Write("hostfile", HostFileFor(job.placement(), kind, HostName())));
  const AttemptFiles attempt{paths.LaunchLock(job.launches()), paths.LaunchExit(job.launches())};
  if (job.placement().dc_worlds()) {
    if (options_.exchange_tls) MERIDIAN_RETURN_IF_ERROR(WriteExchangeCertificate(job, launch_dir));
    return LaunchWorlds(job, paths, settings, launch_dir, attempt, as);
  }
  if (kind != LauncherKind::kSlurm)
    return processes_.Start(job.id(), MpirunCommand(job, paths, cluster_.launch, kind, settings), paths.log, attempt,
                            settings.rank_env, as);

  const DataCenter* dc = cluster_.FindDataCenter(job.placement().ranks(0).data_center());
  MERIDIAN_RETURN_IF_ERROR(launch_dir.Write("job.sbatch", SlurmBatchScript(job, paths, cluster_.launch, settings)));
  // `sbatch --wait` stays until the Slurm job ends and exits with its
  // status, so a Slurm job is followed like a local process.
  MERIDIAN_ASSIGN_OR_RETURN(int64_t pgid,
                            processes_.Start(job.id(), SbatchCommand(job, paths, *dc), paths.log, attempt,
                                             Concat(SlurmEnv(*dc), settings.rank_env), as));
  std::lock_guard<std::mutex> lock(mu_);
  slurm_jobs_[job.id()] = {SlurmJobName(job.id(), job.launches()), {*dc}};
  return pgid;
}

Result<int64_t> ClusterLauncher::LaunchWorlds(const v1::Job& job, const JobPaths& paths, const LaunchSettings& settings,
                                              const LaunchDirectory& launch_dir, const AttemptFiles& attempt,
                                              const RunAs* as) {
  MERIDIAN_ASSIGN_OR_RETURN(WorldsLaunch worlds, PlanWorlds(job, paths, cluster_, settings, HostName()));
  worlds.plan.replace_wait_s = options_.world_replace_wait_s;
  for (const auto& [name, text] : worlds.files) MERIDIAN_RETURN_IF_ERROR(launch_dir.Write(name, text));
  MERIDIAN_RETURN_IF_ERROR(launch_dir.Write("worlds.json", WorldsPlanToJson(worlds.plan)));
  MERIDIAN_ASSIGN_OR_RETURN(
      int64_t pgid, processes_.Start(job.id(), {settings.worlds_binary, paths.launch_dir + "/worlds.json"}, paths.log,
                                     attempt, settings.rank_env, as));
  // Every world's Slurm job has the job's name: one scancel in each Slurm
  // data center stops them all.
  if (std::vector<DataCenter> slurm = SlurmDataCentersOf(job); !slurm.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    slurm_jobs_[job.id()] = {SlurmJobName(job.id(), job.launches()), std::move(slurm)};
  }
  return pgid;
}

Status ClusterLauncher::RelaunchWorld(const v1::Job& job, int world) {
  const JobPaths paths = PathsFor(JobRoot(), job.id());
  const std::string plan_path = paths.launch_dir + "/worlds.json";
  std::ifstream in(plan_path);
  if (!in) return Status::NotFound(plan_path + ": the job's worlds plan is not there");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  MERIDIAN_ASSIGN_OR_RETURN(WorldsPlan running, WorldsPlanFromJson(text, plan_path));
  const RunAs* as = options_.run_as ? &*options_.run_as : nullptr;
  MERIDIAN_ASSIGN_OR_RETURN(LaunchDirectory launch_dir, LaunchDirectory::Prepare(JobRoot(), job.id(), as));
  MERIDIAN_ASSIGN_OR_RETURN(WorldsLaunch worlds, PlanWorlds(job, paths, cluster_, SettingsFor(job), HostName()));
  if (worlds.plan.worlds.size() != running.worlds.size() || world < 0 || world >= (int)running.worlds.size())
    return Status::FailedPrecondition(plan_path + ": holds " + std::to_string(running.worlds.size()) +
                                      " worlds; the placement has " + std::to_string(worlds.plan.worlds.size()));
  worlds.plan.replace_wait_s = running.replace_wait_s;
  for (size_t w = 0; w < running.worlds.size(); ++w) {
    // Only the moved world changes: the others keep their commands, so
    // meridian-worlds leaves them running.
    if ((int)w != world) worlds.plan.worlds[w] = running.worlds[w];
  }
  worlds.plan.worlds[(size_t)world].generation = running.worlds[(size_t)world].generation + 1;
  // Its own host file and batch scripts only (the others' are in use).
  const WorldFiles files = WorldOf(job, paths, world);
  for (const auto& [name, body] : worlds.files) {
    if (name == files.hostfile_name || name == files.batch_name || name == files.rejoin_batch_name)
      MERIDIAN_RETURN_IF_ERROR(launch_dir.Write(name, body));
  }
  // Where it ran under Slurm, its Slurm job may still hold nodes there: it
  // is cancelled before the plan changes, and here rather than later, so
  // the world's new Slurm job (same name, maybe the same data center) is
  // never the one cancelled.
  const std::string slurm_name = SlurmJobName(job.id(), job.launches());
  const DataCenter* was = cluster_.FindDataCenter(running.worlds[(size_t)world].name);
  if (was != nullptr && was->launcher == LauncherKind::kSlurm) CancelSlurmJob(job.id(), slurm_name, *was);
  {
    std::lock_guard<std::mutex> lock(mu_);
    slurm_jobs_[job.id()] = {slurm_name, SlurmDataCentersOf(job)};
  }
  return launch_dir.Write("worlds.json", WorldsPlanToJson(worlds.plan));
}

Status ClusterLauncher::WriteExchangeCertificate(const v1::Job& job, const LaunchDirectory& launch_dir) const {
  // A new pair at every launch of the job; a world relaunched within it
  // finds the same files.
  MERIDIAN_ASSIGN_OR_RETURN(rpc::TlsPair pair, MakeExchangeCertificate(job.id()));
  MERIDIAN_RETURN_IF_ERROR(launch_dir.Write(kExchangeCertFile, pair.cert_pem));
  return launch_dir.WriteSecret(kExchangeKeyFile, pair.key_pem);
}

std::vector<std::string> ClusterLauncher::ExchangeTlsEnvFor(const v1::Job& job) const {
  if (!options_.exchange_tls || !job.placement().dc_worlds()) return {};
  const std::string dir = PathsFor(JobRoot(), job.id()).launch_dir;
  return ExchangeTlsEnvironment(dir + "/" + kExchangeCertFile, dir + "/" + kExchangeKeyFile);
}

void ClusterLauncher::CancelSlurmJob(const std::string& job_id, const std::string& slurm_name, const DataCenter& dc) {
  // Its output goes to the daemon's own log for the job: the job's
  // directory is its user's, and scancel runs as the daemon.
  const int rc = RunToCompletion({"scancel", "--name=" + slurm_name}, PathsFor(JobRoot(), job_id).DaemonLog(),
                                 SlurmEnv(dc), options_.slurm_command_timeout_s);
  if (rc != 0) Logger("launcher")->warn("scancel of {} in {} exited with {}", slurm_name, dc.name, rc);
}

void ClusterLauncher::CancelSlurmJobLater(const std::string& job_id, const std::string& slurm_name,
                                          const DataCenter& dc) {
  cancels_.Post([this, job_id, slurm_name, dc] { CancelSlurmJob(job_id, slurm_name, dc); });
}

Status ClusterLauncher::Kill(const std::string& job_id) {
  SlurmJob slurm;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = slurm_jobs_.find(job_id);
    if (it != slurm_jobs_.end()) {
      slurm = std::move(it->second);
      slurm_jobs_.erase(it);
    }
  }
  // Slurm stops the ranks (the scancels run in the background, by this
  // attempt's name: a next attempt, even one submitted first, is never
  // theirs); `sbatch --wait` is stopped with the rest of the attempt.
  for (const DataCenter& dc : slurm.data_centers) CancelSlurmJobLater(job_id, slurm.name, dc);
  return processes_.Stop(job_id);
}

void ClusterLauncher::RemoveJobFiles(const v1::Job& job) {
  Status s = meridian::scheduler::RemoveJobFiles(JobRoot(), job.id(), !job.spec().discard_checkpoints());
  if (!s.ok()) Logger("launcher")->warn("retention of {}: {}", job.id(), s.message());
}

std::vector<DataCenter> ClusterLauncher::SlurmDataCentersOf(const v1::Job& job) const {
  std::vector<DataCenter> out;
  for (const v1::RankAssignment& r : job.placement().ranks()) {
    const DataCenter* dc = cluster_.FindDataCenter(r.data_center());
    if (dc == nullptr || dc->launcher != LauncherKind::kSlurm) continue;
    if (std::none_of(out.begin(), out.end(), [&](const DataCenter& d) { return d.name == dc->name; }))
      out.push_back(*dc);
  }
  return out;
}

Orphan ClusterLauncher::Reattach(const v1::Job& job) {
  const JobPaths paths = PathsFor(JobRoot(), job.id());
  const Orphan found =
      processes_.Adopt(job.id(), AttemptFiles{paths.LaunchLock(job.launches()), paths.LaunchExit(job.launches())});
  std::vector<DataCenter> slurm = SlurmDataCentersOf(job);
  const std::string slurm_name = SlurmJobName(job.id(), job.launches());
  if (!slurm.empty() && found.state == Orphan::State::kRunning) {
    std::lock_guard<std::mutex> lock(mu_);
    slurm_jobs_[job.id()] = {slurm_name, std::move(slurm)};
  } else if (found.state == Orphan::State::kGone) {
    // `sbatch --wait` is gone, but the Slurm jobs it submitted may run on.
    for (const DataCenter& dc : slurm) CancelSlurmJobLater(job.id(), slurm_name, dc);
  }
  return found;
}

}  // namespace meridian::scheduler
