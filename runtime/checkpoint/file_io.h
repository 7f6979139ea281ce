// File helpers shared by the two checkpoint formats (internal to
// runtime/checkpoint; not a public API).
//
// Everything here reports errors as Status values whose message starts with
// the path concerned, so callers can pass them straight up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/progress_bar.h"
#include "common/status.h"
#include "runtime/model/gpt_config.h"

namespace meridian::checkpoint_io {

// One contiguous piece of bytes to write.
struct ByteSpan {
  const void* data = nullptr;
  size_t size = 0;
};

// A read-only file. Move-only; closes its descriptor on destruction.
class InputFile {
 public:
  // NotFound when `path` does not exist, IOError for any other open failure
  // (including `path` being a directory).
  static Result<InputFile> Open(const std::string& path);

  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&& other) noexcept;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

  // Reads exactly n bytes at `offset` into dst. REQUIRES: offset + n <= size().
  // IOError naming the file when the read fails or comes back short (the
  // file shrank under us).
  Status ReadAt(uint64_t offset, void* dst, size_t n) const;

 private:
  InputFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Reads a whole (small) file into a string: manifests, the `latest` pointer.
Result<std::string> ReadSmallFile(const std::string& path);

// Creates or truncates `path`, writes the pieces in order, fsyncs and
// closes it. Not atomic by itself: use it inside a directory that is renamed
// into place afterwards, or through WriteFileAtomically.
// `progress`, when given, advances by the bytes as they are written.
Status WriteFileDurably(const std::string& path, const std::vector<ByteSpan>& pieces,
                        ProgressBar* progress = nullptr);

// Writes `path` so that a reader (or a crash) sees either the old file or
// the complete new one: data goes to "<path>.tmp-<pid>", is fsynced, renamed
// over `path`, and the parent directory is fsynced. The temporary file is
// removed on failure.
Status WriteFileAtomically(const std::string& path, const std::vector<ByteSpan>& pieces);

// fsyncs a directory so that entries created or renamed in it are durable.
Status SyncDirectory(const std::string& dir);

// The parent directory of `path` ("." when it has none).
std::string ParentDirectory(const std::string& path);

// Number of float parameters of the whole model, or nullopt when the count
// (or its size in bytes) overflows 64 bits. Header fields read from a file
// can be anything; this keeps absurd ones from wrapping around into a small
// number and being "valid". REQUIRES: ValidateConfig(config).ok().
std::optional<uint64_t> CheckedParameterCount(const GPTConfig& config);

// XXH64 (seed 0) of a buffer, as 16 lowercase hex digits.
std::string Xxh64Hex(const void* data, size_t size);

// The same digest computed incrementally, for a range read in slices (a
// piece too large to hold in memory at once). Not copyable.
class Xxh64Stream {
 public:
  Xxh64Stream();
  ~Xxh64Stream();
  Xxh64Stream(const Xxh64Stream&) = delete;
  Xxh64Stream& operator=(const Xxh64Stream&) = delete;

  void Update(const void* data, size_t size);
  // Xxh64Hex of everything passed to Update so far.
  std::string HexDigest() const;

 private:
  void* state_;  // an XXH64_state_t; xxhash.h stays out of this header
};

}  // namespace meridian::checkpoint_io
