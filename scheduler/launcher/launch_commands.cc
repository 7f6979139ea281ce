#include "scheduler/launcher/launch_commands.h"

#include <set>

namespace meridian::scheduler {

namespace {

// Single-quoted for /bin/sh.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void Mca(std::vector<std::string>* cmd, const std::string& key, const std::string& value) {
  cmd->insert(cmd->end(), {"--mca", key, value});
}

}  // namespace

JobPaths PathsFor(const std::string& root, const std::string& job_id) {
  JobPaths p;
  p.dir = root + "/jobs/" + job_id;
  p.checkpoints = p.dir + "/checkpoints";
  p.metrics = p.dir + "/metrics.jsonl";
  p.tensorboard = p.dir + "/tensorboard";
  p.log = p.dir + "/output.log";
  p.launch_dir = root + "/launch/" + job_id;
  p.hostfile = p.launch_dir + "/hostfile";
  p.batch_script = p.launch_dir + "/job.sbatch";
  return p;
}

Result<LauncherKind> LauncherForPlacement(const Topology& topology, const v1::Placement& placement) {
  std::set<std::string> seen;
  LauncherKind kind = LauncherKind::kLocal;
  std::string first;
  for (const v1::RankAssignment& r : placement.ranks()) {
    if (!seen.insert(r.data_center()).second) continue;
    const DataCenter* dc = topology.FindDataCenter(r.data_center());
    if (dc == nullptr) return Status::InvalidArgument("placement names unknown data center " + r.data_center());
    if (first.empty()) {
      first = dc->name;
      kind = dc->launcher;
    } else if (dc->launcher != kind) {
      return Status::InvalidArgument("the job spans " + first + " (launcher " + LauncherKindName(kind) + ") and " +
                                     dc->name + " (launcher " + LauncherKindName(dc->launcher) +
                                     "): one mpirun world cannot span both");
    }
  }
  return kind;
}

std::string HostFileFor(const v1::Placement& placement, LauncherKind kind, const std::string& this_host) {
  std::string out;
  for (const v1::RankAssignment& r : placement.ranks()) {
    // Slurm knows its nodes by name; mpirun reaches a host by its address.
    // Local ranks run here whatever the placement calls the host: named as
    // Open MPI names this machine in its allocation (the sequential mapper
    // does not match "localhost").
    const std::string& host = kind == LauncherKind::kSlurm  ? r.node()
                              : kind == LauncherKind::kLocal ? this_host
                                                             : r.host();
    out += host + "\n";
  }
  return out;
}

std::vector<std::string> TrainCommand(const v1::Job& job, const JobPaths& paths, const LaunchSettings& settings) {
  std::vector<std::string> cmd = {settings.train_binary, "--scheduler",      settings.scheduler_address,
                                  "--job",               job.id(),           "--checkpoint-dir",
                                  paths.checkpoints,     "--resume",         "--metrics-out",
                                  paths.metrics,         "--tensorboard",    paths.tensorboard};
  for (const std::string& a : job.spec().training().extra_args()) cmd.push_back(a);
  return cmd;
}

std::vector<std::string> MpirunCommand(const v1::Job& job, const JobPaths& paths, const LaunchOptions& launch,
                                       LauncherKind kind, const LaunchSettings& settings) {
  std::vector<std::string> cmd = {settings.mpirun};
  if (settings.as_root) cmd.push_back("--allow-run-as-root");
  // Rank r runs on line r of the host file: the placement's order.
  cmd.insert(cmd.end(), {"--hostfile", paths.hostfile, "--bind-to", "none"});
  Mca(&cmd, "rmaps", "seq");
  Mca(&cmd, "btl_vader_single_copy_mechanism", "none");
  Mca(&cmd, "mpi_yield_when_idle", "1");
  if (kind == LauncherKind::kLocal) cmd.push_back("--oversubscribe");
  if (kind == LauncherKind::kSsh && !launch.ssh_config.empty()) Mca(&cmd, "plm_rsh_args", "-F " + launch.ssh_config);
  if (!launch.network.empty()) {
    Mca(&cmd, "oob_tcp_if_include", launch.network);
    Mca(&cmd, "btl_tcp_if_include", launch.network);
  }
  if (launch.port_count > 0) {
    Mca(&cmd, "btl_tcp_port_min_v4", std::to_string(launch.port_min));
    Mca(&cmd, "btl_tcp_port_range_v4", std::to_string(launch.port_count));
    Mca(&cmd, "oob_tcp_dynamic_ipv4_ports",
        std::to_string(launch.port_min) + "-" + std::to_string(launch.port_min + launch.port_count - 1));
  }
  for (const auto& [key, value] : launch.mca) Mca(&cmd, key, value);
  for (const std::string& e : launch.env) cmd.insert(cmd.end(), {"-x", e});
  for (const std::string& e : settings.rank_env) cmd.insert(cmd.end(), {"-x", e.substr(0, e.find('='))});
  cmd.insert(cmd.end(), settings.mpirun_args.begin(), settings.mpirun_args.end());
  cmd.insert(cmd.end(), {"-np", std::to_string(job.placement().ranks_size())});
  const std::vector<std::string> train = TrainCommand(job, paths, settings);
  cmd.insert(cmd.end(), train.begin(), train.end());
  return cmd;
}

std::string SlurmJobName(const std::string& job_id, int attempt) {
  return "meridian-" + job_id + "-a" + std::to_string(attempt);
}

std::string SlurmBatchScript(const v1::Job& job, const JobPaths& paths, const LaunchOptions& launch,
                             const LaunchSettings& settings) {
  std::string s = "#!/bin/sh\n";
  s += "# Meridian " + job.id() + ": world rank r runs on line r of the host file.\n";
  s += "export SLURM_HOSTFILE=" + ShellQuote(paths.hostfile) + "\n";
  for (const std::string& e : launch.env) {
    const size_t eq = e.find('=');
    if (eq != std::string::npos) s += "export " + e.substr(0, eq) + "=" + ShellQuote(e.substr(eq + 1)) + "\n";
  }
  s += "exec srun --mpi=pmix --distribution=arbitrary --kill-on-bad-exit=1 --ntasks=" +
       std::to_string(job.placement().ranks_size());
  for (const std::string& a : TrainCommand(job, paths, settings)) s += " " + ShellQuote(a);
  return s + "\n";
}

std::vector<std::string> SbatchCommand(const v1::Job& job, const JobPaths& paths, const DataCenter& dc) {
  std::set<std::string> nodes;
  for (const v1::RankAssignment& r : job.placement().ranks()) nodes.insert(r.node());
  std::string list;
  for (const std::string& n : nodes) list += (list.empty() ? "" : ",") + n;
  std::vector<std::string> cmd = {"sbatch",
                                  "--wait",
                                  "--parsable",
                                  "--job-name=" + SlurmJobName(job.id(), job.launches()),
                                  "--nodelist=" + list,
                                  "--nodes=" + std::to_string(nodes.size()),
                                  "--ntasks=" + std::to_string(job.placement().ranks_size()),
                                  "--overcommit",
                                  "--output=" + paths.log,
                                  "--open-mode=append"};
  if (!dc.slurm_partition.empty()) cmd.push_back("--partition=" + dc.slurm_partition);
  cmd.push_back(paths.batch_script);
  return cmd;
}

}  // namespace meridian::scheduler
