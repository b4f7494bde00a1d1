#include <isitup/core/catalog_feed.hpp>

#include <algorithm>
#include <chrono>
#include <utility>

namespace isitup {

catalog_feed::catalog_feed(std::function<int64_t()> now, std::function<void()> wake, read_fn read,
                           std::size_t max_pending)
    : now_(std::move(now)),
      wake_(std::move(wake)),
      read_(std::move(read)),
      max_pending_(std::max<std::size_t>(1, max_pending)) {
  events_.struct_size = sizeof events_;
  events_.ctx = this;
  events_.assigned = [](void* ctx, const int32_t* p, size_t n) {
    static_cast<catalog_feed*>(ctx)->on_assigned({p, n});
  };
  events_.revoked = [](void* ctx, const int32_t* p, size_t n) {
    static_cast<catalog_feed*>(ctx)->on_revoked({p, n});
  };
  events_.entry = [](void* ctx, const isitup_catalog_entry_v1* e) {
    if (e) static_cast<catalog_feed*>(ctx)->on_entry(*e);
  };
  events_.lost = [](void* ctx, const int32_t* p, size_t n) {
    static_cast<catalog_feed*>(ctx)->on_lost({p, n});
  };
}

catalog_feed::stall_limits catalog_feed::stall_limits_for(int64_t session_timeout_ms) {
  stall_limits out;
  if (session_timeout_ms <= 0) return out;
  out.stalled_ms = std::max<int64_t>(1, session_timeout_ms / 2);
  out.hold_ms = std::min(out.hold_ms, out.stalled_ms);
  return out;
}

void catalog_feed::push(catalog_change c, bool urgent) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (c.what == catalog_change::kind::lost) lost_ = true;
    if (c.what == catalog_change::kind::assigned) urgent = urgent || std::exchange(lost_, false);
    if (pending_.empty()) {
      first_ms_ = now_();
      wake = true;
    }
    wake = wake || urgent;
    urgent_ = urgent_ || urgent;
    pending_.push_back(std::move(c));
    // A batch's worth, or full: due at once.
    wake = wake || pending_.size() == batch_changes || pending_.size() == max_pending_;
    ++generation_;
  }
  if (wake) wake_();
}

void catalog_feed::on_assigned(std::span<const int32_t> partitions) {
  catalog_change c;
  c.what = catalog_change::kind::assigned;
  c.partitions.assign(partitions.begin(), partitions.end());
  push(std::move(c), false);
}

void catalog_feed::on_lost(std::span<const int32_t> partitions) {
  catalog_change c;
  c.what = catalog_change::kind::lost;
  c.partitions.assign(partitions.begin(), partitions.end());
  push(std::move(c), false);
}

void catalog_feed::on_revoked(std::span<const int32_t> partitions) {
  if (partitions.empty()) return;
  catalog_change c;
  c.what = catalog_change::kind::revoked;
  c.partitions.assign(partitions.begin(), partitions.end());
  push(std::move(c), true);
  std::unique_lock lock(mu_);
  const uint64_t mine = generation_;
  applied_cv_.wait_for(lock, std::chrono::milliseconds(revoke_wait_ms),
                       [&] { return closed_ || applied_ >= mine; });
}

void catalog_feed::on_entry(const isitup_catalog_entry_v1& e) {
  if (!e.key) return;
  catalog_change c;
  c.partition = e.partition;
  c.offset = e.offset;
  c.key.assign(e.key, std::min(e.key_len, max_key_bytes + 1));
  if (e.value) c.value.emplace(e.value, std::min(e.value_len, max_value_bytes + 1));
  if (read_ && c.value) {
    read_(c);
    c.value->clear();
    c.value->shrink_to_fit();
  }
  {
    std::unique_lock lock(mu_);
    room_cv_.wait(lock, [&] { return closed_ || pending_.size() < max_pending_; });
    if (closed_) return;  // stopping: nobody takes it
  }
  push(std::move(c), false);  // this thread is the only one that adds entries
}

bool catalog_feed::due(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  if (pending_.empty()) return false;
  return urgent_ || pending_.size() >= std::min(batch_changes, max_pending_) ||
         now_ms >= first_ms_ + batch_ms;
}

std::optional<int64_t> catalog_feed::next_due() const {
  std::lock_guard lock(mu_);
  if (pending_.empty()) return std::nullopt;
  if (urgent_ || pending_.size() >= std::min(batch_changes, max_pending_)) return first_ms_;
  return first_ms_ + batch_ms;
}

std::vector<catalog_change> catalog_feed::take(uint64_t& generation) {
  std::vector<catalog_change> out;
  {
    std::lock_guard lock(mu_);
    generation = generation_;
    urgent_ = false;
    out = std::exchange(pending_, {});
  }
  room_cv_.notify_all();
  return out;
}

void catalog_feed::applied(uint64_t generation) {
  {
    std::lock_guard lock(mu_);
    applied_ = std::max(applied_, generation);
  }
  applied_cv_.notify_all();
}

void catalog_feed::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  applied_cv_.notify_all();
  room_cv_.notify_all();
}

}  // namespace isitup
