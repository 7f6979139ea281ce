#include "scheduler/launcher/world_supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

namespace meridian::scheduler {

std::string WorldsPlanToJson(const WorldsPlan& plan) {
  nlohmann::json j = {{"job_id", plan.job_id},
                      {"max_relaunches", plan.max_relaunches},
                      {"relaunch_delay_s", plan.relaunch_delay_s},
                      {"replace_wait_s", plan.replace_wait_s},
                      {"worlds", nlohmann::json::array()}};
  for (const WorldLaunch& w : plan.worlds)
    j["worlds"].push_back({{"name", w.name}, {"command", w.command}, {"rejoin_command", w.rejoin_command},
                              {"generation", w.generation}});
  return j.dump(2) + "\n";
}

Result<WorldsPlan> WorldsPlanFromJson(const std::string& text, const std::string& where) {
  WorldsPlan plan;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    plan.job_id = j.at("job_id").get<std::string>();
    plan.max_relaunches = j.at("max_relaunches").get<int>();
    plan.relaunch_delay_s = j.at("relaunch_delay_s").get<double>();
    plan.replace_wait_s = j.value("replace_wait_s", 0.0);
    for (const nlohmann::json& w : j.at("worlds")) {
      WorldLaunch launch;
      launch.name = w.at("name").get<std::string>();
      launch.command = w.at("command").get<std::vector<std::string>>();
      launch.rejoin_command = w.at("rejoin_command").get<std::vector<std::string>>();
      launch.generation = w.value("generation", 0);
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
  if (!(plan.replace_wait_s >= 0)) return Status::InvalidArgument(where + ": replace_wait_s must be >= 0");
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

int SuperviseWorlds(const WorldsPlan& initial, const std::string& plan_file) {
  using Clock = std::chrono::steady_clock;
  WorldsPlan plan = initial;
  struct World {
    pid_t pid = -1;          // its launcher, while it runs
    int launches = 0;        // since its newest placement
    bool finished = false;
    int last_code = 0;
    std::optional<Clock::time_point> start_at;    // a (re)launch due then
    std::optional<Clock::time_point> out_since;   // out of relaunches, waiting for a new placement
  };
  std::vector<World> worlds(plan.worlds.size());
  std::set<pid_t> superseded;  // launchers of a world's old placement, being stopped
  auto say = [&](const std::string& what) {
    std::fprintf(stderr, "meridian-worlds: %s: %s\n", plan.job_id.c_str(), what.c_str());
    std::fflush(stderr);
  };
  int failure = 0;
  bool stopping = false;
  auto stop_all = [&](int code) {
    failure = code;
    stopping = true;
    for (World& w : worlds) {
      if (w.pid > 0) kill(w.pid, SIGTERM);
      w.start_at.reset();
      w.out_since.reset();
    }
  };
  const Clock::time_point begun = Clock::now();
  for (World& w : worlds) w.start_at = begun;
  Clock::time_point next_reload = begun;
  bool started = false;
  for (;;) {
    const Clock::time_point now = Clock::now();
    // Launch what is due.
    for (size_t i = 0; i < worlds.size() && !stopping; ++i) {
      World& w = worlds[i];
      if (!w.start_at || *w.start_at > now) continue;
      w.start_at.reset();
      const WorldLaunch& launch = plan.worlds[i];
      const pid_t pid = Spawn(w.launches > 0 || launch.generation > 0 ? launch.rejoin_command : launch.command);
      if (pid < 0) {
        say("cannot start world " + launch.name + ": " + std::strerror(errno));
        stop_all(1);
        break;
      }
      w.pid = pid;
      ++w.launches;
    }
    if (!started) {
      started = true;
      if (!stopping) say(std::to_string(plan.worlds.size()) + " worlds started, one per data center");
    }
    // Reap the launchers that ended.
    for (;;) {
      int status = 0;
      const pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (superseded.erase(pid)) continue;
      auto it = std::find_if(worlds.begin(), worlds.end(), [&](const World& w) { return w.pid == pid; });
      if (it == worlds.end()) continue;  // not a world's launcher (reaped by us as their parent)
      World& w = *it;
      const WorldLaunch& launch = plan.worlds[(size_t)(it - worlds.begin())];
      w.pid = -1;
      const int code = ExitStatus(status);
      if (code == 0) {
        w.finished = true;
        say("world " + launch.name + " finished");
        continue;
      }
      if (stopping) continue;  // the others' ends are expected
      w.last_code = code;
      if (w.launches - 1 < plan.max_relaunches) {
        say("world " + launch.name + " ended with " + std::to_string(code) +
            "; the other worlds train on; relaunching it (" + std::to_string(w.launches) + " of " +
            std::to_string(plan.max_relaunches) + ") to rejoin them");
        w.start_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(plan.relaunch_delay_s));
      } else if (plan.replace_wait_s > 0 && !plan_file.empty()) {
        say("world " + launch.name + " ended with " + std::to_string(code) + " after " +
            std::to_string(w.launches) + " launches; waiting up to " + std::to_string((int)plan.replace_wait_s) +
            " s for the daemon to place it anew");
        w.out_since = Clock::now();
      } else {
        say("world " + launch.name + " ended with " + std::to_string(code) + " after " +
            std::to_string(w.launches) + " launches; stopping the job");
        stop_all(code);
      }
    }
    // A world placed anew by the daemon: stopped where it was, started where it is.
    if (!plan_file.empty() && !stopping && now >= next_reload) {
      next_reload = now + std::chrono::milliseconds(500);
      std::ifstream in(plan_file);
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      Result<WorldsPlan> fresh = WorldsPlanFromJson(text, plan_file);  // a file being rewritten: next time
      if (fresh.ok() && fresh->worlds.size() == plan.worlds.size()) {
        for (size_t i = 0; i < worlds.size(); ++i) {
          World& w = worlds[i];
          if (fresh->worlds[i].generation <= plan.worlds[i].generation || w.finished) continue;
          plan.worlds[i] = fresh->worlds[i];
          say("world " + plan.worlds[i].name + " placed anew (generation " +
              std::to_string(plan.worlds[i].generation) + "): relaunching it there to rejoin the others");
          if (w.pid > 0) {
            kill(w.pid, SIGTERM);
            superseded.insert(w.pid);
            w.pid = -1;
          }
          w.launches = 0;
          w.out_since.reset();
          w.start_at = now;
        }
      }
    }
    // A world that waited too long for a new placement ends the job.
    for (size_t i = 0; i < worlds.size() && !stopping; ++i) {
      World& w = worlds[i];
      if (!w.out_since || std::chrono::duration<double>(now - *w.out_since).count() < plan.replace_wait_s) continue;
      say("world " + plan.worlds[i].name + " was not placed anew within " +
          std::to_string((int)plan.replace_wait_s) + " s; stopping the job");
      stop_all(w.last_code);
    }
    const bool active = std::any_of(worlds.begin(), worlds.end(), [](const World& w) {
      return w.pid > 0 || w.start_at.has_value() || w.out_since.has_value();
    });
    if (!active && superseded.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return failure;
}

}  // namespace meridian::scheduler
