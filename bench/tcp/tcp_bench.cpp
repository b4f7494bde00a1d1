// isitup-bench-tcp: tcp_check's fresh connections per second and CPU per check against a local
// server that accepts and closes (a child process, so that its CPU is not counted), next to
// the same work done by a bare epoll connect loop in this binary: the floor of the syscalls
// of one fresh connection. Both keep 64 connections in flight, spread over 16 loopback
// addresses (more address pairs than one for the TIME_WAIT states a run leaves behind).
#include <arpa/inet.h>
#include <isitup/plugin.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <isitup/util/error_text.hpp>

#include "bench_main.hpp"
#include "cpu_time.hpp"
#include "fake_host.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace {

constexpr int address_count = 16;
constexpr int in_flight = 64;
constexpr int per_iteration = 1000;  // connections per benchmark iteration

std::string address(int i) { return "127.0.0." + std::to_string(1 + i % address_count); }

// The accept-and-close server, started once, stopped at exit.
struct server {
  pid_t pid = -1;
  int port = 0;
  server() {
    std::vector<int> fds;
    for (int i = 0; i < address_count; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      const int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, address(i).c_str(), &sa.sin_addr);
      socklen_t len = sizeof sa;
      if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 4096) != 0 ||
          getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
        std::fprintf(stderr, "cannot listen on %s: %s\n", address(i).c_str(),
                     isitup::sdk::error_text(errno).c_str());
        std::exit(1);  // NOLINT(concurrency-mt-unsafe): at set-up, before any benchmark thread
      }
      port = ntohs(sa.sin_port);
      fds.push_back(fd);
    }
    pid = fork();
    if (pid == 0) {
      const int ep = epoll_create1(0);
      for (int fd : fds) {
        epoll_event ev{EPOLLIN, {.fd = fd}};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      }
      epoll_event events[64];
      for (;;) {
        const int n = epoll_wait(ep, events, 64, -1);
        for (int i = 0; i < n; ++i)
          for (int c; (c = accept4(events[i].data.fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;)
            close(c);
      }
    }
    for (int fd : fds) close(fd);
  }
  ~server() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  }
};

server& the_server() {
  static server s;
  return s;
}

// The floor: socket, non-blocking connect, epoll until writable, SO_ERROR, close.
void bm_bare_epoll_connect(benchmark::State& state) {
  const int port = the_server().port;
  std::vector<sockaddr_in> targets(address_count);
  for (int i = 0; i < address_count; ++i) {
    targets[i].sin_family = AF_INET;
    targets[i].sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, address(i).c_str(), &targets[i].sin_addr);
  }
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  uint64_t started = 0, failed = 0;
  auto start = [&] {
    const sockaddr_in& to = targets[started++ % address_count];
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 &&
        errno != EINPROGRESS) {
      ++failed;
    }
    epoll_event ev{EPOLLOUT, {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  };
  for (int i = 0; i < in_flight; ++i) start();
  epoll_event events[in_flight];
  const double cpu0 = isitup::bench::process_cpu_seconds();
  for (auto _ : state) {
    for (int done = 0; done < per_iteration;) {
      const int n = epoll_wait(ep, events, in_flight, 1000);
      for (int i = 0; i < n; ++i) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(events[i].data.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) ++failed;
        close(events[i].data.fd);
        ++done;
        start();
      }
    }
  }
  const double cpu = isitup::bench::process_cpu_seconds() - cpu0;
  const auto n = static_cast<double>(state.iterations() * per_iteration);
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["cpu_us_per_check"] = cpu * 1e6 / n;
  state.counters["failed"] = static_cast<double>(failed);
  close(ep);  // the connections still in flight close with it (the process exits soon)
}

// tcp_check compiled in, driven as the agent drives it: 64 checks, each started again as
// soon as it completes.
struct plugin_driver {
  isitup::sdk::testing::fake_host host;
  const isitup_check_ops_v1* ops = isitup_plugin_entry()->check;
  void* instance = nullptr;
  std::vector<std::unique_ptr<isitup::sdk::testing::fake_options>> options;
  std::vector<void*> checks;
  std::atomic<uint64_t> done{0}, down{0};
  std::atomic<bool> stop{false};
  std::atomic<int> running{0};
  struct slot {
    plugin_driver* d;
    void* check;
  };
  std::vector<std::unique_ptr<slot>> slots;

  static void on_done(void* ctx, const isitup_record_v1* r) {
    auto* s = static_cast<slot*>(ctx);
    if (r->status != ISITUP_UP) s->d->down.fetch_add(1, std::memory_order_relaxed);
    s->d->done.fetch_add(1, std::memory_order_relaxed);
    if (s->d->stop.load(std::memory_order_relaxed)) {
      s->d->running.fetch_sub(1);
      return;
    }
    const isitup_run_v1 run{sizeof run, 0, 5000};
    s->d->ops->start(s->d->instance, s->check, &run, &on_done, s);
  }

  bool start(int port) {
    char err[256] = "";
    if (ops->create(host.table(), host.ctx(), &instance, err, sizeof err) != ISITUP_OK)
      return false;
    for (int i = 0; i < in_flight; ++i) {
      const std::string target = address(i) + ":" + std::to_string(port);
      options.push_back(std::make_unique<isitup::sdk::testing::fake_options>(
          ops->options, ops->option_count, isitup::sdk::testing::option_map{}));
      const isitup_check_spec_v1 spec{sizeof spec, target.c_str(), target.c_str(),
                                      60000,       5000,           options.back()->raw()};
      void* c = nullptr;
      if (ops->prepare(instance, &spec, &c, err, sizeof err) != ISITUP_OK) return false;
      slots.push_back(std::make_unique<slot>(slot{this, c}));
    }
    running = in_flight;
    const isitup_run_v1 run{sizeof run, 0, 5000};
    for (auto& s : slots) ops->start(instance, s->check, &run, &on_done, s.get());
    return true;
  }
  ~plugin_driver() {
    stop = true;
    for (int i = 0; i < 500 && running.load() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (auto& s : slots) ops->release(instance, s->check);
    if (instance) ops->destroy(instance);
  }
};

void bm_tcp_check(benchmark::State& state) {
  plugin_driver d;
  if (!d.start(the_server().port)) {
    state.SkipWithError("tcp_check did not start");
    return;
  }
  const double cpu0 = isitup::bench::process_cpu_seconds();
  uint64_t target = d.done.load();
  for (auto _ : state) {
    target += per_iteration;
    while (d.done.load(std::memory_order_relaxed) < target)
      std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  const double cpu = isitup::bench::process_cpu_seconds() - cpu0;
  const auto n = static_cast<double>(state.iterations() * per_iteration);
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["cpu_us_per_check"] = cpu * 1e6 / n;
  state.counters["failed"] = static_cast<double>(d.down.load());
}

BENCHMARK(bm_bare_epoll_connect)->Iterations(20)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(bm_tcp_check)->Iterations(20)->UseRealTime()->Unit(benchmark::kMillisecond);

void print_ratios(const isitup::bench::recording_reporter& reporter) {
  const auto v = isitup::bench::against_floor(reporter, "bm_bare_epoll_connect", "bm_tcp_check",
                                              "items_per_second", "cpu_us_per_check");
  if (!v) return;
  std::fprintf(reporter.table(),
               "\nfresh connections, %d in flight, same run:\n"
               "  bare epoll loop  %8.0f /s  %6.1f us CPU per connection\n"
               "  tcp_check        %8.0f /s  %6.1f us CPU per check\n"
               "  ratio            %8.2fx     %6.2fx (target: >= 0.7x the rate)\n",
               in_flight, v->floor_rate, v->floor_cpu, v->rate, v->cpu, v->rate_ratio(),
               v->cpu_ratio());
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  // The server is forked before any thread starts.
  return isitup::bench::run_benchmarks(argc, argv, print_ratios, [] { the_server(); });
}
