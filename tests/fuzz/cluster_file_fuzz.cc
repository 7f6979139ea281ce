// Hostile cluster files: ParseClusterYaml must return a topology or an
// error naming what is wrong, never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "scheduler/core/topology.h"
#include "tests/fuzz/fuzz_scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)meridian::scheduler::ParseClusterYaml(std::string(meridian::fuzz::AsText(data, size)), "fuzz.yaml");
  return 0;
}
