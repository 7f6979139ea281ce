// Reading a file that sits in a directory someone else can write (a job's
// directory is its user's): a privileged reader must not be led to another
// file. Opened without following a link and without blocking, and read
// only when it is a regular file with no other name (a hard link to a file
// the writer could not read itself).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace meridian {

// Up to `max_bytes` of `path` from `offset` (fewer at its end); with
// offset < 0, its last `max_bytes`. `*size` (if given) gets the file's
// size. NotFound when it does not exist; FailedPrecondition naming the
// path when it is a link, not a regular file, or has other names.
Result<std::string> ReadUntrustedFile(const std::string& path, int64_t offset, size_t max_bytes,
                                      int64_t* size = nullptr);

}  // namespace meridian
