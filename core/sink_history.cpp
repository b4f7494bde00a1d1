#include <isitup/core/sink_history.hpp>

#include <cmath>
#include <exception>
#include <limits>
#include <utility>

namespace isitup {

namespace {

int64_t floor_to(int64_t t, int64_t step) { return t - ((t % step) + step) % step; }

// A percentile as stored: -1 for NaN ("none"); sets `bad` for a value that cannot be one.
float percentile(double v, bool& bad) {
  if (std::isnan(v)) return -1;
  if (!std::isfinite(v) || v < 0 || v > 3.6e9) {
    bad = true;
    return -1;
  }
  return static_cast<float>(v);
}

struct read_ctx {
  sink_history* into;
  int64_t length_ms;
};

}  // namespace

sink_history sink_history::for_time(std::string sink, int64_t now_ms) {
  sink_history h;
  h.sink = std::move(sink);
  h.asked_at_ms = now_ms;
  h.first_day_ms = floor_to(now_ms, day_ms) - 89 * day_ms;
  h.first_hour_ms = floor_to(now_ms, hour_ms) - 23 * hour_ms;
  return h;
}

void sink_history::add(const isitup_history_bucket_v1& b, int64_t length_ms) {
  const bool days = length_ms == day_ms;
  const int64_t first = days ? first_day_ms : first_hour_ms;
  const int64_t count = days ? 90 : 24;
  bool bad = b.struct_size < sizeof(isitup_history_bucket_v1) || !b.check || b.check_len == 0 ||
             b.check_len > max_name || b.length_ms != length_ms || b.up > b.results ||
             b.results > std::numeric_limits<uint32_t>::max() || b.start_ms < first ||
             b.start_ms >= first + count * length_ms || (b.start_ms - first) % length_ms != 0;
  stored_bucket s;
  if (!bad) {
    s.start_ms = b.start_ms;
    s.results = static_cast<uint32_t>(b.results);
    s.up = static_cast<uint32_t>(b.up);
    s.p50_ms = percentile(b.p50_total_ms, bad);
    s.p95_ms = percentile(b.p95_total_ms, bad);
  }
  if (bad || s.results == 0) {
    ++dropped;
    return;
  }
  const std::string_view name(b.check, b.check_len);
  auto it = checks.find(name);
  if (it == checks.end()) {
    if (checks.size() >= max_checks) {
      ++dropped;
      return;
    }
    it = checks.emplace(std::string(name), stored_check{}).first;
  }
  const auto i = static_cast<std::size_t>((b.start_ms - first) / length_ms);
  // A second bucket for the same (check, start) replaces the first: never counted twice.
  if (days)
    it->second.days[i] = s;
  else
    it->second.hours[i] = s;
}

sink_history read_sink_history(const isitup_sink_ops_v1& ops, void* instance, std::string sink,
                               int64_t now_ms, int64_t timeout_ms) {
  sink_history h = sink_history::for_time(std::move(sink), now_ms);
  h.ok = true;
  const std::pair<int64_t, int64_t> reads[] = {{h.first_day_ms, sink_history::day_ms},
                                               {h.first_hour_ms, sink_history::hour_ms}};
  for (const auto& [from, length] : reads) {
    read_ctx ctx{&h, length};
    char err[256] = "";
    const int64_t count = length == sink_history::day_ms ? 90 : 24;
    const uint32_t s = ops.read_history(
        instance, from, from + count * length, length,
        [](void* c, const isitup_history_bucket_v1* b) {
          auto* rc = static_cast<read_ctx*>(c);
          if (b)
            rc->into->add(*b, rc->length_ms);
          else
            ++rc->into->dropped;
        },
        &ctx, timeout_ms, err, sizeof err);
    if (s != ISITUP_OK) {
      err[sizeof err - 1] = '\0';
      h.ok = false;
      h.error = err[0] ? err : (s == ISITUP_RETRY ? "retry" : "error");
      h.checks.clear();  // a partial answer would show gaps that are not there
      break;
    }
  }
  return h;
}

sink_history_cache::sink_history_cache(reader read, std::function<int64_t()> now,
                                       std::chrono::milliseconds max_age)
    : read_(std::move(read)), now_(std::move(now)), max_age_ms_(max_age.count()) {
  thread_ = std::thread([this] { loop(); });
}

sink_history_cache::~sink_history_cache() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::shared_ptr<const sink_history> sink_history_cache::get(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  const int64_t now = now_();
  if (latest_ && now - latest_at_ms_ < max_age_ms_ && now >= latest_at_ms_) return latest_;
  const uint64_t before = reads_;
  if (!reading_ && !wanted_) {
    wanted_ = true;
    cv_.notify_all();
  }
  cv_.wait_for(lock, wait, [&] { return reads_ != before || stop_; });
  return latest_;
}

uint64_t sink_history_cache::reads() const {
  std::lock_guard lock(mu_);
  return reads_;
}

void sink_history_cache::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return wanted_ || stop_; });
    if (stop_) return;
    wanted_ = false;
    reading_ = true;
    const int64_t at = now_();
    lock.unlock();
    std::shared_ptr<const sink_history> got;
    try {
      got = std::make_shared<const sink_history>(read_(at));
    } catch (const std::exception& e) {
      auto failed = std::make_shared<sink_history>();
      failed->asked_at_ms = at;
      failed->error = e.what();
      got = std::move(failed);
    }
    lock.lock();
    latest_ = std::move(got);
    latest_at_ms_ = at;
    reading_ = false;
    ++reads_;
    cv_.notify_all();
  }
}

}  // namespace isitup
