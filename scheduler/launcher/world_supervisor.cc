#include "scheduler/launcher/world_supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

namespace meridian::scheduler {

std::string WorldsPlanToJson(const WorldsPlan& plan) {
  nlohmann::json j = {{"job_id", plan.job_id},
                      {"max_relaunches", plan.max_relaunches},
                      {"relaunch_delay_s", plan.relaunch_delay_s},
                      {"worlds", nlohmann::json::array()}};
  for (const WorldLaunch& w : plan.worlds)
    j["worlds"].push_back({{"name", w.name}, {"command", w.command}, {"rejoin_command", w.rejoin_command}});
  return j.dump(2) + "\n";
}

Result<WorldsPlan> WorldsPlanFromJson(const std::string& text, const std::string& where) {
  WorldsPlan plan;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    plan.job_id = j.at("job_id").get<std::string>();
    plan.max_relaunches = j.at("max_relaunches").get<int>();
    plan.relaunch_delay_s = j.at("relaunch_delay_s").get<double>();
    for (const nlohmann::json& w : j.at("worlds")) {
      WorldLaunch launch;
      launch.name = w.at("name").get<std::string>();
      launch.command = w.at("command").get<std::vector<std::string>>();
      launch.rejoin_command = w.at("rejoin_command").get<std::vector<std::string>>();
      if (launch.command.empty() || launch.rejoin_command.empty())
        return Status::InvalidArgument(where + ": world " + launch.name + " has an empty command");
      plan.worlds.push_back(std::move(launch));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(where + ": " + e.what());
  }
  if (plan.worlds.empty()) return Status::InvalidArgument(where + ": worlds: none");
  if (plan.max_relaunches < 0) return Status::InvalidArgument(where + ": max_relaunches must be >= 0");
  if (!(plan.relaunch_delay_s >= 0)) return Status::InvalidArgument(where + ": relaunch_delay_s must be >= 0");
  return plan;
}

namespace {

pid_t Spawn(const std::vector<std::string>& argv) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  std::fprintf(stderr, "meridian-worlds: cannot run %s: %s\n", args[0], std::strerror(errno));
  _exit(127);
}

int ExitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int SuperviseWorlds(const WorldsPlan& plan) {
  struct Running {
    size_t world;
    int launches;
  };
  std::map<pid_t, Running> running;
  auto say = [&](const std::string& what) {
    std::fprintf(stderr, "meridian-worlds: %s: %s\n", plan.job_id.c_str(), what.c_str());
    std::fflush(stderr);
  };
  for (size_t w = 0; w < plan.worlds.size(); ++w) {
    const pid_t pid = Spawn(plan.worlds[w].command);
    if (pid < 0) {
      say("cannot start world " + plan.worlds[w].name + ": " + std::strerror(errno));
      for (const auto& [p, r] : running) kill(p, SIGTERM);
      return 1;
    }
    running[pid] = {w, 1};
  }
  say(std::to_string(plan.worlds.size()) + " worlds started, one per data center");
  int failure = 0;
  while (!running.empty()) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;  // not a world's launcher (reaped by us as their parent)
    const Running r = it->second;
    running.erase(it);
    const WorldLaunch& world = plan.worlds[r.world];
    const int code = ExitStatus(status);
    if (code == 0) {
      say("world " + world.name + " finished");
      continue;
    }
    if (failure != 0) continue;  // stopping: the others' ends are expected
    if (r.launches - 1 < plan.max_relaunches) {
      say("world " + world.name + " ended with " + std::to_string(code) + "; the other worlds train on; relaunching it (" +
          std::to_string(r.launches) + " of " + std::to_string(plan.max_relaunches) + ") to rejoin them");
      std::this_thread::sleep_for(std::chrono::duration<double>(plan.relaunch_delay_s));
      const pid_t again = Spawn(world.rejoin_command);
      if (again > 0) {
        running[again] = {r.world, r.launches + 1};
        continue;
      }
    }
    say("world " + world.name + " ended with " + std::to_string(code) + " after " + std::to_string(r.launches) +
        " launches; stopping the job");
    failure = code;
    for (const auto& [p, other] : running) kill(p, SIGTERM);
  }
  return failure;
}

}  // namespace meridian::scheduler
