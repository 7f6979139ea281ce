// Step directories under a checkpoint root, for both formats: their names,
// and how a finished one is published (internal to runtime/checkpoint).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace meridian::checkpoint_dir {

inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kLatestFile = "latest";

std::string JoinPath(const std::string& dir, const std::string& name);

// "step_00000042": zero-padded so directory listings sort by step.
std::string StepDirName(int64_t step);

// The step of a complete step directory's name, or nullopt for anything
// else: "step_00000042.tmp-123" (an unfinished save), "latest", ...
std::optional<int64_t> ParseStepDirName(const std::string& name);

// A step directory counts as complete when its manifest exists: the
// manifest is written last and the directory only gets its final name
// after everything in it is durable.
bool HasManifest(const std::string& dir);

// Moves the finished (fsynced) temporary directory `tmp` to `final_dir`.
// When `final_dir` exists (the same step saved again), the two are swapped
// in one atomic step so readers see the old or the new one, never neither;
// the old one is then removed. IOError naming the directories.
Status PublishStepDirectory(const std::string& tmp, const std::string& final_dir);

// After PublishStepDirectory: makes the rename durable (fsync of root),
// then points root/latest at `step_dir_name` atomically.
Status PointLatestAt(const std::string& root, const std::string& step_dir_name);

}  // namespace meridian::checkpoint_dir
