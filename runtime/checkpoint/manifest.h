// manifest.json of a training checkpoint step directory: building it and
// parsing it back with every field checked (internal to runtime/checkpoint).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "runtime/checkpoint/checkpoint.h"

namespace meridian::checkpoint_manifest {

inline constexpr const char* kFormatName = "meridian-checkpoint";
inline constexpr int kFormatVersion = 1;         // whole-model files (this header)
inline constexpr int kShardedFormatVersion = 2;  // per-rank files of pieces (sharded_manifest.h)

// One binary file of the step directory.
struct FileEntry {
  std::string file;   // plain file name inside the step directory
  uint64_t bytes = 0;
  std::string xxh64;  // 16 lowercase hex digits, seed 0
};

// What every manifest version records besides where the arrays are.
struct RunFields {
  GPTConfig config;
  int64_t step = 0;
  uint64_t num_parameters = 0;
  DataCursor train_data;
  uint64_t rng_state = 0;
  nlohmann::json extra;
};

// What a version 1 manifest says, minus the arrays themselves.
struct Manifest {
  RunFields run;
  FileEntry model;
  std::optional<FileEntry> adam_m, adam_v;  // both or neither
  std::map<std::string, FileEntry> extra_arrays;  // TrainingCheckpoint::extra_arrays, by name
};

// The manifest text for `m`, with per-tensor entries taken from the whole
// model's ParameterLayout. InvalidArgument when `extra` cannot be
// serialized (e.g. a string that is not UTF-8).
// REQUIRES: ValidateConfig(m.run.config).ok().
Result<std::string> RenderManifest(const Manifest& m);

// Names allowed for extra arrays: letters, digits, '_', '-', '.', not
// starting with '.', and not one of the reserved model/adam_m/adam_v.
bool IsExtraArrayName(const std::string& name);

// Parses and checks a version 1 manifest read from `path` (used in
// messages only).
// Corruption naming `path` and the field for bad JSON, missing or mistyped
// fields, an unknown format or version, a config that fails ValidateConfig,
// a num_parameters or tensor list that disagrees with the config, file
// entries whose sizes disagree with it, or a file name that is not a plain
// name.
Result<Manifest> ParseManifest(const std::string& text, const std::string& path);

// --- Shared by both versions -----------------------------------------------

// The JSON of a manifest read from `path`; Corruption naming `path` when
// it is not valid JSON.
Result<nlohmann::json> ParseManifestJson(const std::string& text, const std::string& path);

// Checks the 'format' field and returns the 'version' (1 or 2); Corruption
// naming the field for anything else.
Result<int> ParseManifestVersion(const nlohmann::json& root, const std::string& path);

// Reads and checks the RunFields of either version: step, the model config
// (must pass ValidateConfig), num_parameters and tensors (must agree with
// the config), train_data, rng_state and extra. Corruption naming `path`
// and the field.
Result<RunFields> ParseRunFields(const nlohmann::json& root, const std::string& path);

// The manifest text: format, version and the run fields, then the fields
// of `layout` (the version's own account of where the arrays are), then
// tensors and extra. InvalidArgument when `extra` cannot be serialized.
// REQUIRES: ValidateConfig(run.config).ok().
Result<std::string> RenderManifestText(const RunFields& run, int version,
                                       const nlohmann::ordered_json& layout);

}  // namespace meridian::checkpoint_manifest
