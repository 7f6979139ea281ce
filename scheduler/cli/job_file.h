// Job files (YAML) -> JobSpec. Errors name the file and the field.
//
//   name: demo
//   model: {preset: d4, n_layer: 4, vocab_size: 256}
//   training: {batch: 8, seq: 64, microbatches: 2, steps: 200, lr: 1e-3, data: "data/synth/train_*.bin"}
//   layout: {dp: 2, pp: 2}          # or {auto: true, gpus: 4}; dp_sync: auto|sync|hierarchical|diloco
#pragma once

#include <string>

#include "common/status.h"
#include "meridian/v1/scheduler.pb.h"

namespace meridian::scheduler {

Result<v1::JobSpec> ParseJobYaml(const std::string& text, const std::string& source_name);
Result<v1::JobSpec> LoadJobFile(const std::string& path);

}  // namespace meridian::scheduler
