#include "runtime/checkpoint/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <utility>

#include "runtime/model/parameter_layout.h"

namespace meridian::checkpoint_io {
namespace {

// write(2) and read(2) move at most ~2 GiB per call on Linux; bigger
// tensors (a d48 model is 6 GB) go in slices.
constexpr size_t kMaxIoChunk = size_t{1} << 30;

Status ErrnoStatus(const std::string& path, const char* what, int err) {
  std::string msg = path + ": " + what + ": " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(msg);
  return Status::IOError(msg);
}

Status WriteAll(int fd, const std::string& path, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const size_t chunk = size < kMaxIoChunk ? size : kMaxIoChunk;
    const ssize_t n = ::write(fd, p, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(path, "write failed", errno);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Status::OK();
}

}  // namespace

Result<InputFile> InputFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(path, "cannot open", errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(path, "cannot stat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::IOError(path + ": not a regular file");
  }
  return InputFile(path, fd, static_cast<uint64_t>(st.st_size));
}

InputFile::InputFile(InputFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}

InputFile& InputFile::operator=(InputFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status InputFile::ReadAt(uint64_t offset, void* dst, size_t n) const {
  char* p = static_cast<char*>(dst);
  while (n > 0) {
    const size_t chunk = n < kMaxIoChunk ? n : kMaxIoChunk;
    const ssize_t got = ::pread(fd_, p, chunk, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(path_, "read failed", errno);
    }
    if (got == 0) {
      return Status::IOError(path_ + ": unexpected end of file at byte " +
                             std::to_string(offset) + " (file changed while reading?)");
    }
    p += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<size_t>(got);
  }
  return Status::OK();
}

Result<std::string> ReadSmallFile(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(InputFile file, InputFile::Open(path));
  std::string text(file.size(), '\0');
  MERIDIAN_RETURN_IF_ERROR(file.ReadAt(0, text.data(), text.size()));
  return text;
}

Status WriteFileDurably(const std::string& path, const std::vector<ByteSpan>& pieces, ProgressBar* progress) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  // IOError even for ENOENT: a missing parent directory is a write failure.
  if (fd < 0) return Status::IOError(path + ": cannot create: " + std::strerror(errno));
  Status s;
  // In slices, so that a progress bar moves while a large array is written.
  constexpr size_t kSlice = 16 << 20;
  for (const ByteSpan& piece : pieces) {
    const char* data = static_cast<const char*>(piece.data);
    for (size_t done = 0; done < piece.size && s.ok(); done += kSlice) {
      const size_t n = std::min(kSlice, piece.size - done);
      s = WriteAll(fd, path, data + done, n);
      if (progress != nullptr) progress->Advance(n);
    }
    if (!s.ok()) break;
  }
  // Without fsync a rename can become durable before the data it points at.
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoStatus(path, "fsync failed", errno);
  if (::close(fd) != 0 && s.ok()) s = ErrnoStatus(path, "close failed", errno);
  return s;
}

Status WriteFileAtomically(const std::string& path, const std::vector<ByteSpan>& pieces) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  Status s = WriteFileDurably(tmp, pieces);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = ErrnoStatus(path, ("cannot rename " + tmp + " to it").c_str(), errno);
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return SyncDirectory(ParentDirectory(path));
}

Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(dir, "cannot open directory to fsync", errno);
  Status s;
  if (::fsync(fd) != 0) s = ErrnoStatus(dir, "directory fsync failed", errno);
  ::close(fd);
  return s;
}

std::string ParentDirectory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::optional<uint64_t> CheckedParameterCount(const GPTConfig& config) {
  // The layout multiplies in size_t and may wrap for absurd configs, but its
  // shapes hold the individual dimensions (Vp, C, L, 3C, ...), which fit;
  // recomputing each tensor's size from its shape with overflow checks
  // catches what the plain product would silently wrap.
  const ParameterLayout layout(config, WholeModel(config));
  uint64_t total = 0;
  for (const ParamTensorInfo& t : layout.tensors()) {
    if (t.count == 0) continue;  // absent in this architecture (Llama's biases, an untied head)
    uint64_t count = 1;
    for (size_t dim : t.shape) {
      if (__builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count)) return std::nullopt;
    }
    if (__builtin_add_overflow(total, count, &total)) return std::nullopt;
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(total, uint64_t{sizeof(float)}, &bytes)) return std::nullopt;
  // Also leave headroom for a header, so callers may add one without checks.
  if (bytes > (uint64_t{1} << 62)) return std::nullopt;
  return total;
}

namespace {

std::string HexOf(XXH64_hash_t hash) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(hash));
  return buf;
}

}  // namespace

std::string Xxh64Hex(const void* data, size_t size) { return HexOf(XXH64(data, size, /*seed=*/0)); }

Xxh64Stream::Xxh64Stream() : state_(XXH64_createState()) {
  if (state_ == nullptr) throw std::bad_alloc();
  XXH64_reset(static_cast<XXH64_state_t*>(state_), /*seed=*/0);
}

Xxh64Stream::~Xxh64Stream() { XXH64_freeState(static_cast<XXH64_state_t*>(state_)); }

void Xxh64Stream::Update(const void* data, size_t size) {
  XXH64_update(static_cast<XXH64_state_t*>(state_), data, size);
}

std::string Xxh64Stream::HexDigest() const {
  return HexOf(XXH64_digest(static_cast<const XXH64_state_t*>(state_)));
}

}  // namespace meridian::checkpoint_io
