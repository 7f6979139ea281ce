#include "runtime/checkpoint/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <filesystem>
#include <memory>
#include <optional>
#include <system_error>

#include "runtime/checkpoint/file_io.h"
#include "runtime/checkpoint/manifest.h"
#include "runtime/checkpoint/sharded_checkpoint.h"
#include "runtime/checkpoint/step_directory.h"
#include "runtime/model/parameter_layout.h"

namespace meridian {

// The .bin files are raw little-endian float32, written straight from memory.
static_assert(std::endian::native == std::endian::little,
              "training checkpoints are little-endian; add byte swapping for this host");

namespace {

namespace fs = std::filesystem;
using checkpoint_manifest::FileEntry;
using checkpoint_manifest::Manifest;

using checkpoint_dir::HasManifest;
using checkpoint_dir::JoinPath;
using checkpoint_dir::kManifestFile;
using checkpoint_dir::ParseStepDirName;
using checkpoint_dir::StepDirName;

std::string StripTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

Status CheckSaveArguments(const std::string& root_dir, const TrainingCheckpoint& ckpt) {
  const std::string where = "checkpoint " + root_dir;
  Status valid = ValidateConfig(ckpt.config);
  if (!valid.ok()) return Status::InvalidArgument(where + ": " + valid.message());
  if (ckpt.step < 0) {
    return Status::InvalidArgument(where + ": step = " + std::to_string(ckpt.step) +
                                   " must be >= 0");
  }
  const std::optional<uint64_t> count = checkpoint_io::CheckedParameterCount(ckpt.config);
  if (!count || ckpt.params.size() != *count) {
    return Status::InvalidArgument(where + ": params has " + std::to_string(ckpt.params.size()) +
                                   " floats, the model config (" + DescribeConfig(ckpt.config) +
                                   ") needs " + (count ? std::to_string(*count) : "too many"));
  }
  const bool no_state = ckpt.adam_m.empty() && ckpt.adam_v.empty();
  const bool full_state = ckpt.adam_m.size() == *count && ckpt.adam_v.size() == *count;
  if (!no_state && !full_state) {
    return Status::InvalidArgument(
        where + ": adam_m has " + std::to_string(ckpt.adam_m.size()) + " and adam_v " +
        std::to_string(ckpt.adam_v.size()) + " floats; both must be empty or hold " +
        std::to_string(*count));
  }
  for (const auto& [name, a] : ckpt.extra_arrays) {
    if (!checkpoint_manifest::IsExtraArrayName(name))
      return Status::InvalidArgument(where + ": extra array name '" + name + "' is not a plain name");
    if (a.size() != *count)
      return Status::InvalidArgument(where + ": " + name + " has " + std::to_string(a.size()) +
                                     " floats; must hold " + std::to_string(*count));
  }
  return Status::OK();
}

Result<FileEntry> WriteArray(const std::string& dir, const char* name, const std::vector<float>& a,
                             ProgressBar* progress) {
  FileEntry e;
  e.file = name;
  e.bytes = a.size() * sizeof(float);
  e.xxh64 = checkpoint_io::Xxh64Hex(a.data(), e.bytes);
  MERIDIAN_RETURN_IF_ERROR(checkpoint_io::WriteFileDurably(JoinPath(dir, name), {{a.data(), e.bytes}}, progress));
  return e;
}

// Writes every file of the checkpoint into `dir` (which exists and is
// empty), the manifest last, and makes the directory durable.
Status WriteStepDirectory(const std::string& dir, const TrainingCheckpoint& ckpt) {
  Manifest m;
  m.run.config = ckpt.config;
  m.run.step = ckpt.step;
  m.run.num_parameters = ckpt.params.size();
  m.run.train_data = ckpt.train_data;
  m.run.rng_state = ckpt.rng_state;
  m.run.extra = ckpt.extra;
  // Render once up front so that a bad `extra` fails before gigabytes are
  // written; the file entries are filled in below.
  MERIDIAN_RETURN_IF_ERROR(checkpoint_manifest::RenderManifest(m).status());
  uint64_t bytes = (ckpt.params.size() + ckpt.adam_m.size() + ckpt.adam_v.size()) * sizeof(float);
  for (const auto& [name, a] : ckpt.extra_arrays) bytes += a.size() * sizeof(float);
  ProgressBar progress("checkpoint step " + std::to_string(ckpt.step), bytes);
  MERIDIAN_ASSIGN_OR_RETURN(m.model, WriteArray(dir, "model.bin", ckpt.params, &progress));
  if (!ckpt.adam_m.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(m.adam_m, WriteArray(dir, "adam_m.bin", ckpt.adam_m, &progress));
    MERIDIAN_ASSIGN_OR_RETURN(m.adam_v, WriteArray(dir, "adam_v.bin", ckpt.adam_v, &progress));
  }
  for (const auto& [name, a] : ckpt.extra_arrays) {
    MERIDIAN_ASSIGN_OR_RETURN(m.extra_arrays[name], WriteArray(dir, (name + ".bin").c_str(), a, &progress));
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::string text, checkpoint_manifest::RenderManifest(m));
  MERIDIAN_RETURN_IF_ERROR(
      checkpoint_io::WriteFileDurably(JoinPath(dir, kManifestFile), {{text.data(), text.size()}}));
  return checkpoint_io::SyncDirectory(dir);
}

// Either format, fully verified: every piece (or file) is read and checked
// against its xxh64.
Result<TrainingCheckpoint> LoadStepDirectory(const std::string& dir) {
  MERIDIAN_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader, CheckpointReader::Open(dir));
  return ReadWholeCheckpoint(*reader);
}

}  // namespace

Status SaveCheckpoint(const std::string& root_dir, const TrainingCheckpoint& ckpt) {
  MERIDIAN_RETURN_IF_ERROR(CheckSaveArguments(root_dir, ckpt));
  std::error_code ec;
  fs::create_directories(root_dir, ec);
  if (ec) return Status::IOError(root_dir + ": cannot create checkpoint directory: " + ec.message());

  const std::string name = StepDirName(ckpt.step);
  const std::string final_dir = JoinPath(root_dir, name);
  const std::string tmp = final_dir + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);  // debris of an earlier crashed save by a process with our pid
  if (!fs::create_directory(tmp, ec)) {
    return Status::IOError(tmp + ": cannot create directory: " + ec.message());
  }

  Status s = WriteStepDirectory(tmp, ckpt);
  if (s.ok()) s = checkpoint_dir::PublishStepDirectory(tmp, final_dir);
  if (!s.ok()) {
    fs::remove_all(tmp, ec);
    return s;
  }
  return checkpoint_dir::PointLatestAt(root_dir, name);
}

Result<std::string> LatestCheckpoint(const std::string& root_dir) {
  std::error_code ec;
  if (!fs::is_directory(root_dir, ec)) {
    return Status::NotFound(root_dir + ": no such checkpoint directory");
  }
  // `latest` is only a hint: it may be missing (crash before it was
  // written), stale or hand-edited, so it is trusted only when it names a
  // complete step directory.
  Result<std::string> latest = checkpoint_io::ReadSmallFile(JoinPath(root_dir, checkpoint_dir::kLatestFile));
  if (latest.ok()) {
    std::string name = *latest;
    while (!name.empty() && (name.back() == '\n' || name.back() == '\r' || name.back() == ' ')) {
      name.pop_back();
    }
    const std::string dir = JoinPath(root_dir, name);
    if (ParseStepDirName(name) && HasManifest(dir)) return dir;
  }

  std::optional<int64_t> best;
  std::string best_dir;
  for (fs::directory_iterator it(root_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::optional<int64_t> step = ParseStepDirName(it->path().filename().string());
    if (!step || (best && *step <= *best)) continue;
    const std::string dir = it->path().string();
    if (!HasManifest(dir)) continue;
    best = step;
    best_dir = dir;
  }
  if (ec) return Status::IOError(root_dir + ": cannot list checkpoint directory: " + ec.message());
  if (!best) {
    return Status::NotFound(root_dir + ": no complete checkpoint (no step_N directory with a " +
                            kManifestFile + ")");
  }
  return best_dir;
}

Result<std::vector<std::string>> ListCheckpoints(const std::string& root_dir) {
  std::error_code ec;
  if (!fs::is_directory(root_dir, ec)) return Status::NotFound(root_dir + ": no such checkpoint directory");
  std::vector<std::pair<int64_t, std::string>> found;
  for (fs::directory_iterator it(root_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::optional<int64_t> step = ParseStepDirName(it->path().filename().string());
    if (step && HasManifest(it->path().string())) found.emplace_back(*step, it->path().string());
  }
  if (ec) return Status::IOError(root_dir + ": cannot list checkpoint directory: " + ec.message());
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& [step, dir] : found) out.push_back(std::move(dir));
  return out;
}

Result<TrainingCheckpoint> LoadNewestValidCheckpoint(const std::string& root_dir, std::string* path,
                                                     std::vector<Status>* skipped) {
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<std::string> dirs, ListCheckpoints(root_dir));
  for (const std::string& dir : dirs) {
    Result<TrainingCheckpoint> ckpt = LoadStepDirectory(dir);
    if (ckpt.ok()) {
      *path = dir;
      return ckpt;
    }
    skipped->push_back(ckpt.status());
  }
  return Status::NotFound(root_dir + ": no complete checkpoint" + (dirs.empty() ? "" : " that verifies"));
}

Status PruneCheckpoints(const std::string& root_dir, int keep) {
  if (keep < 1) return Status::InvalidArgument("keep-last " + std::to_string(keep) + ": must be >= 1");
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<std::string> dirs, ListCheckpoints(root_dir));
  const Result<std::string> latest = LatestCheckpoint(root_dir);
  for (size_t i = (size_t)keep; i < dirs.size(); ++i) {
    if (latest.ok() && fs::path(*latest) == fs::path(dirs[i])) continue;
    std::error_code ec;
    fs::remove_all(dirs[i], ec);
    if (ec) return Status::IOError(dirs[i] + ": cannot delete an old checkpoint: " + ec.message());
  }
  return Status::OK();
}

Result<TrainingCheckpoint> LoadCheckpoint(const std::string& path_in) {
  const std::string path = StripTrailingSlashes(path_in);
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::NotFound(path + ": no such checkpoint");
  if (!fs::is_directory(path, ec)) {
    return Status::InvalidArgument(path + ": not a checkpoint directory");
  }
  // A step directory is recognised by its name or contents, so that one
  // missing its manifest is reported as such instead of being searched as
  // a root.
  const bool step_dir = HasManifest(path) ||
                        ParseStepDirName(fs::path(path).filename().string()) ||
                        fs::exists(JoinPath(path, "model.bin"), ec);
  if (step_dir) return LoadStepDirectory(path);
  MERIDIAN_ASSIGN_OR_RETURN(std::string dir, LatestCheckpoint(path));
  return LoadStepDirectory(dir);
}

}  // namespace meridian
