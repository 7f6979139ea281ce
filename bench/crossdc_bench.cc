#include "bench/crossdc_bench.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/crossdc_worlds_bench.h"
#include "bench/table.h"
#include "common/link_schedule.h"

#ifndef MERIDIAN_SOURCE_DIR
#define MERIDIAN_SOURCE_DIR "."
#endif

namespace meridian::bench {

namespace {

struct CrossDcOptions {
  std::string rate = "100mbit";
  double rtt_ms = 0;               // round trip across the link (meridian-wan-link); 0: the kernel's shaping alone
  std::vector<std::string> modes;  // rows to run (names); empty: all
  std::string json;                // one JSON line per row here
  int steps = 100;
  // Sync's steps, where they are fewer: over the WAN it computes exactly
  // what no-wan-sync does (tested), so its eval loss is no-wan-sync's and
  // a short run gives its tokens/s. 0: --steps.
  int sync_steps = 0;
  int n_layer = 4, n_embd = 128, n_head = 4;
  int batch = 4, seq = 64;
  // The synthetic corpus's size: 2 MB is repeated about four times in 2000
  // steps of 4 ranks, which a small model memorises; more keeps every
  // token new, so eval loss measures generalisation.
  long train_bytes = 2000000;
  int dcs = 2;           // data centers the WAN rows span
  int ranks_per_dc = 2;  // every row trains on dcs x ranks_per_dc ranks
  int world() const { return dcs * ranks_per_dc; }
  std::string workdir = "/tmp/meridian-bench-crossdc";
};

struct Row {
  std::string name;
  std::string args;
  bool wan = true;  // false: every rank in one data center
};

struct Outcome {
  bool ok = false;
  double tokens_per_s = 0, wan_bytes_per_step = 0, intra_bytes_per_step = 0, eval_loss = 0, seconds = 0;
};

// The test bed's options for the link's delay: half the round trip each way.
std::string DelayArgs(const CrossDcOptions& o, const std::string& bin) {
  if (o.rtt_ms <= 0) return "";
  return " --delay-ms " + std::to_string(o.rtt_ms / 2) + " --wan-link " + bin + "/meridian-wan-link";
}

// The round trip across the link as TCP sees it (tests/testbed/measure_link.py).
double MeasureRttMs(const CrossDcOptions& o, const std::string& bin) {
  const std::string out = o.workdir + "/link.json";
  const std::string cmd = "bash " MERIDIAN_SOURCE_DIR "/tests/testbed/slow_link_testbed.sh --dcs 2 --rate " + o.rate +
                          DelayArgs(o, bin) + " -- --run python3 " MERIDIAN_SOURCE_DIR
                          "/tests/testbed/measure_link.py --mbytes 4 > " + out + " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) return -1;
  std::ifstream in(out);
  std::string line;
  double rtt = -1;
  while (std::getline(in, line)) {
    nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
    if (r.is_object() && r.contains("rtt_ms")) rtt = r["rtt_ms"];
  }
  return rtt;
}

Outcome RunRow(const CrossDcOptions& o, const std::string& bin, const Row& row, int steps) {
  const std::string metrics = o.workdir + "/" + row.name + ".jsonl";
  std::filesystem::remove(metrics);
  const std::string cmd =
      "bash " MERIDIAN_SOURCE_DIR "/tests/testbed/slow_link_testbed.sh --dcs " +
      std::to_string(row.wan ? o.dcs : 1) + " --ranks-per-dc " + std::to_string(row.wan ? o.ranks_per_dc : o.world()) +
      " --rate " + o.rate + DelayArgs(o, bin) + " -- " + bin + "/meridian-train" +
      " --n-layer " + std::to_string(o.n_layer) + " --n-embd " + std::to_string(o.n_embd) + " --n-head " +
      std::to_string(o.n_head) + " --vocab 256 --max-seq " + std::to_string(o.seq) + " --seq " +
      std::to_string(o.seq) + " --batch " + std::to_string(o.batch) + " --steps " + std::to_string(steps) +
      " --lr 1e-3 --warmup 10 --threads 1 --dp " + std::to_string(o.world()) + " --data '" + o.workdir +
      "/data/train_*.bin' --val-data '" + o.workdir + "/data/val_*.bin' --eval-batches 8 --comm-timeout 600 --metrics-out " + metrics + " " +
      row.args + " > " + o.workdir + "/" + row.name + ".log 2>&1";
  Outcome out;
  const int rc = std::system(cmd.c_str());
  if (rc != 0) return out;
  std::ifstream in(metrics);
  std::string line;
  std::vector<double> tps;
  double wan = 0, intra = 0, ms = 0;
  int done = 0;
  while (std::getline(in, line)) {
    nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
    if (!r.is_object()) continue;
    if (r.contains("eval_loss")) out.eval_loss = r["eval_loss"];
    if (!r.contains("loss")) continue;
    ++done;
    wan += r.value("bytes_inter_dc", 0.0);
    intra += r.value("bytes_intra_dc", 0.0);
    ms += r["ms_per_step"].get<double>();
  }
  if (done == 0) return out;
  const double tokens = (double)o.batch * o.seq * o.world() * done;
  out.seconds = ms / 1e3;
  out.tokens_per_s = tokens / out.seconds;  // all steps: a round's outer step is part of the cost
  out.wan_bytes_per_step = wan / done;
  out.intra_bytes_per_step = intra / done;
  out.ok = true;
  return out;
}

int RunCrossDc(const CrossDcOptions& o) {
  const std::string bin = std::filesystem::canonical("/proc/self/exe").parent_path().string();
  std::filesystem::create_directories(o.workdir);
  const std::string synth = bin + "/meridian-data synth --out " + o.workdir + "/data --train-bytes " +
                            std::to_string(o.train_bytes) + " > /dev/null";
  if (std::system(synth.c_str()) != 0) {
    std::fprintf(stderr, "error: could not make the corpus\n");
    return 1;
  }
  const std::vector<Row> all_rows = {
      {"no-wan-sync", "--dp-sync sync", false},
      {"sync", "--dp-sync sync"},
      {"hierarchical", "--dp-sync hierarchical"},
      {"diloco-h10", "--dp-sync diloco --diloco-h 10"},
      {"diloco-h10-int8", "--dp-sync diloco --diloco-h 10 --outer-compress int8"},
      {"diloco-h50", "--dp-sync diloco --diloco-h 50"},
      {"diloco-h50-int8", "--dp-sync diloco --diloco-h 50 --outer-compress int8"},
      {"diloco-h50-int4", "--dp-sync diloco --diloco-h 50 --outer-compress int4"},
      {"diloco-h50-sparse", "--dp-sync diloco --diloco-h 50 --outer-compress sparse"},
      // The exchange overlaps 5 inner steps: the WAN's delay off the
      // critical path (one fragment: DiLoCoX's delayed outer step).
      {"diloco-h50-overlap5-int4", "--dp-sync diloco --diloco-h 50 --diloco-overlap 5 --outer-compress int4"},
      // Streaming DiLoCo: 4 fragments on staggered rounds, each overlapped.
      {"streaming-h50-f4-overlap5-int4",
       "--dp-sync diloco --diloco-h 50 --diloco-fragments 4 --diloco-overlap 5 --outer-compress int4"},
      {"streaming-h100-f4-overlap5-int4",
       "--dp-sync diloco --diloco-h 100 --diloco-fragments 4 --diloco-overlap 5 --outer-compress int4"},
      {"streaming-h50-f4-overlap5-sparse",
       "--dp-sync diloco --diloco-h 50 --diloco-fragments 4 --diloco-overlap 5 --outer-compress sparse"},
  };
  for (const std::string& name : o.modes)
    if (std::none_of(all_rows.begin(), all_rows.end(), [&](const Row& r) { return r.name == name; })) {
      std::string names;
      for (const Row& r : all_rows) names += " " + r.name;
      std::fprintf(stderr, "error: --modes %s: no such row (rows:%s)\n", name.c_str(), names.c_str());
      return 1;
    }
  std::vector<Row> rows;
  for (const Row& r : all_rows)
    if (o.modes.empty() || r.name == "no-wan-sync" || r.name == "sync" ||
        std::find(o.modes.begin(), o.modes.end(), r.name) != o.modes.end())
      rows.push_back(r);  // the first two are every row's yardsticks
  const double rtt = MeasureRttMs(o, bin);
  std::vector<Outcome> outcomes;
  for (const Row& r : rows) {
    std::fprintf(stderr, "crossdc: %s ...\n", r.name.c_str());
    const bool short_sync = r.name == "sync" && o.sync_steps > 0 && o.sync_steps < o.steps;
    outcomes.push_back(RunRow(o, bin, r, short_sync ? o.sync_steps : o.steps));
    if (short_sync) outcomes.back().eval_loss = outcomes[0].eval_loss;
    if (!outcomes.back().ok) {
      std::fprintf(stderr, "error: %s failed or the test bed is unavailable; see %s/%s.log\n", r.name.c_str(),
                   o.workdir.c_str(), r.name.c_str());
      return 1;
    }
  }
  const Outcome& base = outcomes[0];
  const Outcome& sync = outcomes[1];
  std::printf("# meridian-bench crossdc: %d ranks (%d data centers x %d, network namespaces), inter-DC link %s each way,\n"
              "# round trip %.1f ms asked, %.2f ms measured (TCP, median)\n",
              o.world(), o.dcs, o.ranks_per_dc, o.rate.c_str(), o.rtt_ms, rtt);
  std::printf("# L%d C%d vocab 256, %d steps of %d x %d x %d tokens; no-wan = the same %d ranks in one data center\n",
              o.n_layer, o.n_embd, o.steps, o.world(), o.batch, o.seq, o.world());
  if (o.sync_steps > 0 && o.sync_steps < o.steps)
    std::printf("# sync: tokens/s and WAN bytes from %d steps, eval loss no-wan-sync's (the same computation)\n",
                o.sync_steps);
  Table t({"mode", "tokens/s", "of-no-wan", "WAN-MB/step", "WAN-vs-sync", "intra-MB/step", "eval-loss", "vs-sync",
           "wall-s"});
  for (size_t i = 0; i < rows.size(); ++i) {
    const Outcome& x = outcomes[i];
    t.AddRow({rows[i].name, Fixed(x.tokens_per_s, 0), Percent(x.tokens_per_s / base.tokens_per_s),
              Fixed(x.wan_bytes_per_step / 1e6, 3),
              x.wan_bytes_per_step > 0 ? Fixed(sync.wan_bytes_per_step / x.wan_bytes_per_step, 0) + "x less" : "-",
              Fixed(x.intra_bytes_per_step / 1e6, 3), Fixed(x.eval_loss, 4),
              Percent(x.eval_loss / sync.eval_loss - 1.0), Fixed(x.seconds, 1)});
  }
  std::printf("%s", t.ToString().c_str());
  if (!o.json.empty()) {
    std::ofstream out(o.json);
    for (size_t i = 0; i < rows.size(); ++i) {
      const std::string& args = rows[i].args;
      const size_t at = args.find("--outer-compress ");
      out << nlohmann::json{{"mode", rows[i].name},
                            {"compress", at == std::string::npos ? "none" : args.substr(at + 17)},
                            {"tokens_per_s", outcomes[i].tokens_per_s},
                            {"no_wan_tokens_per_s", base.tokens_per_s},
                            {"wan_bytes_per_step", outcomes[i].wan_bytes_per_step},
                            {"sync_wan_bytes_per_step", sync.wan_bytes_per_step},
                            {"eval_loss", outcomes[i].eval_loss},
                            {"sync_eval_loss", sync.eval_loss},
                            {"measured_rtt_ms", rtt}}
                 .dump()
          << "\n";
    }
  }
  std::printf("# targets: diloco >= 90%% of no-wan tokens/s, >= 100x fewer WAN bytes than sync, eval loss within 3%% of sync\n");
  return 0;
}

}  // namespace

void AddCrossDcBenchmark(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<CrossDcOptions>();
  CLI::App* sub = app.add_subcommand("crossdc", "Sync modes across a shaped inter-DC link (needs root: netns)");
  sub->add_option("--rate", o->rate, "Inter-DC link rate (tc syntax)");
  sub->add_option("--rtt-ms", o->rtt_ms, "Round trip across the link (half each way, meridian-wan-link); 0: none");
  sub->add_option("--modes", o->modes, "Rows to run besides no-wan-sync and sync (e.g. diloco-h50-int4)");
  sub->add_option("--json", o->json, "Write one JSON line per row to this file");
  sub->add_option("--dcs", o->dcs, "Data centers the WAN rows span")->check(CLI::Range(2, 16));
  sub->add_option("--ranks-per-dc", o->ranks_per_dc, "Ranks in each data center")->check(CLI::Range(1, 16));
  sub->add_option("--steps", o->steps,
                  "Steps of each row (default 100); of each world with --kill-dc or --window (default 3000)");
  sub->add_option("--sync-steps", o->sync_steps,
                  "Run sync this many steps only (its eval loss is no-wan-sync's: the same computation)");
  sub->add_option("--n-layer", o->n_layer);
  sub->add_option("--n-embd", o->n_embd);
  sub->add_option("--n-head", o->n_head);
  sub->add_option("--batch", o->batch);
  sub->add_option("--seq", o->seq);
  sub->add_option("--train-bytes", o->train_bytes, "Size of the synthetic training corpus (default 2000000)")
      ->check(CLI::Range(100000L, 1000000000L));
  sub->add_option("--workdir", o->workdir);
  // Each data center its own world (bench/crossdc_worlds_bench.h): these
  // replace the sync-mode rows.
  auto w = std::make_shared<CrossDcWorldsOptions>();
  CLI::Option* kill_dc =
      sub->add_option("--kill-dc", w->kill_at_s,
                      "Worlds: kill data center 1's world this many seconds after start, relaunch it with --wan-join, "
                      "report goodput")
          ->check(CLI::PositiveNumber);
  CLI::Option* window =
      sub->add_option("--window", w->window,
                      "Worlds: the link up UP_S of every PERIOD_S (PERIOD_S:UP_S), tokens/s against always up")
          ->check([](const std::string& spec) -> std::string {
            Result<LinkSchedule> s = ParseWindowSpec(spec, "--window");
            if (!s.ok()) return s.status().message();
            return s->period_s > 0 ? "" : "--window " + spec + ": want PERIOD_S:UP_S (a periodic window)";
          });
  sub->add_option("--diloco-h", w->diloco_h, "Worlds: inner steps a round")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  for (CLI::Option* worlds : {kill_dc, window})
    for (const char* name : {"--modes", "--dcs", "--ranks-per-dc", "--sync-steps"}) worlds->excludes(name);
  sub->callback([o, w, sub, exit_code] {
    if (w->kill_at_s < 0 && w->window.empty()) {
      *exit_code = RunCrossDc(*o);
      return;
    }
    // The worlds train longer than a sync-mode row unless told.
    if (sub->get_option("--steps")->count() > 0) w->steps = o->steps;
    w->rate = o->rate;
    w->rtt_ms = o->rtt_ms;
    w->json = o->json;
    w->n_layer = o->n_layer;
    w->n_embd = o->n_embd;
    w->n_head = o->n_head;
    w->batch = o->batch;
    w->seq = o->seq;
    w->workdir = o->workdir;
    *exit_code = RunCrossDcWorlds(*w);
  });
}

}  // namespace meridian::bench
