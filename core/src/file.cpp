#include "tessel/core/file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tessel {
namespace {

const char* kindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

} // namespace

Result<int> openRegularFile(const std::string& path, int64_t* size) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ioError("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return ioError("cannot stat '" + path + "': " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return ioError("'" + path + "' is " + kindOf(st.st_mode) + ", not a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  *size = static_cast<int64_t>(st.st_size);
  return fd;
}

Result<std::vector<uint8_t>> readRegularFile(const std::string& path, int64_t maxBytes) {
  int64_t size = 0;
  TESSEL_ASSIGN_OR_RETURN(int fd, openRegularFile(path, &size));
  if (size > maxBytes) {
    ::close(fd);
    return resourceExhausted("'" + path + "' holds " + std::to_string(size) +
                             " bytes, more than the limit of " + std::to_string(maxBytes));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  const Status read = readExactly(fd, bytes.data(), bytes.size(), path);
  ::close(fd);
  if (!read.isOk()) return read;
  return bytes;
}

Status readExactly(int fd, void* dst, size_t size, const std::string& path) {
  auto* out = static_cast<uint8_t*>(dst);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, out + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ioError("cannot read '" + path + "': " + std::strerror(errno));
    if (n == 0) return ioError("cannot read '" + path + "': file shrank");
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

} // namespace tessel
