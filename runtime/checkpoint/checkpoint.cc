#include "runtime/checkpoint/checkpoint.h"

#include <fcntl.h>  // AT_FDCWD
#include <stdio.h>  // renameat2, RENAME_EXCHANGE (glibc >= 2.28)
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>

#include "runtime/checkpoint/file_io.h"
#include "runtime/checkpoint/manifest.h"
#include "runtime/model/parameter_layout.h"

namespace meridian {

// The .bin files are raw little-endian float32, written straight from memory.
static_assert(std::endian::native == std::endian::little,
              "training checkpoints are little-endian; add byte swapping for this host");

namespace {

namespace fs = std::filesystem;
using checkpoint_manifest::FileEntry;
using checkpoint_manifest::Manifest;

constexpr const char* kManifestFile = "manifest.json";
constexpr const char* kLatestFile = "latest";
constexpr const char* kStepPrefix = "step_";

std::string Join(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

// "step_00000042": zero-padded so directory listings sort by step.
std::string StepDirName(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s%08" PRId64, kStepPrefix, step);
  return buf;
}

// The step of a complete step directory's name, or nullopt for anything
// else: "step_00000042.tmp-123" (an unfinished save), "latest", ...
std::optional<int64_t> ParseStepDirName(const std::string& name) {
  const std::string prefix = kStepPrefix;
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  int64_t step = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    const char ch = name[i];
    if (ch < '0' || ch > '9') return std::nullopt;
    if (__builtin_mul_overflow(step, 10, &step) || __builtin_add_overflow(step, ch - '0', &step)) {
      return std::nullopt;
    }
  }
  return step;
}

// A step directory counts as complete when its manifest exists: the
// manifest is written last and the directory only gets its final name
// after everything in it is durable.
bool HasManifest(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(Join(dir, kManifestFile), ec);
}

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

Result<FileEntry> WriteArray(const std::string& dir, const char* name, const std::vector<float>& a) {
  FileEntry e;
  e.file = name;
  e.bytes = a.size() * sizeof(float);
  e.xxh64 = checkpoint_io::Xxh64Hex(a.data(), e.bytes);
  MERIDIAN_RETURN_IF_ERROR(checkpoint_io::WriteFileDurably(Join(dir, name), {{a.data(), e.bytes}}));
  return e;
}

// Writes every file of the checkpoint into `dir` (which exists and is
// empty), the manifest last, and makes the directory durable.
Status WriteStepDirectory(const std::string& dir, const TrainingCheckpoint& ckpt) {
  Manifest m;
  m.config = ckpt.config;
  m.step = ckpt.step;
  m.num_parameters = ckpt.params.size();
  m.train_data = ckpt.train_data;
  m.rng_state = ckpt.rng_state;
  m.extra = ckpt.extra;
  // Render once up front so that a bad `extra` fails before gigabytes are
  // written; the file entries are filled in below.
  MERIDIAN_RETURN_IF_ERROR(checkpoint_manifest::RenderManifest(m).status());
  MERIDIAN_ASSIGN_OR_RETURN(m.model, WriteArray(dir, "model.bin", ckpt.params));
  if (!ckpt.adam_m.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(m.adam_m, WriteArray(dir, "adam_m.bin", ckpt.adam_m));
    MERIDIAN_ASSIGN_OR_RETURN(m.adam_v, WriteArray(dir, "adam_v.bin", ckpt.adam_v));
  }
  for (const auto& [name, a] : ckpt.extra_arrays) {
    MERIDIAN_ASSIGN_OR_RETURN(m.extra_arrays[name], WriteArray(dir, (name + ".bin").c_str(), a));
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::string text, checkpoint_manifest::RenderManifest(m));
  MERIDIAN_RETURN_IF_ERROR(
      checkpoint_io::WriteFileDurably(Join(dir, kManifestFile), {{text.data(), text.size()}}));
  return checkpoint_io::SyncDirectory(dir);
}

// Moves the finished temporary directory to its final name. When a
// directory of that name exists (the same step saved again), the two are
// swapped in one atomic step so readers see the old or the new one, never
// neither; the old one then sits under the temporary name and is removed.
Status PublishStepDirectory(const std::string& tmp, const std::string& final_dir) {
  std::error_code ec;
  if (!fs::exists(final_dir, ec)) {
    if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
      return Status::IOError(final_dir + ": cannot rename " + tmp + " to it: " + std::strerror(errno));
    }
    return Status::OK();
  }
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != EINVAL && errno != ENOSYS) {
      return Status::IOError(final_dir + ": cannot swap in " + tmp + ": " + std::strerror(errno));
    }
    // No atomic swap on this filesystem: move the old one aside first. A
    // crash in between leaves no directory under the final name, so the
    // loader falls back to an older complete step rather than a torn one.
    const std::string aside = tmp + ".old";
    if (::rename(final_dir.c_str(), aside.c_str()) != 0) {
      return Status::IOError(final_dir + ": cannot move aside to " + aside + ": " + std::strerror(errno));
    }
    if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
      return Status::IOError(final_dir + ": cannot rename " + tmp + " to it: " + std::strerror(errno));
    }
    fs::remove_all(aside, ec);
    return Status::OK();
  }
  fs::remove_all(tmp, ec);  // now holds the replaced checkpoint
  return Status::OK();
}

Status ReadArray(const std::string& dir, const FileEntry& e, std::vector<float>* out) {
  const std::string path = Join(dir, e.file);
  MERIDIAN_ASSIGN_OR_RETURN(checkpoint_io::InputFile file, checkpoint_io::InputFile::Open(path));
  if (file.size() != e.bytes) {
    return Status::Corruption(path + ": size mismatch: manifest says " + std::to_string(e.bytes) +
                              " bytes, file has " + std::to_string(file.size()));
  }
  out->resize(e.bytes / sizeof(float));
  MERIDIAN_RETURN_IF_ERROR(file.ReadAt(0, out->data(), e.bytes));
  const std::string actual = checkpoint_io::Xxh64Hex(out->data(), e.bytes);
  if (actual != e.xxh64) {
    return Status::Corruption(path + ": checksum mismatch: manifest says xxh64 " + e.xxh64 +
                              ", file has " + actual);
  }
  return Status::OK();
}

Result<TrainingCheckpoint> LoadStepDirectory(const std::string& dir) {
  const std::string manifest_path = Join(dir, kManifestFile);
  Result<std::string> text = checkpoint_io::ReadSmallFile(manifest_path);
  if (!text.ok()) {
    if (text.status().code() == Status::Code::kNotFound) {
      return Status::NotFound(manifest_path +
                              ": missing (not a checkpoint, or an unfinished save)");
    }
    return text.status();
  }
  MERIDIAN_ASSIGN_OR_RETURN(Manifest m, checkpoint_manifest::ParseManifest(*text, manifest_path));
  TrainingCheckpoint ckpt;
  ckpt.config = m.config;
  ckpt.step = m.step;
  ckpt.train_data = m.train_data;
  ckpt.rng_state = m.rng_state;
  ckpt.extra = std::move(m.extra);
  MERIDIAN_RETURN_IF_ERROR(ReadArray(dir, m.model, &ckpt.params));
  if (m.adam_m) {
    MERIDIAN_RETURN_IF_ERROR(ReadArray(dir, *m.adam_m, &ckpt.adam_m));
    MERIDIAN_RETURN_IF_ERROR(ReadArray(dir, *m.adam_v, &ckpt.adam_v));
  }
  for (const auto& [name, entry] : m.extra_arrays) {
    MERIDIAN_RETURN_IF_ERROR(ReadArray(dir, entry, &ckpt.extra_arrays[name]));
  }
  return ckpt;
}

}  // namespace

Status SaveCheckpoint(const std::string& root_dir, const TrainingCheckpoint& ckpt) {
  MERIDIAN_RETURN_IF_ERROR(CheckSaveArguments(root_dir, ckpt));
  std::error_code ec;
  fs::create_directories(root_dir, ec);
  if (ec) return Status::IOError(root_dir + ": cannot create checkpoint directory: " + ec.message());

  const std::string name = StepDirName(ckpt.step);
  const std::string final_dir = Join(root_dir, name);
  const std::string tmp = final_dir + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);  // debris of an earlier crashed save by a process with our pid
  if (!fs::create_directory(tmp, ec)) {
    return Status::IOError(tmp + ": cannot create directory: " + ec.message());
  }

  Status s = WriteStepDirectory(tmp, ckpt);
  if (s.ok()) s = PublishStepDirectory(tmp, final_dir);
  if (!s.ok()) {
    fs::remove_all(tmp, ec);
    return s;
  }
  // The rename must be durable before `latest` may name the new directory.
  MERIDIAN_RETURN_IF_ERROR(checkpoint_io::SyncDirectory(root_dir));
  const std::string latest = name + "\n";
  return checkpoint_io::WriteFileAtomically(Join(root_dir, kLatestFile),
                                            {{latest.data(), latest.size()}});
}

Result<std::string> LatestCheckpoint(const std::string& root_dir) {
  std::error_code ec;
  if (!fs::is_directory(root_dir, ec)) {
    return Status::NotFound(root_dir + ": no such checkpoint directory");
  }
  // `latest` is only a hint: it may be missing (crash before it was
  // written), stale or hand-edited, so it is trusted only when it names a
  // complete step directory.
  Result<std::string> latest = checkpoint_io::ReadSmallFile(Join(root_dir, kLatestFile));
  if (latest.ok()) {
    std::string name = *latest;
    while (!name.empty() && (name.back() == '\n' || name.back() == '\r' || name.back() == ' ')) {
      name.pop_back();
    }
    const std::string dir = Join(root_dir, name);
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
                        fs::exists(Join(path, "model.bin"), ec);
  if (step_dir) return LoadStepDirectory(path);
  MERIDIAN_ASSIGN_OR_RETURN(std::string dir, LatestCheckpoint(path));
  return LoadStepDirectory(dir);
}

}  // namespace meridian
