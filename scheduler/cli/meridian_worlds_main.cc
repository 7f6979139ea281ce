// meridian-worlds PLAN.json: the supervisor of a job that runs as one world
// per data center (scheduler/launcher/world_supervisor.h). The daemon
// writes the plan into the job's launch directory and starts this in the
// job's process group, as it starts a one-world job's mpirun.
#include <cstdio>
#include <fstream>
#include <iterator>

#include "scheduler/launcher/world_supervisor.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: meridian-worlds PLAN.json\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "meridian-worlds: %s: cannot read\n", argv[1]);
    return 2;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto plan = meridian::scheduler::WorldsPlanFromJson(text, argv[1]);
  if (!plan.ok()) {
    std::fprintf(stderr, "meridian-worlds: %s\n", plan.status().message().c_str());
    return 2;
  }
  // The daemon rewrites the plan where it places a world anew.
  return meridian::scheduler::SuperviseWorlds(*plan, argv[1]);
}
