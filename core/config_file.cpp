// Reading the config file and the domains file: regular files only, bounded in size, and
// never blocking in open() (a FIFO or a device is refused before anything is read).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <isitup/util/error_text.hpp>

#include <cerrno>
#include <cstring>

#include "config_internal.hpp"

namespace isitup::config::detail {

namespace {

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string size_limit_text(std::size_t bytes) {
  constexpr std::size_t mib = std::size_t{1024} * 1024;
  if (bytes % mib == 0) return std::to_string(bytes / mib) + " MiB";
  if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " bytes";
}

std::optional<std::string> read_bounded_file(const std::string& path, std::size_t max_bytes,
                                             std::string& why) {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever.
  const fd_guard fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    why = sdk::error_text(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    why = sdk::error_text(errno);
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    why = "it is " + kind_of(st.st_mode) + ", not a regular file";
    return std::nullopt;
  }
  const std::string too_big =
      "it is larger than the limit of " + size_limit_text(max_bytes) + " (see --max-config-bytes)";
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    why = too_big;
    return std::nullopt;
  }
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t used = 0;
  while (true) {
    if (used == text.size()) {
      if (text.size() > max_bytes) {  // the file grew while it was read
        why = too_big;
        return std::nullopt;
      }
      text.resize(std::min(max_bytes + 1, std::max<std::size_t>(text.size() * 2, 4096)));
    }
    const ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      why = sdk::error_text(errno);
      return std::nullopt;
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > max_bytes) {
    why = too_big;
    return std::nullopt;
  }
  text.resize(used);
  return text;
}

}  // namespace isitup::config::detail
