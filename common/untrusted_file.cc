#include "common/untrusted_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace meridian {

Result<std::string> ReadUntrustedFile(const std::string& path, int64_t offset, size_t max_bytes, int64_t* size) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file");
    if (errno == ELOOP) return Status::FailedPrecondition(path + ": a link, not read");
    return Status::IOError(path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
    close(fd);
    return Status::FailedPrecondition(path + ": not a regular file with one name, not read");
  }
  if (size != nullptr) *size = st.st_size;
  const int64_t from = offset >= 0 ? offset : std::max<int64_t>(0, st.st_size - (int64_t)max_bytes);
  std::string data(std::min<int64_t>((int64_t)max_bytes, std::max<int64_t>(0, st.st_size - from)), '\0');
  size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = pread(fd, data.data() + got, data.size() - got, from + (int64_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // it shrank meanwhile
    got += (size_t)n;
  }
  close(fd);
  data.resize(got);
  return data;
}

}  // namespace meridian
