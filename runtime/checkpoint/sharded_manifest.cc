#include "runtime/checkpoint/sharded_manifest.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "runtime/checkpoint/json_fields.h"

namespace meridian::checkpoint_manifest {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr const char* kRankIndexFormat = "meridian-checkpoint-rank-index";

bool IsXxh64Hex(const std::string& s) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// "pieces[4] (array 'model', whole_offset 10, count 20, rank-00001.bin
// byte 0)": enough to find the piece in the manifest and on disk.
std::string DescribePiece(size_t index, const PieceEntry& p) {
  return "pieces[" + std::to_string(index) + "] (array '" + p.array + "', whole_offset " +
         std::to_string(p.whole_offset) + ", count " + std::to_string(p.count) + ", " + p.file +
         " byte " + std::to_string(p.file_offset) + ")";
}

// The fields of one piece; `file` is read only where the record lists
// pieces of several files (the manifest), not in a rank index.
Result<PieceEntry> ParsePiece(const json& object, const std::string& name, const std::string& path,
                              bool with_file) {
  FieldReader r(object, name, path);
  PieceEntry p;
  MERIDIAN_ASSIGN_OR_RETURN(p.array, r.GetString("array"));
  MERIDIAN_ASSIGN_OR_RETURN(p.whole_offset, r.GetUnsigned("whole_offset"));
  MERIDIAN_ASSIGN_OR_RETURN(p.count, r.GetUnsigned("count"));
  if (with_file) {
    MERIDIAN_ASSIGN_OR_RETURN(p.file, r.GetString("file"));
  }
  MERIDIAN_ASSIGN_OR_RETURN(p.file_offset, r.GetUnsigned("file_offset"));
  MERIDIAN_ASSIGN_OR_RETURN(p.xxh64, r.GetString("xxh64"));
  if (!IsXxh64Hex(p.xxh64)) return r.Bad(r.Name("xxh64"), "must be 16 lowercase hex digits");
  return p;
}

Result<std::vector<PieceEntry>> ParsePieces(const json& pieces, const std::string& path, bool with_file) {
  std::vector<PieceEntry> out;
  out.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    MERIDIAN_ASSIGN_OR_RETURN(PieceEntry p,
                              ParsePiece(pieces[i], "pieces[" + std::to_string(i) + "]", path, with_file));
    out.push_back(std::move(p));
  }
  return out;
}

ordered_json RenderPiece(const PieceEntry& p, bool with_file) {
  ordered_json j = {{"array", p.array}, {"whole_offset", p.whole_offset}, {"count", p.count}};
  if (with_file) j["file"] = p.file;
  j["file_offset"] = p.file_offset;
  j["xxh64"] = p.xxh64;
  return j;
}

// One piece against num_parameters and its file's size. Written as
// comparisons of differences so that no sum can wrap around.
Status CheckPieceRange(const PieceEntry& p, size_t index, uint64_t num_parameters, uint64_t file_bytes,
                       const std::string& where) {
  const std::string bad = where + ": " + DescribePiece(index, p);
  if (p.count == 0) return Status::Corruption(bad + " is empty");
  if (p.whole_offset > num_parameters || p.count > num_parameters - p.whole_offset) {
    return Status::Corruption(bad + " runs past the end of the array (num_parameters " +
                              std::to_string(num_parameters) + ")");
  }
  // count <= num_parameters, which CheckedParameterCount keeps far below
  // 2^62 floats, so count * 4 fits.
  const uint64_t bytes = p.count * sizeof(float);
  if (p.file_offset > file_bytes || bytes > file_bytes - p.file_offset) {
    return Status::Corruption(bad + " runs past the end of " + p.file + " (" +
                              std::to_string(file_bytes) + " bytes)");
  }
  return Status::OK();
}

// No two pieces share bytes of one file: the writer never does that, and
// it keeps the data a manifest can describe within the bytes on disk.
Status CheckNoOverlapInFiles(const ShardedManifest& m, const std::string& where) {
  std::vector<size_t> order(m.pieces.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const PieceEntry &pa = m.pieces[a], &pb = m.pieces[b];
    return std::tie(pa.file, pa.file_offset) < std::tie(pb.file, pb.file_offset);
  });
  for (size_t k = 1; k < order.size(); ++k) {
    const PieceEntry &prev = m.pieces[order[k - 1]], &cur = m.pieces[order[k]];
    // Both ranges were checked to lie inside the file: no overflow.
    if (prev.file == cur.file && cur.file_offset < prev.file_offset + prev.count * sizeof(float)) {
      return Status::Corruption(where + ": " + DescribePiece(order[k], cur) + " overlaps " +
                                DescribePiece(order[k - 1], prev) + " in " + cur.file);
    }
  }
  return Status::OK();
}

// Every array's pieces, together, cover [0, num_parameters).
Status CheckCoverage(const ShardedManifest& m, const std::string& where) {
  std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> ranges;  // array -> [begin, end)
  for (const std::string& a : m.arrays) ranges[a];
  for (const PieceEntry& p : m.pieces) ranges[p.array].emplace_back(p.whole_offset, p.whole_offset + p.count);
  for (const std::string& a : m.arrays) {
    std::vector<std::pair<uint64_t, uint64_t>>& r = ranges[a];
    std::sort(r.begin(), r.end());
    uint64_t covered = 0;  // [0, covered) is covered
    for (const auto& [begin, end] : r) {
      if (begin > covered) break;
      covered = std::max(covered, end);
    }
    if (covered < m.run.num_parameters) {
      return Status::Corruption(where + ": array '" + a + "' has no piece covering offset " +
                                std::to_string(covered) + " (of num_parameters " +
                                std::to_string(m.run.num_parameters) + ")");
    }
  }
  return Status::OK();
}

Result<ShardedManifest> ParseChecked(const json& root, const std::string& path) {
  FieldReader top(root, "", path);
  ShardedManifest m;
  MERIDIAN_ASSIGN_OR_RETURN(m.run, ParseRunFields(root, path));

  MERIDIAN_ASSIGN_OR_RETURN(const json* arrays, top.GetArray("arrays"));
  for (size_t i = 0; i < arrays->size(); ++i) {
    if (!(*arrays)[i].is_string()) return top.Bad("arrays[" + std::to_string(i) + "]", "must be a string");
    m.arrays.push_back((*arrays)[i].get<std::string>());
  }
  if (std::optional<std::string> defect = ArrayListDefect(m.arrays)) return top.Bad("arrays", *defect);

  MERIDIAN_ASSIGN_OR_RETURN(const json* files, top.GetArray("files"));
  for (size_t i = 0; i < files->size(); ++i) {
    FieldReader fr((*files)[i], "files[" + std::to_string(i) + "]", path);
    RankFileEntry e;
    MERIDIAN_ASSIGN_OR_RETURN(e.file, fr.GetString("file"));
    MERIDIAN_ASSIGN_OR_RETURN(e.bytes, fr.GetUnsigned("bytes"));
    m.files.push_back(std::move(e));
  }
  MERIDIAN_ASSIGN_OR_RETURN(const json* pieces, top.GetArray("pieces"));
  MERIDIAN_ASSIGN_OR_RETURN(m.pieces, ParsePieces(*pieces, path, /*with_file=*/true));
  MERIDIAN_RETURN_IF_ERROR(CheckShardedLayout(m, path));
  return m;
}

}  // namespace

std::string RankFileName(int rank, const char* extension) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "rank-%05d%s", rank, extension);
  return buf;
}

std::optional<std::string> ArrayListDefect(const std::vector<std::string>& arrays) {
  if (arrays.empty() || arrays[0] != "model") return "must start with \"model\"";
  std::set<std::string> seen;
  for (const std::string& a : arrays) {
    if (!seen.insert(a).second) return "names '" + a + "' twice";
    if (a != "model" && a != "adam_m" && a != "adam_v" && !IsExtraArrayName(a)) {
      return "holds '" + a + "', which is not a valid array name";
    }
  }
  if (seen.count("adam_m") != seen.count("adam_v")) {
    return "must hold adam_m and adam_v both or neither (optimizer state needs both moments)";
  }
  return std::nullopt;
}

Status CheckShardedLayout(const ShardedManifest& m, const std::string& where) {
  if (std::optional<std::string> defect = ArrayListDefect(m.arrays)) {
    return Status::Corruption(where + ": arrays " + *defect);
  }
  std::map<std::string, uint64_t> file_bytes;
  for (size_t i = 0; i < m.files.size(); ++i) {
    const RankFileEntry& f = m.files[i];
    const std::string field = where + ": files[" + std::to_string(i) + "]";
    // A name with a slash could point the reader outside the step directory.
    if (!IsPlainFileName(f.file)) return Status::Corruption(field + " '" + f.file + "' is not a plain file name");
    if (!file_bytes.emplace(f.file, f.bytes).second) {
      return Status::Corruption(field + " '" + f.file + "' is listed twice");
    }
  }
  const std::set<std::string> arrays(m.arrays.begin(), m.arrays.end());
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const PieceEntry& p = m.pieces[i];
    if (!arrays.count(p.array)) {
      return Status::Corruption(where + ": " + DescribePiece(i, p) + " is of an array not in 'arrays'");
    }
    auto f = file_bytes.find(p.file);
    if (f == file_bytes.end()) {
      return Status::Corruption(where + ": " + DescribePiece(i, p) + " is in a file not in 'files'");
    }
    MERIDIAN_RETURN_IF_ERROR(CheckPieceRange(p, i, m.run.num_parameters, f->second, where));
  }
  MERIDIAN_RETURN_IF_ERROR(CheckNoOverlapInFiles(m, where));
  return CheckCoverage(m, where);
}

Result<std::string> RenderShardedManifest(const ShardedManifest& m) {
  ordered_json files = ordered_json::array();
  for (const RankFileEntry& f : m.files) files.push_back(ordered_json{{"file", f.file}, {"bytes", f.bytes}});
  ordered_json pieces = ordered_json::array();
  for (const PieceEntry& p : m.pieces) pieces.push_back(RenderPiece(p, /*with_file=*/true));
  ordered_json layout = ordered_json::object();
  layout["arrays"] = m.arrays;
  layout["files"] = std::move(files);
  layout["pieces"] = std::move(pieces);
  return RenderManifestText(m.run, kShardedFormatVersion, layout);
}

Result<ShardedManifest> ParseShardedManifest(const json& root, const std::string& path) {
  try {
    return ParseChecked(root, path);
  } catch (const json::exception& e) {
    // Types are checked before every get(); a safety net so that no
    // exception leaves the module.
    return Status::Corruption(path + ": malformed manifest: " + e.what());
  }
}

std::string RenderRankIndex(const RankIndex& index) {
  ordered_json pieces = ordered_json::array();
  for (const PieceEntry& p : index.pieces) pieces.push_back(RenderPiece(p, /*with_file=*/false));
  ordered_json root = {{"format", kRankIndexFormat}, {"version", kShardedFormatVersion},
                       {"rank", index.rank},         {"file", index.file},
                       {"bytes", index.bytes},       {"pieces", std::move(pieces)}};
  return root.dump(1) + "\n";
}

Result<RankIndex> ParseRankIndex(const std::string& text, const std::string& path, int expected_rank) {
  MERIDIAN_ASSIGN_OR_RETURN(json root, ParseManifestJson(text, path));
  try {
    FieldReader top(root, "", path);
    MERIDIAN_ASSIGN_OR_RETURN(std::string format, top.GetString("format"));
    if (format != kRankIndexFormat) {
      return top.Bad("format", "is '" + format + "', expected '" + kRankIndexFormat + "'");
    }
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t version, top.GetUnsigned("version"));
    if (version != static_cast<uint64_t>(kShardedFormatVersion)) {
      return top.Bad("version", "is " + std::to_string(version) + ", expected " +
                                    std::to_string(kShardedFormatVersion));
    }
    RankIndex index;
    MERIDIAN_ASSIGN_OR_RETURN(index.rank, top.GetInt("rank"));
    if (index.rank != expected_rank) {
      return top.Bad("rank", "is " + std::to_string(index.rank) + ", expected " + std::to_string(expected_rank));
    }
    MERIDIAN_ASSIGN_OR_RETURN(index.file, top.GetString("file"));
    const std::string want_file = RankFileName(expected_rank, ".bin");
    if (index.file != want_file) return top.Bad("file", "is '" + index.file + "', expected '" + want_file + "'");
    MERIDIAN_ASSIGN_OR_RETURN(index.bytes, top.GetUnsigned("bytes"));
    MERIDIAN_ASSIGN_OR_RETURN(const json* pieces, top.GetArray("pieces"));
    MERIDIAN_ASSIGN_OR_RETURN(index.pieces, ParsePieces(*pieces, path, /*with_file=*/false));
    for (PieceEntry& p : index.pieces) p.file = index.file;
    return index;
  } catch (const json::exception& e) {
    return Status::Corruption(path + ": malformed rank index: " + e.what());
  }
}

}  // namespace meridian::checkpoint_manifest
