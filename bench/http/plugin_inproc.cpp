#include "plugin_inproc.hpp"

#include <isitup/plugin.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include "fake_host.hpp"

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace {

struct driver {
  const isitup_check_ops_v1* ops = nullptr;
  void* instance = nullptr;
  std::atomic<uint64_t> done{0}, up{0};
  std::atomic<bool> stop{false};
};

struct slot {
  driver* d;
  void* check;
};

void on_done(void* ctx, const isitup_record_v1* r) {
  auto* s = static_cast<slot*>(ctx);
  if (r->status == ISITUP_UP) s->d->up.fetch_add(1, std::memory_order_relaxed);
  s->d->done.fetch_add(1, std::memory_order_relaxed);
  if (s->d->stop.load(std::memory_order_relaxed)) return;
  const isitup_run_v1 run{sizeof run, 0, 5000};
  s->d->ops->start(s->d->instance, s->check, &run, &on_done, s);
}

double cpu_of(const rusage& r) {
  return static_cast<double>(r.ru_utime.tv_sec) + r.ru_utime.tv_usec / 1e6;
}
double sys_of(const rusage& r) {
  return static_cast<double>(r.ru_stime.tv_sec) + r.ru_stime.tv_usec / 1e6;
}

long self_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

// A plugin instance with `urls` prepared (the same options each).
struct prepared_set {
  isitup::sdk::testing::fake_host host;
  driver d;
  std::vector<std::unique_ptr<isitup::sdk::testing::fake_options>> options;
  std::vector<std::unique_ptr<slot>> slots;
  bool ok = false;

  prepared_set(const std::vector<std::string>& urls, const check_options& given) {
    d.ops = isitup_plugin_entry()->check;
    char err[256] = "";
    if (d.ops->create(host.table(), host.ctx(), &d.instance, err, sizeof err) != ISITUP_OK) return;
    isitup::sdk::testing::option_map o(given.begin(), given.end());
    for (const std::string& url : urls) {
      options.push_back(std::make_unique<isitup::sdk::testing::fake_options>(
          d.ops->options, d.ops->option_count, o));
      const isitup_check_spec_v1 spec{sizeof spec, url.c_str(), url.c_str(),
                                      60000,       5000,        options.back()->raw()};
      void* c = nullptr;
      if (d.ops->prepare(d.instance, &spec, &c, err, sizeof err) != ISITUP_OK) return;
      slots.push_back(std::make_unique<slot>(slot{&d, c}));
    }
    ok = true;
  }
  ~prepared_set() {
    if (!d.instance) return;
    for (auto& s : slots) d.ops->release(d.instance, s->check);
    d.ops->destroy(d.instance);
  }
};

}  // namespace

// NOLINTBEGIN(clang-analyzer-core.StackAddressEscape): the SDK's fake_host keeps its address in
// a static for the codec services and clears it in its destructor, which the analyzer misses.
in_flight_memory plugin_rss_in_flight(const std::vector<std::string>& urls,
                                      const check_options& options) {
  prepared_set set(urls, options);
  if (!set.ok) return {};
  driver& d = set.d;
  d.stop = true;  // one run each
  malloc_trim(0);
  const long before = self_rss_kib();
  const isitup_run_v1 run{sizeof run, 0, 10000};
  for (auto& s : set.slots) d.ops->start(d.instance, s->check, &run, &on_done, s.get());
  // Connected and past the handshake, waiting for the 2 s answers.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const long during = self_rss_kib();
  const size_t started = set.slots.size();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (d.done.load() < started && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  in_flight_memory m;
  m.up = d.up.load();
  m.kib_per_run = static_cast<double>(during - before) / static_cast<double>(started);
  return m;
}

floor_result plugin_inproc(const std::vector<std::string>& urls, int seconds,
                           const check_options& options) {
  prepared_set set(urls, options);
  if (!set.ok) return {};
  driver& d = set.d;
  auto& slots = set.slots;
  const isitup_run_v1 run{sizeof run, 0, 5000};
  for (auto& s : slots) d.ops->start(d.instance, s->check, &run, &on_done, s.get());
  std::this_thread::sleep_for(std::chrono::seconds(3));  // warm up (slow answers take 2 s)
  rusage r0{}, r1{};
  getrusage(RUSAGE_SELF, &r0);
  const uint64_t n0 = d.done.load();
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  getrusage(RUSAGE_SELF, &r1);
  const uint64_t n = d.done.load() - n0;
  const double span = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  d.stop = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  floor_result out;
  if (n > 0) {
    out.rate = static_cast<double>(n) / span;
    out.user_us = (cpu_of(r1) - cpu_of(r0)) * 1e6 / static_cast<double>(n);
    out.sys_us = (sys_of(r1) - sys_of(r0)) * 1e6 / static_cast<double>(n);
  }
  return out;
}
// NOLINTEND(clang-analyzer-core.StackAddressEscape)
