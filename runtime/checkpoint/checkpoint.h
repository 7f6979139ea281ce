// Meridian's own training checkpoints: everything needed to resume a run
// bit-exactly (weights, AdamW moments, step, data position, RNG state).
//
// On disk (see docs/formats.md "Training checkpoints"):
//   <root>/step_00000042/manifest.json   format, step, config, per-file size
//                                        and xxh64, per-tensor offsets,
//                                        data cursor, rng state, extra
//   <root>/step_00000042/model.bin       float32 params, ParameterLayout order
//   <root>/step_00000042/adam_m.bin      (when optimizer state is present)
//   <root>/step_00000042/adam_v.bin
//   <root>/latest                        "step_00000042\n": last one saved
// A step directory only ever appears complete: it is written under a
// temporary name (step_N.tmp-<pid>), fsynced, then renamed into place.
// Leftover temporary directories from a crash are ignored by the loader and
// may be deleted by hand. That is format version 1; version 2 (sharded:
// every rank writes its own part) is in sharded_checkpoint.h, and the
// loaders below read both.
//
// Thread safety: the functions are stateless; concurrent saves of the same
// step into one root from different processes are not supported (one
// writer per root, readers any time).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "runtime/model/gpt_config.h"

namespace meridian {

// Where the training data loader stands. Mirrors the loader's own position
// type so that this module does not depend on runtime/data.
struct DataCursor {
  uint64_t epoch = 0;
  uint64_t shard_index = 0;
  uint64_t token_offset = 0;
};

struct TrainingCheckpoint {
  GPTConfig config;
  int64_t step = 0;                 // optimizer steps completed
  std::vector<float> params;        // whole model, ParameterLayout order
  std::vector<float> adam_m, adam_v;// same size as params, or both empty (no optimizer state)
  // More whole-model arrays, by name (a plain file name without ".bin",
  // e.g. the cross-data-center optimizer's "outer_momentum" or one data
  // center's inner moments "dc1.adam_m"); each holds params.size() floats.
  std::map<std::string, std::vector<float>> extra_arrays;
  DataCursor train_data;
  uint64_t rng_state = 0;
  nlohmann::json extra;             // free-form run info (options, layout) recorded in the manifest
};

// Writes `ckpt` to root_dir/step_<step, 8 digits>/ and points
// root_dir/latest at it. root_dir is created if missing. An existing
// directory for the same step is replaced atomically. A crash at any point
// leaves either the previous state or the complete new checkpoint visible
// to LoadCheckpoint/LatestCheckpoint.
// InvalidArgument when the config fails ValidateConfig, step < 0,
// params.size() != NumParameters(config), the Adam moments are not both
// empty or both params-sized, or `extra` cannot be serialized; IOError
// naming the file or directory when writing fails (the temporary directory
// is removed).
Status SaveCheckpoint(const std::string& root_dir, const TrainingCheckpoint& ckpt);

// Loads and fully verifies a checkpoint of either format version. `path`
// is either a step directory or a root directory, in which case the
// checkpoint LatestCheckpoint names is loaded. Every file's size and every
// file's (version 1) or piece's (version 2) xxh64 are checked against the
// manifest.
// Errors name the file and the problem:
//   NotFound    `path` does not exist, the step directory has no
//               manifest.json, or a root holds no complete checkpoint;
//   Corruption  bad JSON, a missing or mistyped manifest field (named),
//               an unknown format/version, a bad config, tensor entries or
//               a parameter count that disagree with the config, a data
//               file whose size or checksum differs from the manifest;
//   IOError     a file cannot be read.
Result<TrainingCheckpoint> LoadCheckpoint(const std::string& path);

// The path of the newest complete checkpoint under root_dir:
// root_dir/<name in root_dir/latest> when that is a step directory holding a
// manifest.json, otherwise the highest-numbered such step_N directory.
// Temporary step_N.tmp-* directories are never returned. Checks only that
// the manifest exists; LoadCheckpoint verifies the contents.
// NotFound naming root_dir when it is missing or holds no checkpoint.
Result<std::string> LatestCheckpoint(const std::string& root_dir);

// Every complete step directory under root_dir (one holding a
// manifest.json), newest step first. NotFound when root_dir is missing.
Result<std::vector<std::string>> ListCheckpoints(const std::string& root_dir);

// The newest checkpoint under root_dir that loads and verifies; its
// directory in *path. Each newer one that does not (a checksum or size
// mismatch, a missing file: corrupted, or half copied) is skipped and its
// error, which names the bad file, appended to *skipped. NotFound when no
// checkpoint is left.
Result<TrainingCheckpoint> LoadNewestValidCheckpoint(const std::string& root_dir, std::string* path,
                                                     std::vector<Status>* skipped);

// Deletes all but the newest `keep` (>= 1) complete step directories under
// root_dir, and never the one `latest` names. Meant right after a save, so
// the newest is known to be good. Temporary directories of saves in
// progress are not touched.
Status PruneCheckpoints(const std::string& root_dir, int keep);

}  // namespace meridian
