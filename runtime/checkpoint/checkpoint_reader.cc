// CheckpointReader for both formats (sharded_checkpoint.h): a version 1
// directory is read as one piece per array, the whole file, so one reader
// serves both.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "runtime/checkpoint/file_io.h"
#include "runtime/checkpoint/manifest.h"
#include "runtime/checkpoint/sharded_checkpoint.h"
#include "runtime/checkpoint/sharded_manifest.h"
#include "runtime/checkpoint/step_directory.h"

namespace meridian {
namespace {

using checkpoint_dir::JoinPath;
using checkpoint_io::InputFile;
namespace mf = checkpoint_manifest;

// A stretch of one data file whose xxh64 the manifest records: a version 2
// piece, or a whole version 1 file.
struct Piece {
  uint64_t whole_offset = 0;  // floats
  uint64_t count = 0;         // floats
  size_t file = 0;            // index into the reader's files
  uint64_t file_offset = 0;   // bytes
  std::string xxh64;
  std::string label;          // for messages; empty for a version 1 file
  bool verified = false;      // read whole and its checksum matched
};

// A piece read only in part is still hashed whole, streamed through a
// buffer of at most this many bytes so memory stays bounded.
constexpr uint64_t kVerifySliceBytes = uint64_t{8} << 20;

class PieceReader final : public CheckpointReader {
 public:
  PieceReader(std::string dir, CheckpointHeader header, int version, uint64_t num_parameters,
              std::vector<InputFile> files, std::map<std::string, std::vector<Piece>> pieces)
      : dir_(std::move(dir)), header_(std::move(header)), version_(version), n_(num_parameters),
        files_(std::move(files)), pieces_(std::move(pieces)) {
    for (auto& [array, list] : pieces_) {
      std::sort(list.begin(), list.end(),
                [](const Piece& a, const Piece& b) { return a.whole_offset < b.whole_offset; });
    }
  }

  const CheckpointHeader& header() const override { return header_; }
  int format_version() const override { return version_; }
  Status Read(const std::string& array, uint64_t whole_offset, uint64_t count, float* dst) override;

 private:
  // Copies floats [from, from + count) of the piece into dst, verifying the
  // piece first if no read has yet.
  Status ReadFromPiece(Piece& p, uint64_t from, uint64_t count, float* dst);
  Status CheckDigest(const Piece& p, const std::string& actual) const;

  std::string dir_;
  CheckpointHeader header_;
  int version_;
  uint64_t n_;
  // Opened once, so every read sees the files Open checked even if the
  // directory is replaced meanwhile (a re-save of the same step).
  std::vector<InputFile> files_;
  std::map<std::string, std::vector<Piece>> pieces_;  // by array, sorted by whole_offset
  std::vector<char> slice_;
};

Status PieceReader::Read(const std::string& array, uint64_t whole_offset, uint64_t count, float* dst) {
  auto it = pieces_.find(array);
  if (it == pieces_.end()) return Status::NotFound(dir_ + ": the checkpoint has no array '" + array + "'");
  if (whole_offset > n_ || count > n_ - whole_offset) {
    return Status::InvalidArgument(dir_ + ": cannot read " + std::to_string(count) + " floats at offset " +
                                   std::to_string(whole_offset) + " of '" + array + "', which holds " +
                                   std::to_string(n_));
  }
  std::vector<Piece>& pieces = it->second;
  const uint64_t end = whole_offset + count;
  for (uint64_t pos = whole_offset; pos < end;) {
    // Among the pieces holding `pos`, one already verified costs no extra
    // read; otherwise the one reaching furthest needs the fewest checks.
    const auto last = std::upper_bound(pieces.begin(), pieces.end(), pos,
                                       [](uint64_t v, const Piece& p) { return v < p.whole_offset; });
    Piece* best = nullptr;
    for (auto p = pieces.begin(); p != last; ++p) {
      const uint64_t p_end = p->whole_offset + p->count;
      if (p_end <= pos) continue;
      if (best == nullptr || (p->verified && !best->verified) ||
          (p->verified == best->verified && p_end > best->whole_offset + best->count)) {
        best = &*p;
      }
    }
    // Open checked coverage; this guards against a logic error only.
    if (best == nullptr) {
      return Status::Corruption(dir_ + ": array '" + array + "' has no piece covering offset " +
                                std::to_string(pos));
    }
    const uint64_t take = std::min(end, best->whole_offset + best->count) - pos;
    MERIDIAN_RETURN_IF_ERROR(ReadFromPiece(*best, pos - best->whole_offset, take, dst + (pos - whole_offset)));
    pos += take;
  }
  return Status::OK();
}

Status PieceReader::ReadFromPiece(Piece& p, uint64_t from, uint64_t count, float* dst) {
  const InputFile& file = files_[p.file];
  const uint64_t want_begin = from * sizeof(float), want_bytes = count * sizeof(float);
  if (p.verified) return file.ReadAt(p.file_offset + want_begin, dst, want_bytes);
  const uint64_t piece_bytes = p.count * sizeof(float);
  if (want_bytes == piece_bytes) {
    // The whole piece is wanted: read it straight into dst and hash it there.
    MERIDIAN_RETURN_IF_ERROR(file.ReadAt(p.file_offset, dst, want_bytes));
    MERIDIAN_RETURN_IF_ERROR(CheckDigest(p, checkpoint_io::Xxh64Hex(dst, want_bytes)));
  } else {
    // Part of it is wanted, but the checksum covers all of it: stream the
    // piece once, hashing every slice and keeping the wanted bytes.
    checkpoint_io::Xxh64Stream hash;
    slice_.resize(std::min(piece_bytes, kVerifySliceBytes));
    char* out = reinterpret_cast<char*>(dst);
    for (uint64_t done = 0; done < piece_bytes;) {
      const uint64_t n = std::min(piece_bytes - done, kVerifySliceBytes);
      MERIDIAN_RETURN_IF_ERROR(file.ReadAt(p.file_offset + done, slice_.data(), n));
      hash.Update(slice_.data(), n);
      const uint64_t lo = std::max(done, want_begin), hi = std::min(done + n, want_begin + want_bytes);
      if (lo < hi) std::memcpy(out + (lo - want_begin), slice_.data() + (lo - done), hi - lo);
      done += n;
    }
    MERIDIAN_RETURN_IF_ERROR(CheckDigest(p, hash.HexDigest()));
  }
  p.verified = true;
  return Status::OK();
}

Status PieceReader::CheckDigest(const Piece& p, const std::string& actual) const {
  if (actual == p.xxh64) return Status::OK();
  const std::string& path = files_[p.file].path();
  if (p.label.empty()) {
    return Status::Corruption(path + ": checksum mismatch: manifest says xxh64 " + p.xxh64 +
                              ", file has " + actual);
  }
  return Status::Corruption(path + ": checksum mismatch in " + p.label + ": manifest says xxh64 " +
                            p.xxh64 + ", the data has " + actual);
}

// Opens `file` of the step directory and checks its size against the
// manifest's.
Result<InputFile> OpenDataFile(const std::string& dir, const std::string& file, uint64_t bytes) {
  const std::string path = JoinPath(dir, file);
  MERIDIAN_ASSIGN_OR_RETURN(InputFile f, InputFile::Open(path));
  if (f.size() != bytes) {
    return Status::Corruption(path + ": size mismatch: manifest says " + std::to_string(bytes) +
                              " bytes, file has " + std::to_string(f.size()));
  }
  return f;
}

CheckpointHeader HeaderOf(mf::RunFields run) {
  CheckpointHeader h;
  h.config = run.config;
  h.step = run.step;
  h.train_data = run.train_data;
  h.rng_state = run.rng_state;
  h.extra = std::move(run.extra);
  return h;
}

Result<std::unique_ptr<CheckpointReader>> OpenVersion1(const std::string& dir, const std::string& text,
                                                       const std::string& manifest_path) {
  MERIDIAN_ASSIGN_OR_RETURN(mf::Manifest m, mf::ParseManifest(text, manifest_path));
  const uint64_t n = m.run.num_parameters;
  std::vector<std::pair<std::string, mf::FileEntry>> arrays = {{"model", m.model}};
  if (m.adam_m) arrays.insert(arrays.end(), {{"adam_m", *m.adam_m}, {"adam_v", *m.adam_v}});
  for (const auto& [name, e] : m.extra_arrays) arrays.emplace_back(name, e);

  CheckpointHeader header = HeaderOf(std::move(m.run));
  std::vector<InputFile> files;
  std::map<std::string, std::vector<Piece>> pieces;
  for (const auto& [name, e] : arrays) {
    MERIDIAN_ASSIGN_OR_RETURN(InputFile f, OpenDataFile(dir, e.file, e.bytes));
    header.arrays.push_back(name);
    pieces[name].push_back(Piece{0, n, files.size(), 0, e.xxh64, "", false});
    files.push_back(std::move(f));
  }
  return std::unique_ptr<CheckpointReader>(
      new PieceReader(dir, std::move(header), mf::kFormatVersion, n, std::move(files), std::move(pieces)));
}

Result<std::unique_ptr<CheckpointReader>> OpenVersion2(const std::string& dir, const nlohmann::json& root,
                                                       const std::string& manifest_path) {
  MERIDIAN_ASSIGN_OR_RETURN(mf::ShardedManifest m, mf::ParseShardedManifest(root, manifest_path));
  const uint64_t n = m.run.num_parameters;
  CheckpointHeader header = HeaderOf(std::move(m.run));
  header.arrays = m.arrays;
  std::vector<InputFile> files;
  std::map<std::string, size_t> file_index;
  for (const mf::RankFileEntry& e : m.files) {
    MERIDIAN_ASSIGN_OR_RETURN(InputFile f, OpenDataFile(dir, e.file, e.bytes));
    file_index[e.file] = files.size();
    files.push_back(std::move(f));
  }
  std::map<std::string, std::vector<Piece>> pieces;
  for (const std::string& a : m.arrays) pieces[a];
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const mf::PieceEntry& p = m.pieces[i];
    const std::string label = "pieces[" + std::to_string(i) + "] (array '" + p.array + "', whole_offset " +
                              std::to_string(p.whole_offset) + ", count " + std::to_string(p.count) +
                              ", at byte " + std::to_string(p.file_offset) + ")";
    pieces[p.array].push_back(Piece{p.whole_offset, p.count, file_index.at(p.file), p.file_offset, p.xxh64,
                                    label, false});
  }
  return std::unique_ptr<CheckpointReader>(new PieceReader(
      dir, std::move(header), mf::kShardedFormatVersion, n, std::move(files), std::move(pieces)));
}

}  // namespace

Result<std::unique_ptr<CheckpointReader>> CheckpointReader::Open(const std::string& step_dir) {
  const std::string manifest_path = JoinPath(step_dir, checkpoint_dir::kManifestFile);
  Result<std::string> text = checkpoint_io::ReadSmallFile(manifest_path);
  if (!text.ok()) {
    if (text.status().code() == Status::Code::kNotFound) {
      return Status::NotFound(manifest_path + ": missing (not a checkpoint, or an unfinished save)");
    }
    return text.status();
  }
  MERIDIAN_ASSIGN_OR_RETURN(nlohmann::json root, mf::ParseManifestJson(*text, manifest_path));
  MERIDIAN_ASSIGN_OR_RETURN(int version, mf::ParseManifestVersion(root, manifest_path));
  if (version == mf::kFormatVersion) return OpenVersion1(step_dir, *text, manifest_path);
  return OpenVersion2(step_dir, root, manifest_path);
}

bool CheckpointReader::has_array(const std::string& name) const {
  const std::vector<std::string>& arrays = header().arrays;
  return std::find(arrays.begin(), arrays.end(), name) != arrays.end();
}

Result<TrainingCheckpoint> ReadWholeCheckpoint(CheckpointReader& reader) {
  const CheckpointHeader& h = reader.header();
  TrainingCheckpoint ckpt;
  ckpt.config = h.config;
  ckpt.step = h.step;
  ckpt.train_data = h.train_data;
  ckpt.rng_state = h.rng_state;
  ckpt.extra = h.extra;
  const Status valid = ValidateConfig(h.config);
  if (!valid.ok()) return Status::InvalidArgument("checkpoint header: " + valid.message());
  const std::optional<uint64_t> n = checkpoint_io::CheckedParameterCount(h.config);
  if (!n) return Status::InvalidArgument("checkpoint header: describes an impossibly large model");
  for (const std::string& name : h.arrays) {
    std::vector<float>& out = name == "model"    ? ckpt.params
                              : name == "adam_m" ? ckpt.adam_m
                              : name == "adam_v" ? ckpt.adam_v
                                                 : ckpt.extra_arrays[name];
    out.resize(*n);
    MERIDIAN_RETURN_IF_ERROR(reader.Read(name, 0, *n, out.data()));
  }
  return ckpt;
}

}  // namespace meridian
