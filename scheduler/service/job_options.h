// What a job may touch. A job file's `training.extra_args` go to
// meridian-train on every rank, run as the daemon's user, so only options
// that are known and harmless pass, each with its value checked: nothing
// that names a file the daemon chose (checkpoints, metrics, exports), and
// no path outside the configured data roots. Data paths are checked after
// resolving `..` and symbolic links.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "meridian/v1/scheduler.pb.h"

namespace meridian::scheduler {

// INVALID_ARGUMENT naming spec.training.extra_args[i], the option and why,
// for an option not allowed, a value that is not valid, or an --init-from
// outside `data_roots` (empty: any path; `roots_name` says whose they are).
Status CheckExtraArgs(const v1::TrainingOptions& training, const std::vector<std::string>& data_roots,
                      const std::string& roots_name = "--data-root");

// The value of the last `name VALUE` or `name=VALUE` in extra_args (as
// meridian-train, which takes the last); none where the option is absent
// or has no value.
std::optional<std::string> ExtraArgValue(const v1::TrainingOptions& training, const std::string& name);

// A job's data globs must match files on the daemon's host, which sees the
// same shared storage as the ranks: refusing at submit beats a job that
// fails on every rank later. INVALID_ARGUMENT naming `field`.
Status CheckDataGlob(const std::string& field, const std::string& pattern);

// `pattern` (a path or a glob) and every file it matches must lie under
// one of `data_roots` once `..` and symbolic links are resolved.
// INVALID_ARGUMENT naming `field` and `roots_name` (the daemon's
// --data-root, or a token's data_roots). OK when data_roots is empty.
Status CheckUnderDataRoots(const std::string& field, const std::string& pattern,
                           const std::vector<std::string>& data_roots, const std::string& roots_name = "--data-root");

// Every path the spec reads (data, val_data, --init-from, --vocab-dir) lies
// under `roots` (none: anywhere); `roots_name` says whose they are.
Status CheckSpecUnderRoots(const v1::JobSpec& spec, const std::vector<std::string>& roots,
                           const std::string& roots_name);

}  // namespace meridian::scheduler
