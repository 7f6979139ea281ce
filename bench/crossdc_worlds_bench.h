// `meridian-bench crossdc --kill-dc AT_S | --window PERIOD_S:UP_S`: each
// data center its own world (one meridian-train per data center, DiLoCo
// rounds over the gRPC outer exchange), two data centers in the slow-link
// test bed (network namespaces joined by meridian-wan-link).
//  --kill-dc: data center 1's world is killed (SIGKILL) AT_S seconds after
//             start and relaunched with --wan-join once it is gone; goodput
//             is counted inside that one run from its own metrics.
//  --window:  the link up UP_S of every PERIOD_S (the link and the trainers
//             given the same spec), against an always-up run of the same
//             worlds in the same invocation: tokens/s of both worlds.
#pragma once

#include <string>

namespace meridian::bench {

struct CrossDcWorldsOptions {
  std::string rate = "100mbit";
  double rtt_ms = 0;     // round trip across the link (half each way)
  double kill_at_s = -1;  // < 0: no kill run
  std::string window;     // "PERIOD:UP[:PHASE]"; empty: no window runs
  int steps = 3000;       // each world's steps
  int diloco_h = 50;
  int n_layer = 4, n_embd = 128, n_head = 4;
  int batch = 4, seq = 64;
  std::string json;  // one JSON line per run here
  std::string workdir = "/tmp/meridian-bench-crossdc";
};

// Runs what `o` asks for and prints its tables; 0 when every world trained
// to the end (and the killed one rejoined from the live world's state),
// 1 otherwise, with the error on stderr. REQUIRES: root (namespaces).
int RunCrossDcWorlds(const CrossDcWorldsOptions& o);

}  // namespace meridian::bench
