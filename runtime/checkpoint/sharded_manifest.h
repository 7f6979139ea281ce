// The records of a sharded (version 2) checkpoint: manifest.json, which
// lists every piece of every rank file, and rank-R.json, one rank's own
// piece index written before rank 0 assembles the manifest. Building them
// and parsing them back with every field checked (internal to
// runtime/checkpoint; the format is in docs/formats.md).
//
// A manifest read from disk may be anything: every offset and count is
// checked against num_parameters and the file sizes with arithmetic that
// cannot overflow, so a hostile one is an error, never a crash or a huge
// allocation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "runtime/checkpoint/manifest.h"

namespace meridian::checkpoint_manifest {

// One contiguous range of one whole-model array, stored in one rank file.
struct PieceEntry {
  std::string array;
  uint64_t whole_offset = 0;  // floats, into the whole model's array
  uint64_t count = 0;         // floats
  std::string file;           // the rank file that holds it
  uint64_t file_offset = 0;   // bytes, into `file`
  std::string xxh64;          // of the piece's count * 4 bytes
};

struct RankFileEntry {
  std::string file;  // plain name in the step directory
  uint64_t bytes = 0;
};

// What a version 2 manifest says.
struct ShardedManifest {
  RunFields run;
  std::vector<std::string> arrays;  // "model" first, then adam_m/adam_v (both or neither), extras
  std::vector<RankFileEntry> files;
  std::vector<PieceEntry> pieces;
};

// "rank-00003.bin", "rank-00003.json".
std::string RankFileName(int rank, const char* extension);

// Why an array list is not allowed, or nullopt when it is: it must start
// with "model", hold adam_m and adam_v both or neither, name any other
// array by IsExtraArrayName, and name none twice.
std::optional<std::string> ArrayListDefect(const std::vector<std::string>& arrays);

// Checks what the arrays, files and pieces of `m` must satisfy together:
// the array list (ArrayListDefect); plain, distinct file names; for each
// piece a listed array and file, a count > 0, a whole-model range inside
// [0, num_parameters), a byte range inside its file, and no overlap with
// another piece of the same file; and that every array's pieces cover
// [0, num_parameters). Corruption starting with `where`, naming the piece
// (its index, array, range and file) or the array and the first offset no
// piece covers.
Status CheckShardedLayout(const ShardedManifest& m, const std::string& where);

// The manifest text. InvalidArgument when run.extra cannot be serialized.
// REQUIRES: ValidateConfig(m.run.config).ok().
Result<std::string> RenderShardedManifest(const ShardedManifest& m);

// Parses and checks a version 2 manifest (`root` from ParseManifestJson)
// read from `path`: the run fields (ParseRunFields), arrays, files and
// pieces, then CheckShardedLayout. Corruption naming `path` and the field.
Result<ShardedManifest> ParseShardedManifest(const nlohmann::json& root, const std::string& path);

// One rank's rank-R.json: the pieces of its rank-R.bin.
struct RankIndex {
  int rank = 0;
  std::string file;   // RankFileName(rank, ".bin")
  uint64_t bytes = 0;  // size of `file`
  std::vector<PieceEntry> pieces;  // each with file == `file`
};

std::string RenderRankIndex(const RankIndex& index);

// Parses rank-R.json read from `path`; Corruption naming `path` and the
// field when it is malformed or is not rank `expected_rank`'s. The pieces'
// ranges are checked later, with the whole manifest (CheckShardedLayout).
Result<RankIndex> ParseRankIndex(const std::string& text, const std::string& path, int expected_rank);

}  // namespace meridian::checkpoint_manifest
