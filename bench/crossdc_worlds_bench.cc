#include "bench/crossdc_worlds_bench.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/local_daemon.h"
#include "bench/table.h"
#include "common/link_schedule.h"

#ifndef MERIDIAN_SOURCE_DIR
#define MERIDIAN_SOURCE_DIR "."
#endif

namespace meridian::bench {

namespace {

namespace fs = std::filesystem;

constexpr int kDcs = 2;       // data center d is the test bed's namespace dcd, at 10.213.d.2
constexpr int kPort = 7100;   // each world's outer exchange (stage 0)
constexpr int kKilledDc = 1;  // the data center --kill-dc takes down

double Now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }
void Sleep(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

// One training step of a world, from its metrics line.
struct StepRow {
  long step = 0;
  double end_s = 0, ms = 0;  // unix time the step ended, its length
  long outer_steps = 0;
  int round_worlds = 0;
  std::string digest;
  double start_s() const { return end_s - ms / 1e3; }
};

std::vector<StepRow> ReadSteps(const std::string& path) {
  std::vector<StepRow> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
    if (!r.is_object() || !r.contains("loss") || !r.contains("step")) continue;
    StepRow s;
    s.step = r["step"].get<long>();
    s.end_s = r.value("time", 0.0);
    s.ms = r.value("ms_per_step", 0.0);
    s.outer_steps = r.value("outer_steps", 0L);
    s.round_worlds = r.value("round_worlds", 0);
    s.digest = r.value("outer_digest", std::string());
    rows.push_back(s);
  }
  return rows;
}

// The slow-link test bed held open while the worlds run in it: its --run
// command writes the namespaces' prefix and waits for a hold file, whose
// removal (in the destructor) lets the test bed remove its namespaces.
class TestBed {
 public:
  TestBed(const CrossDcWorldsOptions& o, const std::string& bin, const std::string& name, const std::string& window)
      : hold_(o.workdir + "/" + name + ".hold"), ns_file_(o.workdir + "/" + name + ".ns"),
        log_(o.workdir + "/" + name + ".testbed.log") {
    std::ofstream(hold_).put('\n');
    fs::remove(ns_file_);
    fs::remove(log_);
    // Always through meridian-wan-link, so an always-up run crosses the
    // same forwarder as a windowed one.
    std::vector<std::string> argv = {"bash", MERIDIAN_SOURCE_DIR "/tests/testbed/slow_link_testbed.sh",
                                     "--dcs", std::to_string(kDcs), "--ranks-per-dc", "1", "--rate", o.rate,
                                     "--user-link", "--wan-link", bin + "/meridian-wan-link"};
    if (o.rtt_ms > 0) argv.insert(argv.end(), {"--delay-ms", std::to_string(o.rtt_ms / 2)});
    if (!window.empty()) argv.insert(argv.end(), {"--window", window});
    argv.insert(argv.end(), {"--", "--run", "bash", "-c",
                             "echo \"$TESTBED_NS\" > '" + ns_file_ + ".tmp' && mv '" + ns_file_ + ".tmp' '" +
                                 ns_file_ + "'; while [ -e '" + hold_ + "' ]; do sleep 0.2; done"});
    pid_ = SpawnLogged(argv, log_);
  }
  ~TestBed() {
    fs::remove(hold_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  TestBed(const TestBed&) = delete;
  TestBed& operator=(const TestBed&) = delete;

  // The namespaces' prefix once they are up; empty when the test bed ended
  // first or took over a minute (its log says why).
  std::string WaitUp() {
    for (const double until = Now() + 60; Now() < until; Sleep(0.05)) {
      std::ifstream in(ns_file_);
      std::string ns;
      if (in >> ns) return ns;
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return "";
      }
    }
    return "";
  }
  const std::string& log() const { return log_; }

 private:
  std::string hold_, ns_file_, log_;
  pid_t pid_ = -1;
};

// One invocation of the worlds: what each launch of each world trained.
struct WorldsRun {
  explicit WorldsRun(std::string n) : name(std::move(n)) {}
  std::string name;
  // launches[d]: world d's launches in order, each its steps; the killed
  // world has two.
  std::array<std::vector<std::vector<StepRow>>, kDcs> launches;
  double started_s = 0, killed_s = -1, gone_s = -1;
  bool joined = false;  // the relaunched world said it took a live world's state
};

std::string MetricsPath(const CrossDcWorldsOptions& o, const std::string& launch) {
  return o.workdir + "/" + launch + ".jsonl";
}

pid_t LaunchWorld(const CrossDcWorldsOptions& o, const std::string& bin, const std::string& ns, int dc,
                  const std::string& launch, const std::string& window, bool join) {
  std::string peers;
  for (int d = 0; d < kDcs; ++d) {
    if (d > 0) peers += ",";
    peers += "10.213." + std::to_string(d) + ".2:" + std::to_string(kPort);
  }
  // "--wan-world=D", one word: tests that pick a victim by "--wan-world 1"
  // in any meridian-train's command line then leave these worlds alone.
  std::string world_flag = "--wan-world=";
  world_flag += std::to_string(dc);
  std::vector<std::string> argv = {
      "ip", "netns", "exec", ns + "-dc" + std::to_string(dc), bin + "/meridian-train",
      "--n-layer", std::to_string(o.n_layer), "--n-embd", std::to_string(o.n_embd), "--n-head",
      std::to_string(o.n_head), "--vocab", "256", "--max-seq", std::to_string(o.seq), "--seq", std::to_string(o.seq),
      "--batch", std::to_string(o.batch), "--steps", std::to_string(o.steps), "--lr", "2e-3", "--warmup", "10",
      "--grad-clip", "1.0", "--threads", "1", "--data", o.workdir + "/data/train_*.bin", "--log-every", "1000",
      "--dp-sync", "diloco", "--diloco-h", std::to_string(o.diloco_h), "--diloco-overlap", "1", "--diloco-elastic",
      "--wan-timeout", "20", "--wan-peers", peers, world_flag,
      "--metrics-out", MetricsPath(o, launch)};
  if (!window.empty()) argv.insert(argv.end(), {"--wan-window", window});
  if (join) argv.push_back("--wan-join");
  fs::remove(MetricsPath(o, launch));
  fs::remove(o.workdir + "/" + launch + ".log");
  return SpawnLogged(argv, o.workdir + "/" + launch + ".log");
}

// Both worlds to the end in a fresh test bed (`window`: the link's and the
// trainers' contact windows); with kill_at_s >= 0, data center 1's world is
// killed then and relaunched with --wan-join once gone. Empty on success,
// else what went wrong.
std::string RunWorlds(const CrossDcWorldsOptions& o, const std::string& bin, const std::string& window,
                      double kill_at_s, WorldsRun* run) {
  TestBed bed(o, bin, run->name, window);
  const std::string ns = bed.WaitUp();
  if (ns.empty()) return "the test bed did not come up (needs root and network namespaces; see " + bed.log() + ")";
  std::array<pid_t, kDcs> pid;
  std::array<std::vector<std::string>, kDcs> launches;
  for (int d = 0; d < kDcs; ++d) {
    launches[d].push_back(run->name + std::to_string(d));
    pid[d] = LaunchWorld(o, bin, ns, d, launches[d].back(), window, false);
  }
  run->started_s = Now();
  auto stop_all = [&] {
    for (pid_t& p : pid) {
      if (p <= 0) continue;
      kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
      p = -1;
    }
  };
  // A guard only: a world whose exchange hangs should not hold the bench.
  const double deadline = run->started_s + 300 + 0.5 * o.steps;
  std::string error;
  while (error.empty() && std::any_of(pid.begin(), pid.end(), [](pid_t p) { return p > 0; })) {
    for (int d = 0; d < kDcs; ++d) {
      int status = 0;
      if (pid[d] <= 0 || waitpid(pid[d], &status, WNOHANG) != pid[d]) continue;
      pid[d] = -1;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        error = "world " + std::to_string(d) + " failed; see " + o.workdir + "/" + launches[d].back() + ".log";
    }
    if (error.empty() && kill_at_s >= 0 && run->killed_s < 0 && Now() - run->started_s >= kill_at_s) {
      if (pid[kKilledDc] <= 0) {
        error = "world " + std::to_string(kKilledDc) + " ended before the kill at " + Fixed(kill_at_s, 1) +
                " s: give more --steps or an earlier --kill-dc";
        break;
      }
      kill(pid[kKilledDc], SIGKILL);
      run->killed_s = Now();
      waitpid(pid[kKilledDc], nullptr, 0);
      run->gone_s = Now();
      launches[kKilledDc].push_back(run->name + std::to_string(kKilledDc) + "_again");
      pid[kKilledDc] = LaunchWorld(o, bin, ns, kKilledDc, launches[kKilledDc].back(), window, true);
    }
    if (Now() > deadline) error = "the worlds ran past " + Fixed(deadline - run->started_s, 0) + " s";
    Sleep(0.02);
  }
  stop_all();
  if (!error.empty()) return error;
  if (kill_at_s >= 0 && run->killed_s < 0) return "the run ended before the kill: give more --steps";
  for (int d = 0; d < kDcs; ++d) {
    for (const std::string& l : launches[d]) run->launches[d].push_back(ReadSteps(MetricsPath(o, l)));
    const std::vector<StepRow>& last = run->launches[d].back();
    if (last.empty() || last.back().step != o.steps)
      return "world " + std::to_string(d) + " did not train to step " + std::to_string(o.steps) + "; see " +
             o.workdir + "/" + launches[d].back() + ".log";
  }
  if (run->killed_s >= 0) {
    std::ifstream in(o.workdir + "/" + launches[kKilledDc].back() + ".log");
    const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    run->joined = log.find("joined the live worlds at step") != std::string::npos;
  }
  return "";
}

std::vector<StepRow> AllSteps(const WorldsRun& run, int dc) {
  std::vector<StepRow> all;
  for (const std::vector<StepRow>& l : run.launches[dc]) all.insert(all.end(), l.begin(), l.end());
  return all;
}

// A world's tokens per second while it trains: its steps' tokens over the
// steps' own time (rounds' outer steps included).
double TrainingRate(const std::vector<StepRow>& steps, double tokens_per_step) {
  double ms = 0;
  for (const StepRow& s : steps) ms += s.ms;
  return ms > 0 ? tokens_per_step * steps.size() / (ms / 1e3) : 0.0;
}

// Wall-clock tokens per second from a world's first step's start to its
// last step's end: every wait for a window or an exchange included.
double WallRate(const std::vector<StepRow>& steps, double tokens_per_step) {
  if (steps.empty()) return 0.0;
  const double span = steps.back().end_s - steps.front().start_s();
  return span > 0 ? tokens_per_step * steps.size() / span : 0.0;
}

double LongestGapS(const std::vector<StepRow>& steps) {
  double longest = 0;
  for (size_t i = 1; i < steps.size(); ++i) longest = std::max(longest, steps[i].end_s - steps[i - 1].end_s);
  return longest;
}

// Outer steps the world applied after `after`, and those whose round heard
// every world.
std::pair<int, int> Rounds(const std::vector<StepRow>& steps, long after = 0) {
  std::set<long> seen;
  int all = 0;
  for (const StepRow& s : steps)
    if (s.outer_steps > after && seen.insert(s.outer_steps).second && s.round_worlds == kDcs) ++all;
  return {(int)seen.size(), all};
}

void PrintHeader(const CrossDcWorldsOptions& o, const char* what) {
  std::printf("# meridian-bench crossdc %s: %d data centers, each its own world (one meridian-train, 1 rank, "
              "--threads 1),\n# network namespaces joined by meridian-wan-link, %s each way, round trip %.1f ms asked; "
              "%u hardware threads\n",
              what, kDcs, o.rate.c_str(), o.rtt_ms, std::thread::hardware_concurrency());
  std::printf("# L%d C%d vocab 256, %d steps of %d x %d tokens a world; DiLoCo H=%d, --diloco-overlap 1, "
              "--diloco-elastic, --wan-timeout 20\n",
              o.n_layer, o.n_embd, o.steps, o.batch, o.seq, o.diloco_h);
}

// Goodput of the kill run from its own metrics. Lost: (a) seconds in which
// no data center trained, at the rate of those that were up; (b) steps a
// world trained twice (its step numbers repeat); (c) the seconds data
// center 1 was down, kill to its first step again, at its own rate.
int ReportKill(const CrossDcWorldsOptions& o, const WorldsRun& run, std::ofstream* json) {
  const double tokens_per_step = (double)o.batch * o.seq;
  std::array<std::vector<StepRow>, kDcs> steps;
  std::array<double, kDcs> rate;
  long useful_steps = 0, redone_steps = 0;
  double t0 = 1e300, t1 = 0;
  for (int d = 0; d < kDcs; ++d) {
    steps[d] = AllSteps(run, d);
    rate[d] = TrainingRate(steps[d], tokens_per_step);
    std::set<long> distinct;
    for (const StepRow& s : steps[d]) {
      distinct.insert(s.step);
      t0 = std::min(t0, s.start_s());
      t1 = std::max(t1, s.end_s);
    }
    useful_steps += (long)distinct.size();
    redone_steps += (long)(steps[d].size() - distinct.size());
  }
  const std::vector<StepRow>& before = run.launches[kKilledDc].front();
  const std::vector<StepRow>& again = run.launches[kKilledDc].back();
  const double back_s = again.front().start_s();
  const double down_s = back_s - run.killed_s;

  // (a) on a 1 ms grid over the span from the first step's start to the
  // last step's end.
  constexpr double kDt = 1e-3;
  const size_t n = (size_t)((t1 - t0) / kDt) + 1;
  std::vector<char> training(n, 0);
  for (int d = 0; d < kDcs; ++d)
    for (const StepRow& s : steps[d]) {
      const size_t a = (size_t)std::max(0.0, (s.start_s() - t0) / kDt), b = std::min(n, (size_t)((s.end_s - t0) / kDt));
      std::fill(training.begin() + std::min(a, b), training.begin() + b, 1);
    }
  double idle_s = 0, idle_tokens = 0;
  for (size_t i = 0; i < n; ++i) {
    if (training[i]) continue;
    const double t = t0 + i * kDt;
    idle_s += kDt;
    for (int d = 0; d < kDcs; ++d)
      if (!(d == kKilledDc && t >= run.killed_s && t < back_s)) idle_tokens += rate[d] * kDt;  // down: in (c)
  }
  const double useful = useful_steps * tokens_per_step;
  const double redone = redone_steps * tokens_per_step;
  const double down_tokens = down_s * rate[kKilledDc];
  const double lost = idle_tokens + redone + down_tokens;
  const double goodput = useful / (useful + lost);

  PrintHeader(o, "--kill-dc");
  std::printf("# data center %d's world killed (SIGKILL) %.1f s after start, relaunched with --wan-join once gone "
              "(%.2f s later); goodput counted inside this run\n",
              kKilledDc, run.killed_s - run.started_s, run.gone_s - run.killed_s);
  Table t({"part", "seconds", "steps", "tokens", "of-useful+lost"});
  t.AddRow({"useful (steps trained once)", "-", std::to_string(useful_steps), Fixed(useful, 0),
            Percent(useful / (useful + lost))});
  t.AddRow({"(a) no data center training", Fixed(idle_s, 2), "-", Fixed(idle_tokens, 0),
            Percent(idle_tokens / (useful + lost))});
  t.AddRow({"(b) trained again after a rollback", "-", std::to_string(redone_steps), Fixed(redone, 0),
            Percent(redone / (useful + lost))});
  t.AddRow({"(c) dc" + std::to_string(kKilledDc) + " down, kill to training again", Fixed(down_s, 2), "-",
            Fixed(down_tokens, 0), Percent(down_tokens / (useful + lost))});
  t.AddRow({"goodput", "-", "-", "-", Percent(goodput)});
  std::printf("%s", t.ToString().c_str());

  // What the run says besides: where the killed world stopped and came
  // back, whether the survivor paused, and whether the two agree again.
  const std::pair<int, int> rounds0 = Rounds(steps[0]);
  // The outer weights the relaunched world held (digests; its outer-step
  // count starts again at the join, so they are matched by value) that
  // dc0 held too.
  std::set<std::string> held0, held1;
  for (const StepRow& s : steps[0])
    if (s.start_s() >= back_s) held0.insert(s.digest);
  for (const StepRow& s : again)
    if (s.outer_steps > 0) held1.insert(s.digest);
  int agree = 0;
  for (const std::string& d : held1) agree += held0.count(d) ? 1 : 0;
  const int common = (int)held1.size();
  // Rounds each world closed after the rejoin, and those that heard both.
  std::array<std::pair<int, int>, kDcs> after;
  for (int d = 0; d < kDcs; ++d) {
    std::vector<StepRow> later;
    for (const StepRow& s : steps[d])
      if (s.start_s() >= back_s) later.push_back(s);
    after[d] = later.empty() ? std::pair<int, int>{0, 0} : Rounds(later, later.front().outer_steps);
  }
  std::printf("# dc%d trained to step %ld, killed; back at step %ld (%s the live world's state), %.2f s after the "
              "kill; rates %.0f and %.0f tokens/s (dc0, dc1)\n",
              kKilledDc, before.empty() ? 0L : before.back().step, again.front().step,
              run.joined ? "took" : "did NOT take", down_s, rate[0], rate[1]);
  std::printf("# dc0's longest step-to-step gap %.0f ms; %d rounds, %d with both worlds; after the rejoin rounds with "
              "both worlds: dc0 %d of %d, dc1 %d of %d\n",
              LongestGapS(steps[0]) * 1e3, rounds0.first, rounds0.second, after[0].second, after[0].first,
              after[1].second, after[1].first);
  std::printf("# %s: dc0 held %d of the %d outer weights (digests) dc1 held after its rounds since the rejoin\n",
              agree > 0 ? "ok" : "WRONG", agree, common);
  std::printf("# target: goodput >= 90%% with one data center killed once: %s\n", goodput >= 0.9 ? "met" : "missed");
  if (json->is_open())
    *json << nlohmann::json{{"run", "kill-dc"},          {"kill_at_s", o.kill_at_s},     {"useful_tokens", useful},
                            {"idle_s", idle_s},          {"idle_tokens", idle_tokens},   {"redone_tokens", redone},
                            {"down_s", down_s},          {"down_tokens", down_tokens},   {"goodput", goodput},
                            {"rtt_ms", o.rtt_ms},        {"rate", o.rate}}
                 .dump()
          << "\n";
  return run.joined && agree > 0 ? 0 : 1;
}

// Tokens/s of both worlds with the link in windows against always up.
int ReportWindow(const CrossDcWorldsOptions& o, const LinkSchedule& schedule, const WorldsRun& up,
                 const WorldsRun& windowed, std::ofstream* json) {
  const double tokens_per_step = (double)o.batch * o.seq;
  PrintHeader(o, "--window");
  std::printf("# the link (meridian-wan-link --window) and the trainers (--wan-window) both given %s: %s\n",
              o.window.c_str(), schedule.Describe().c_str());
  Table t({"run", "world", "steps", "tokens/s", "of-always-up", "rounds", "with-both", "longest-gap-ms"});
  std::array<double, kDcs> up_rate{};
  double up_total = 0, window_total = 0;
  for (const WorldsRun* run : {&up, &windowed}) {
    const bool is_up = run == &up;
    double total = 0;
    for (int d = 0; d < kDcs; ++d) {
      const std::vector<StepRow> s = AllSteps(*run, d);
      const double r = WallRate(s, tokens_per_step);
      if (is_up) up_rate[d] = r;
      total += r;
      const std::pair<int, int> rounds = Rounds(s);
      t.AddRow({run->name, std::to_string(d), std::to_string(s.size()), Fixed(r, 0), Percent(r / up_rate[d]),
                std::to_string(rounds.first), std::to_string(rounds.second), Fixed(LongestGapS(s) * 1e3, 0)});
    }
    (is_up ? up_total : window_total) = total;
    t.AddRow({run->name, "both", "-", Fixed(total, 0), Percent(total / up_total), "-", "-", "-"});
  }
  std::printf("%s", t.ToString().c_str());
  const double ratio = window_total / up_total;
  std::printf("# tokens/s are wall clock, each world's first step to its last (every wait included)\n");
  std::printf("# target: tokens/s under a one-third duty-cycle window >= 90%% of always-up: %s (%s at %s up)\n",
              ratio >= 0.9 ? "met" : "missed", Percent(ratio).c_str(), Percent(schedule.DutyCycle()).c_str());
  if (json->is_open())
    *json << nlohmann::json{{"run", "window"},
                            {"window", o.window},
                            {"duty_cycle", schedule.DutyCycle()},
                            {"tokens_per_s", window_total},
                            {"always_up_tokens_per_s", up_total},
                            {"ratio", ratio},
                            {"rtt_ms", o.rtt_ms},
                            {"rate", o.rate}}
                 .dump()
          << "\n";
  for (const WorldsRun* run : {&up, &windowed})
    for (int d = 0; d < kDcs; ++d)
      if (Rounds(AllSteps(*run, d)).second == 0) return 1;  // the worlds never met: not a DiLoCo run
  return 0;
}

}  // namespace

int RunCrossDcWorlds(const CrossDcWorldsOptions& o) {
  LinkSchedule schedule;
  if (!o.window.empty()) {
    Result<LinkSchedule> parsed = ParseWindowSpec(o.window, "--window");
    if (!parsed.ok()) {
      std::fprintf(stderr, "error: %s\n", parsed.status().message().c_str());
      return 1;
    }
    schedule = *parsed;
    if (schedule.period_s <= 0) {
      std::fprintf(stderr, "error: --window %s: want PERIOD_S:UP_S (a periodic window)\n", o.window.c_str());
      return 1;
    }
  }
  const std::string bin = BenchBinDir();
  fs::create_directories(o.workdir);
  if (!RunLogged({bin + "/meridian-data", "synth", "--out", o.workdir + "/data"}, o.workdir + "/data.log")) {
    std::fprintf(stderr, "error: meridian-data synth failed (%s/data.log)\n", o.workdir.c_str());
    return 1;
  }
  // Every world of one job shares its token; the test bed's pools are one
  // world's, and here each world is its data center.
  setenv("MERIDIAN_JOB_TOKEN", ("crossdc-bench-" + std::to_string(getpid())).c_str(), 1);
  unsetenv("MERIDIAN_POOLS");
  std::ofstream json;
  if (!o.json.empty()) json.open(o.json);
  int rc = 0;
  if (o.kill_at_s >= 0) {
    std::fprintf(stderr, "crossdc: worlds, dc%d killed at %.1f s ...\n", kKilledDc, o.kill_at_s);
    WorldsRun run("kill-dc");
    if (std::string e = RunWorlds(o, bin, "", o.kill_at_s, &run); !e.empty()) {
      std::fprintf(stderr, "error: --kill-dc %.1f: %s\n", o.kill_at_s, e.c_str());
      return 1;
    }
    rc |= ReportKill(o, run, &json);
  }
  if (!o.window.empty()) {
    WorldsRun up("always-up"), windowed("window");
    for (WorldsRun* run : {&up, &windowed}) {
      std::fprintf(stderr, "crossdc: worlds, %s ...\n", run->name.c_str());
      if (std::string e = RunWorlds(o, bin, run == &up ? "" : o.window, -1, run); !e.empty()) {
        std::fprintf(stderr, "error: --window %s: %s: %s\n", o.window.c_str(), run->name.c_str(), e.c_str());
        return 1;
      }
    }
    rc |= ReportWindow(o, schedule, up, windowed, &json);
  }
  return rc;
}

}  // namespace meridian::bench
