#include "syscall_floor.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace {

const char request[] = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
const char body_end[] = "hello isitup\n";  // the page's body: the answer is complete

double seconds_of(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

}  // namespace

floor_result syscall_floor(const std::vector<std::string>& addresses, int port, int seconds,
                           int in_flight) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<sockaddr_in> targets;
  for (const std::string& a : addresses) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, a.c_str(), &s.sin_addr);
    targets.push_back(s);
  }
  size_t next = 0, done = 0;
  auto open_one = [&] {
    const sockaddr_in& to = targets[next++ % targets.size()];
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    // Non-blocking: -1 with EINPROGRESS; the outcome shows in epoll.
    static_cast<void>(connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to));
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = static_cast<uint64_t>(fd);  // high bits: request sent
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  };
  std::vector<bool> sent(65536, false);
  for (int i = 0; i < in_flight; ++i) open_one();
  rusage r0{};
  getrusage(RUSAGE_THREAD, &r0);
  const auto t0 = std::chrono::steady_clock::now();
  const auto until = t0 + std::chrono::seconds(seconds);
  epoll_event events[256];
  while (std::chrono::steady_clock::now() < until) {
    const int n = epoll_wait(ep, events, 256, 100);
    for (int i = 0; i < n; ++i) {
      const int fd = static_cast<int>(events[i].data.u64);
      if (!sent[fd] && (events[i].events & EPOLLOUT)) {
        send(fd, request, sizeof request - 1, MSG_NOSIGNAL);
        sent[fd] = true;
      }
      if (!(events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) continue;
      char buf[4096];
      const ssize_t got = recv(fd, buf, sizeof buf, 0);
      const bool complete =
          got > 0 && static_cast<size_t>(got) >= sizeof body_end - 1 &&
          std::memcmp(buf + got - (sizeof body_end - 1), body_end, sizeof body_end - 1) == 0;
      if (complete || got == 0 || (got < 0 && errno != EAGAIN)) {
        sent[fd] = false;
        close(fd);
        if (complete) ++done;
        open_one();
      }
    }
  }
  const double span = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rusage r1{};
  getrusage(RUSAGE_THREAD, &r1);
  floor_result out;
  if (done > 0) {
    out.rate = static_cast<double>(done) / span;
    out.user_us = (seconds_of(r1.ru_utime) - seconds_of(r0.ru_utime)) * 1e6 / done;
    out.sys_us = (seconds_of(r1.ru_stime) - seconds_of(r0.ru_stime)) * 1e6 / done;
    out.switches = static_cast<double>(r1.ru_nvcsw - r0.ru_nvcsw + r1.ru_nivcsw - r0.ru_nivcsw) /
                   static_cast<double>(done);
  }
  close(ep);  // the sockets still open close with the process
  return out;
}
