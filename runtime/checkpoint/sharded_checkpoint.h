// Sharded training checkpoints: every rank writes its own part of the model
// and optimizer state, in parallel, and any layout reads any part back.
//
// On disk (format "meridian-checkpoint" version 2; docs/formats.md):
//   <root>/step_00000042/manifest.json    config, step, data cursor, rng,
//                                         extra, the arrays, and every
//                                         piece: which rank's file holds
//                                         which whole-model range of which
//                                         array, at which file offset, with
//                                         its xxh64
//   <root>/step_00000042/rank-00003.bin   rank 3's pieces, back to back
//   <root>/latest                         as in version 1
// A "piece" is one contiguous range of one whole-model array (model,
// adam_m, adam_v, or an extra array such as outer_momentum), in
// ParameterLayout order of the whole model. Pieces of different ranks may
// overlap (a tied tensor held by two stages); the union of an array's
// pieces must cover [0, num_parameters).
//
// Saving, for one step: every rank calls WriteRankShard into the same
// temporary directory (ShardedTempDir: all ranks compute the same name),
// which writes rank-R.bin and then, once that is durable, rank-R.json (its
// piece index) atomically. Rank 0 then calls PublishShardedCheckpoint,
// which waits for every rank's .json, writes manifest.json, renames the
// directory into place and points `latest` at it: a checkpoint becomes
// visible only when every rank's shard is durable. No communication
// between ranks is needed beyond a shared directory (the checkpoint
// directory must be on storage every rank sees).
//
// Loading: CheckpointReader opens a step directory of either format
// (version 1, whole-model files, or version 2) and reads any range of any
// array. Each piece (or version 1 file) a read touches is verified against
// its xxh64 the first time it is read, so a reader that needs only part of
// the model reads little more than that part.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "runtime/checkpoint/checkpoint.h"
#include "runtime/model/gpt_config.h"

namespace meridian {

// One contiguous range of one whole-model array, as one rank holds it.
struct ShardPiece {
  std::string array;          // "model", "adam_m", "adam_v", or an extra array name
  uint64_t whole_offset = 0;  // in floats, into the whole model's array
  uint64_t count = 0;         // floats
  const float* data = nullptr;
};

// Everything of a checkpoint but the arrays.
struct CheckpointHeader {
  GPTConfig config;
  int64_t step = 0;
  DataCursor train_data;
  uint64_t rng_state = 0;
  nlohmann::json extra;
  std::vector<std::string> arrays;  // "model" first; "adam_m" and "adam_v" both or neither; then extra arrays
};

// root/step_<step>.tmp-<save_id>: the directory every rank of one save
// writes into. `save_id` must be the same on every rank and differ
// between runs (e.g. rank 0's pid and start time, broadcast once); it
// must be usable in a file name (no '/').
std::string ShardedTempDir(const std::string& root, int64_t step, const std::string& save_id);

// Writes this rank's pieces to dir/rank-<rank, 5 digits>.bin (fsynced),
// then its index to dir/rank-<rank>.json atomically. Creates `dir` if
// missing. A rank with nothing to write passes no pieces (it still writes
// its two files: publishing waits for every rank). InvalidArgument for a
// negative rank, a piece with no data, a zero count or an array name that
// is not allowed (checkpoint_manifest::IsExtraArrayName or
// model/adam_m/adam_v); IOError naming the file on a write failure.
Status WriteRankShard(const std::string& dir, int rank, const std::vector<ShardPiece>& pieces);

// Rank 0, after its own WriteRankShard: waits (polling, up to timeout_s)
// until dir holds rank-R.json for every R < world_size, checks that the
// pieces of every array in header.arrays cover the whole model and that
// every .bin file has the size its index says, writes manifest.json,
// renames dir to root/step_<step> (replacing an existing one as
// SaveCheckpoint does) and writes root/latest. InvalidArgument for a bad
// header (config, step < 0, an array list that does not start with
// "model" or has one Adam moment without the other) or world_size < 1;
// DeadlineExceeded naming the missing rank files (and saying the
// directory must be shared) on timeout; Corruption naming the array and
// the first uncovered offset, or the rank file whose index or size is
// wrong or that holds a piece of an array the header does not list;
// IOError naming the file. On failure dir is left for inspection.
Status PublishShardedCheckpoint(const std::string& root, const std::string& dir, int world_size,
                                const CheckpointHeader& header, double timeout_s);

// Reads a checkpoint step directory of either format. Not thread-safe
// (Read remembers which pieces it verified): one reader per thread.
class CheckpointReader {
 public:
  // Parses and checks the manifest; checks that every data file exists
  // with the size the manifest gives (the contents are checked as they are
  // read). NotFound / Corruption / IOError naming the file, as
  // LoadCheckpoint.
  static Result<std::unique_ptr<CheckpointReader>> Open(const std::string& step_dir);
  virtual ~CheckpointReader() = default;

  virtual const CheckpointHeader& header() const = 0;
  virtual int format_version() const = 0;  // 1 or 2
  bool has_array(const std::string& name) const;

  // Copies floats [whole_offset, whole_offset + count) of `array` into
  // dst. NotFound for an array the checkpoint lacks; InvalidArgument for a
  // range past the end; Corruption naming the file when a piece (or a
  // version 1 file) it reads fails its checksum. On an error dst may be
  // partly written.
  virtual Status Read(const std::string& array, uint64_t whole_offset, uint64_t count, float* dst) = 0;
};

// The whole checkpoint in memory, from a reader (what LoadCheckpoint does
// for either format): arrays other than model/adam_m/adam_v go to
// extra_arrays. Errors as Read's.
Result<TrainingCheckpoint> ReadWholeCheckpoint(CheckpointReader& reader);

}  // namespace meridian
