// Hostile job files: ParseJobYaml, then the checks the daemon applies to
// what it parsed (the spec, its extra arguments against a data root). Any
// input must end in a value or an error, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "scheduler/cli/job_file.h"
#include "scheduler/service/job_options.h"
#include "scheduler/service/scheduler_core.h"
#include "tests/fuzz/fuzz_scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace meridian::scheduler;
  const std::string text(meridian::fuzz::AsText(data, size));
  auto spec = ParseJobYaml(text, "fuzz.yaml");
  if (!spec.ok()) return 0;
  if (!SchedulerCore::ValidateSpec(*spec).ok()) return 0;
  (void)SchedulerCore::ToJobRequest(*spec);
  const std::string root = (meridian::fuzz::ScratchDir() / "data").string();
  (void)CheckExtraArgs(spec->training(), {root});
  return 0;
}
