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
inline constexpr int kFormatVersion = 1;

// One binary file of the step directory.
struct FileEntry {
  std::string file;   // plain file name inside the step directory
  uint64_t bytes = 0;
  std::string xxh64;  // 16 lowercase hex digits, seed 0
};

// What a manifest says, minus the arrays themselves.
struct Manifest {
  GPTConfig config;
  int64_t step = 0;
  uint64_t num_parameters = 0;
  FileEntry model;
  std::optional<FileEntry> adam_m, adam_v;  // both or neither
  std::map<std::string, FileEntry> extra_arrays;  // TrainingCheckpoint::extra_arrays, by name
  DataCursor train_data;
  uint64_t rng_state = 0;
  nlohmann::json extra;
};

// The manifest text for `m`, with per-tensor entries taken from the whole
// model's ParameterLayout. InvalidArgument when `extra` cannot be
// serialized (e.g. a string that is not UTF-8).
// REQUIRES: ValidateConfig(m.config).ok().
Result<std::string> RenderManifest(const Manifest& m);

// Names allowed for extra arrays: letters, digits, '_', '-', '.', not
// starting with '.', and not one of the reserved model/adam_m/adam_v.
bool IsExtraArrayName(const std::string& name);

// Parses and checks a manifest read from `path` (used in messages only).
// Corruption naming `path` and the field for bad JSON, missing or mistyped
// fields, an unknown format or version, a config that fails ValidateConfig,
// a num_parameters or tensor list that disagrees with the config, file
// entries whose sizes disagree with it, or a file name that is not a plain
// name.
Result<Manifest> ParseManifest(const std::string& text, const std::string& path);

}  // namespace meridian::checkpoint_manifest
