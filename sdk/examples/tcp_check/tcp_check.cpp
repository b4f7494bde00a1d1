// tcp_check: does a TCP port accept connections? An example of a blocking check plugin.
// Target "host:port" ("[::1]:22" for IPv6). Down kinds: dns, connect, timeout.
#include <netdb.h>
#include <poll.h>
#include <unistd.h>
#include <isitup/plugin.hpp>

#include <cerrno>
#include <cstring>

using namespace isitup::sdk;
using steady = std::chrono::steady_clock;

static double ms_since(steady::time_point t) {
  return std::chrono::duration<double, std::milli>(steady::now() - t).count();
}
// Connects within timeout_ms; returns 0 or an errno value.
static int connect_within(const addrinfo* ai, int timeout_ms) {
  const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int err = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
  pollfd p{fd, POLLOUT, 0};
  if (err == EINPROGRESS && poll(&p, 1, timeout_ms > 0 ? timeout_ms : 0) <= 0) err = ETIMEDOUT;
  socklen_t len = sizeof err;
  if (err == EINPROGRESS) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  close(fd);
  return err;
}

class tcp_check : public blocking_check {
 public:
  tcp_check(const host&, const check_spec& spec) {
    const auto colon = spec.target.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == spec.target.size())
      throw std::invalid_argument("target must be host:port, got '" + spec.target + "'");
    host_ = spec.target.substr(0, colon);
    port_ = spec.target.substr(colon + 1);
    if (host_.front() == '[' && host_.back() == ']') host_ = host_.substr(1, host_.size() - 2);
  }
  result run(const run_info& run) override {
    const auto t0 = steady::now();
    addrinfo hints{}, *ai = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (int rc = getaddrinfo(host_.c_str(), port_.c_str(), &hints, &ai); rc != 0)
      return result::down("dns", gai_strerror(rc));
    result r = result::ok();
    r.dns_ms = ms_since(t0);
    char ip[NI_MAXHOST] = "";
    getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, sizeof ip, nullptr, 0, NI_NUMERICHOST);
    r.ip = ip;
    const int err = connect_within(ai, static_cast<int>(run.timeout.count() - r.dns_ms));
    freeaddrinfo(ai);
    r.total_ms = ms_since(t0);
    r.up = err == 0;
    r.connect_ms = r.up ? r.total_ms - r.dns_ms : ISITUP_ABSENT_MS;
    r.error_kind = r.up ? "" : err == ETIMEDOUT ? "timeout" : "connect";
    r.error_message = r.up ? "" : std::strerror(err);
    return r;
  }

 private:
  std::string host_, port_;
};

ISITUP_PLUGIN(plugin_def("tcp_check", "1.0.0", "Checks that a TCP port accepts connections")
                  .check<tcp_check>({}))
