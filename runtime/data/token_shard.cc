#include "runtime/data/token_shard.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string_view>

#include "common/bounded_glob.h"

namespace meridian {
namespace {

// Closes a file descriptor when it goes out of scope.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { if (fd_ >= 0) ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  // Closes now and reports the error, for writers that must know.
  int Close() { int rc = ::close(fd_); fd_ = -1; return rc; }

 private:
  int fd_;
};

std::string Errno() { return std::strerror(errno); }

// The format is little-endian whatever the host is.
void PutLe32(int32_t v, unsigned char* p) {
  const uint32_t u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(u >> (8 * i));
}
int32_t GetLe32(const unsigned char* p) {
  uint32_t u = 0;
  for (int i = 0; i < 4; ++i) u |= static_cast<uint32_t>(p[i]) << (8 * i);
  return static_cast<int32_t>(u);
}

Status WriteAll(int fd, const unsigned char* data, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Status::IOError(path + ": write failed: " + Errno());
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

// Reads exactly n bytes at `offset`; a short read means the file shrank
// under us, which is corruption from the reader's point of view.
Status ReadAllAt(int fd, unsigned char* data, size_t n, off_t offset, const std::string& path) {
  while (n > 0) {
    ssize_t r = ::pread(fd, data, n, offset);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::IOError(path + ": read failed: " + Errno());
    if (r == 0) return Status::Corruption(path + ": file ended early while reading (changed on disk?)");
    data += r;
    n -= static_cast<size_t>(r);
    offset += r;
  }
  return Status::OK();
}

Status OpenForRead(const std::string& path, int* fd) {
  *fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (*fd >= 0) return Status::OK();
  if (errno == ENOENT) return Status::NotFound(path + ": no such file");
  return Status::IOError(path + ": cannot open: " + Errno());
}

// Validates the header and size of an open shard.
Result<TokenShardHeader> ReadHeaderFromFd(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::IOError(path + ": cannot stat: " + Errno());
  if (!S_ISREG(st.st_mode)) return Status::IOError(path + ": not a regular file");
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);
  if (file_bytes < kTokenShardHeaderBytes) {
    return Status::Corruption(path + ": file holds " + std::to_string(file_bytes) +
                              " bytes, shorter than the " +
                              std::to_string(kTokenShardHeaderBytes) + "-byte header");
  }
  unsigned char raw[kTokenShardHeaderBytes];
  MERIDIAN_RETURN_IF_ERROR(ReadAllAt(fd, raw, sizeof(raw), 0, path));
  TokenShardHeader h;
  h.magic = GetLe32(raw);
  h.version = GetLe32(raw + 4);
  const int32_t count = GetLe32(raw + 8);
  h.file_bytes = file_bytes;
  if (h.magic != kTokenShardMagic) {
    return Status::Corruption(path + ": bad magic " + std::to_string(h.magic) + " (expected " +
                              std::to_string(kTokenShardMagic) + "), not a token shard");
  }
  if (h.version != kTokenShardVersionU16 && h.version != kTokenShardVersionU32) {
    return Status::Corruption(path + ": header field 1 (version) is " + std::to_string(h.version) +
                              ", expected 1 (uint16 tokens) or 2 (uint32 tokens)");
  }
  h.token_bytes = h.version == kTokenShardVersionU16 ? 2 : 4;
  if (count < 0) {
    return Status::Corruption(path + ": header says " + std::to_string(count) + " tokens (negative)");
  }
  h.num_tokens = static_cast<uint64_t>(count);
  const uint64_t payload = file_bytes - kTokenShardHeaderBytes;
  if (payload != h.num_tokens * h.token_bytes) {
    std::string msg = path + ": header says " + std::to_string(h.num_tokens) + " tokens but file holds " +
                      std::to_string(payload / h.token_bytes);
    if (payload % h.token_bytes != 0) {
      msg += " and " + std::to_string(payload % h.token_bytes) + " stray byte(s)";
    }
    msg += " (version " + std::to_string(h.version) + ", " + std::to_string(h.token_bytes) +
           " bytes per token)";
    return Status::Corruption(msg);
  }
  return h;
}

// Writes header and payload, already laid out in `buf`, atomically.
Status WriteShardBytes(const std::string& path, const std::vector<unsigned char>& buf) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(tmp + ": cannot create: " + Errno());
  FdCloser closer(fd);
  Status s = WriteAll(fd, buf.data(), buf.size(), tmp);
  if (s.ok() && ::fsync(fd) != 0) s = Status::IOError(tmp + ": fsync failed: " + Errno());
  if (closer.Close() != 0 && s.ok()) s = Status::IOError(tmp + ": close failed: " + Errno());
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Status::IOError(path + ": cannot rename " + tmp + " into place: " + Errno());
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  // Persist the rename itself; a failure here leaves a complete file, so
  // it is not worth failing the write over.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::OK();
}

}  // namespace

int32_t TokenShardVersionFor(int vocab_size) {
  return vocab_size <= 65536 ? kTokenShardVersionU16 : kTokenShardVersionU32;
}

Status WriteTokenShard(const std::string& path, const std::vector<uint32_t>& tokens,
                       int32_t version) {
  if (version != kTokenShardVersionU16 && version != kTokenShardVersionU32) {
    return Status::InvalidArgument(path + ": cannot write token shard version " +
                                   std::to_string(version) + " (1 or 2)");
  }
  if (tokens.size() > static_cast<size_t>(INT32_MAX)) {
    return Status::InvalidArgument(path + ": " + std::to_string(tokens.size()) +
                                   " tokens exceed the format's int32 count");
  }
  const size_t width = version == kTokenShardVersionU16 ? 2 : 4;
  std::vector<unsigned char> buf(kTokenShardHeaderBytes + tokens.size() * width, 0);
  PutLe32(kTokenShardMagic, buf.data());
  PutLe32(version, buf.data() + 4);
  PutLe32(static_cast<int32_t>(tokens.size()), buf.data() + 8);
  unsigned char* p = buf.data() + kTokenShardHeaderBytes;
  if (width == 2) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] > 0xFFFF) {
        return Status::InvalidArgument(path + ": token " + std::to_string(tokens[i]) +
                                       " at position " + std::to_string(i) +
                                       " does not fit a version 1 (uint16) shard");
      }
      *p++ = static_cast<unsigned char>(tokens[i] & 0xff);
      *p++ = static_cast<unsigned char>(tokens[i] >> 8);
    }
  } else {
    for (uint32_t t : tokens) {
      PutLe32(static_cast<int32_t>(t), p);
      p += 4;
    }
  }
  return WriteShardBytes(path, buf);
}

Status WriteTokenShard(const std::string& path, const std::vector<uint16_t>& tokens) {
  return WriteTokenShard(path, std::vector<uint32_t>(tokens.begin(), tokens.end()),
                         kTokenShardVersionU16);
}

Result<TokenShardHeader> ReadTokenShardHeader(const std::string& path) {
  int fd = -1;
  MERIDIAN_RETURN_IF_ERROR(OpenForRead(path, &fd));
  FdCloser closer(fd);
  return ReadHeaderFromFd(fd, path);
}

Result<std::vector<uint32_t>> ReadTokenShard(const std::string& path) {
  int fd = -1;
  MERIDIAN_RETURN_IF_ERROR(OpenForRead(path, &fd));
  FdCloser closer(fd);
  MERIDIAN_ASSIGN_OR_RETURN(TokenShardHeader h, ReadHeaderFromFd(fd, path));
  std::vector<unsigned char> raw(h.num_tokens * h.token_bytes);
  MERIDIAN_RETURN_IF_ERROR(
      ReadAllAt(fd, raw.data(), raw.size(), static_cast<off_t>(kTokenShardHeaderBytes), path));
  std::vector<uint32_t> tokens(h.num_tokens);
  const unsigned char* p = raw.data();
  if (h.token_bytes == 2) {
    for (size_t i = 0; i < tokens.size(); ++i, p += 2) tokens[i] = p[0] | (uint32_t{p[1]} << 8);
  } else {
    for (size_t i = 0; i < tokens.size(); ++i, p += 4) tokens[i] = static_cast<uint32_t>(GetLe32(p));
  }
  return tokens;
}

Result<std::vector<std::string>> ExpandShardGlob(const std::string& pattern) {
  Result<std::vector<std::string>> paths = ExpandBoundedGlob(pattern);
  if (paths.status().code() == Status::Code::kNotFound)
    return Status::NotFound("no files match shard pattern '" + pattern + "'");
  return paths;
}

std::string TokenShardName(const std::string& split, size_t index, size_t count) {
  size_t width = 3;
  for (size_t n = count; n > 1000; n /= 10) ++width;
  std::string num = std::to_string(index);
  if (num.size() < width) num.insert(0, width - num.size(), '0');
  return split + "_" + num + ".bin";
}

}  // namespace meridian
