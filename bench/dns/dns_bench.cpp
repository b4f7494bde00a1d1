// isitup-bench-dns: dns_check's throughput and CPU per check against dnsmasq on 127.0.0.1,
// next to a bare c-ares loop in the same run (the baseline: one channel, ares_send of the same
// query message with the same flags, on one epoll, the next query sent from each reply's
// callback). Both keep the same number of queries in flight; the plugin is compiled in and
// driven through its C ABI by the SDK's fake host, each check starting its next run from its
// completion, so only its event loop works. CPU is this process's (user + system): dnsmasq
// runs in a child process and is not counted.
#include <ares.h>
#include <benchmark/benchmark.h>
#include <isitup/plugin.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench_main.hpp"
#include "cpu_time.hpp"
#include "dnsmasq.hpp"
#include "fake_host.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace {

constexpr int queries_per_iteration = 20000;

isitup::test::dnsmasq& server() {
  static isitup::test::dnsmasq d({"--host-record=host.test,127.0.0.8"});
  return d;
}

// ---------------------------------------------------------------- the bare c-ares loop

struct bare_loop {
  ares_channel channel = nullptr;
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  std::vector<unsigned char> query;
  int to_send = 0, done = 0, ok = 0;

  static void on_sock(void* data, ares_socket_t fd, int readable, int writable) {
    auto* b = static_cast<bare_loop*>(data);
    epoll_event ev{};
    ev.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (!readable && !writable)
      epoll_ctl(b->epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    else if (epoll_ctl(b->epoll_fd, EPOLL_CTL_MOD, fd, &ev) != 0)
      epoll_ctl(b->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }
  static void on_reply(void* arg, int status, int, unsigned char* abuf, int alen) {
    auto* b = static_cast<bare_loop*>(arg);
    ++b->done;
    if (status == ARES_SUCCESS && alen > 12 && (abuf[3] & 0x0f) == 0) ++b->ok;
    b->send();
  }
  void send() {
    if (to_send == 0) return;
    --to_send;
    ares_send(channel, query.data(), static_cast<int>(query.size()), &on_reply, this);
  }

  explicit bare_loop(const std::string& server_csv) {
    ares_options o{};
    o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;
    o.timeout = 2000;
    o.tries = 2;
    o.sock_state_cb = &on_sock;
    o.sock_state_cb_data = this;
    ares_init_options(
        &channel, &o,
        ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB);
    ares_set_servers_ports_csv(channel, server_csv.c_str());
    unsigned char* buf = nullptr;
    int len = 0;
    ares_create_query("host.test", 1, 1, 0, 1, &buf, &len, 0);
    query.assign(buf, buf + len);
    ares_free_string(buf);
  }
  ~bare_loop() {
    ares_destroy(channel);
    close(epoll_fd);
  }

  void run(int total, int in_flight) {
    to_send = total;
    done = ok = 0;
    for (int i = 0; i < in_flight; ++i) send();
    epoll_event events[64];
    while (done < total) {
      timeval max{1, 0}, tv{};
      const timeval* t = ares_timeout(channel, &max, &tv);
      const int n =
          epoll_wait(epoll_fd, events, 64, static_cast<int>(t->tv_sec * 1000 + t->tv_usec / 1000));
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        ares_process_fd(channel, (events[i].events & (EPOLLIN | EPOLLERR)) ? fd : ARES_SOCKET_BAD,
                        (events[i].events & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
      }
      if (n == 0) ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    }
  }
};

void bm_bare_cares(benchmark::State& state) {
  if (!server().running()) return state.SkipWithError("dnsmasq did not start");
  bare_loop b(server().address());
  const int in_flight = static_cast<int>(state.range(0));
  int64_t queries = 0, ok = 0;
  const double cpu0 = isitup::bench::process_cpu_seconds();
  for (auto _ : state) {
    b.run(queries_per_iteration, in_flight);
    queries += b.done;
    ok += b.ok;
  }
  const double cpu = isitup::bench::process_cpu_seconds() - cpu0;
  state.counters["queries_per_s"] =
      benchmark::Counter(static_cast<double>(queries), benchmark::Counter::kIsRate);
  state.counters["cpu_us_per_query"] = cpu * 1e6 / static_cast<double>(queries);
  state.counters["ok_fraction"] = static_cast<double>(ok) / static_cast<double>(queries);
}
BENCHMARK(bm_bare_cares)->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------- dns_check in-process

struct plugin_driver {
  const isitup_check_ops_v1* ops = isitup_plugin_entry()->check;
  isitup::sdk::testing::fake_host host;
  void* instance = nullptr;
  std::vector<std::unique_ptr<isitup::sdk::testing::fake_options>> options;
  std::vector<void*> checks;
  std::atomic<int> to_start{0}, done{0}, up{0};
  int total = 0;
  std::mutex mu;
  std::condition_variable finished;

  struct slot {
    plugin_driver* d;
    void* check;
  };
  std::vector<std::unique_ptr<slot>> slots;

  static void on_done(void* ctx, const isitup_record_v1* r) {
    auto* s = static_cast<slot*>(ctx);
    plugin_driver* d = s->d;
    if (r->status == ISITUP_UP) d->up.fetch_add(1, std::memory_order_relaxed);
    if (d->done.fetch_add(1) + 1 == d->total) {
      std::lock_guard lock(d->mu);
      d->finished.notify_all();
    }
    d->start(s);
  }
  void start(slot* s) {
    if (to_start.fetch_sub(1) <= 0) return;
    const isitup_run_v1 run{sizeof run, 0, 5000};
    ops->start(instance, s->check, &run, &on_done, s);
  }

  plugin_driver(const std::string& server_address, int in_flight) {
    char err[256] = "";
    if (ops->create(host.table(), host.ctx(), &instance, err, sizeof err) != ISITUP_OK) return;
    for (int i = 0; i < in_flight; ++i) {
      options.push_back(std::make_unique<isitup::sdk::testing::fake_options>(
          ops->options, ops->option_count,
          isitup::sdk::testing::option_map{
              {"server", isitup::sdk::testing::list_value{server_address}}}));
      const std::string name = "c" + std::to_string(i);
      const isitup_check_spec_v1 spec{sizeof spec, name.c_str(), "host.test",
                                      60000,       5000,         options.back()->raw()};
      void* c = nullptr;
      if (ops->prepare(instance, &spec, &c, err, sizeof err) != ISITUP_OK) return;
      slots.push_back(std::make_unique<slot>(slot{this, c}));
    }
  }
  ~plugin_driver() {
    if (!instance) return;
    for (auto& s : slots) ops->release(instance, s->check);  // every run has completed
    ops->destroy(instance);
  }

  void run(int n) {
    total = n;
    done = 0;
    up = 0;
    to_start = n;
    for (auto& s : slots) start(s.get());
    std::unique_lock lock(mu);
    finished.wait(lock, [&] { return done.load() >= total; });
  }
};

// NOLINTBEGIN(clang-analyzer-core.StackAddressEscape): the SDK's fake_host keeps its address in
// a static for the codec services and clears it in its destructor, which the analyzer misses.
void bm_dns_check(benchmark::State& state) {
  if (!server().running()) return state.SkipWithError("dnsmasq did not start");
  plugin_driver d(server().address(), static_cast<int>(state.range(0)));
  if (d.slots.size() != static_cast<size_t>(state.range(0)))
    return state.SkipWithError("dns_check did not prepare its checks");
  int64_t queries = 0, up = 0;
  const double cpu0 = isitup::bench::process_cpu_seconds();
  for (auto _ : state) {
    d.run(queries_per_iteration);
    queries += d.done.load();
    up += d.up.load();
  }
  const double cpu = isitup::bench::process_cpu_seconds() - cpu0;
  state.counters["queries_per_s"] =
      benchmark::Counter(static_cast<double>(queries), benchmark::Counter::kIsRate);
  state.counters["cpu_us_per_query"] = cpu * 1e6 / static_cast<double>(queries);
  state.counters["ok_fraction"] = static_cast<double>(up) / static_cast<double>(queries);
}
// NOLINTEND(clang-analyzer-core.StackAddressEscape)
BENCHMARK(bm_dns_check)->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond);

void print_ratios(const isitup::bench::recording_reporter& r) {
  const auto v = isitup::bench::against_floor(r, "bm_bare_cares", "bm_dns_check", "queries_per_s",
                                              "cpu_us_per_query");
  if (!v) return;
  std::FILE* out = r.table();
  std::fprintf(out, "\n64 queries in flight against dnsmasq on 127.0.0.1 (same run)\n");
  std::fprintf(out, "bare c-ares loop: %9.0f queries/s, %6.1f us CPU per query\n", v->floor_rate,
               v->floor_cpu);
  std::fprintf(out, "dns_check:        %9.0f checks/s,  %6.1f us CPU per check\n", v->rate, v->cpu);
  std::fprintf(out, "ratio: %.2fx the baseline's rate (target >= 0.7), %.2fx its CPU per query\n",
               v->rate_ratio(), v->cpu_ratio());
}

}  // namespace

int main(int argc, char** argv) { return isitup::bench::run_benchmarks(argc, argv, print_ratios); }
