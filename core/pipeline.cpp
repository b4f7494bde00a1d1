#include <isitup/core/pipeline.hpp>

#include <spdlog/spdlog.h>
#include <isitup/util/backoff.hpp>
#include <isitup/util/clock.hpp>

#include <algorithm>
#include <optional>

#include <isitup/core/completion_tickets.hpp>
#include <isitup/core/host_services.hpp>

namespace isitup {

struct pipeline::batch {
  std::vector<record> records;
  std::vector<isitup_record_v1> views;
  std::vector<const isitup_record_v1*> pointers;
  isitup_batch_v1 c{};
  std::unique_ptr<batch_positions> positions;  // from a source's submit_at, when given
  isitup_positions_v1 pc{};                    // views positions
  isitup_batch_v1 cp{};                        // c with pc, for the positions sink
  std::vector<ack_fn> acks;
  std::shared_ptr<const batch_state> state;  // for the state sink, when there is one
  std::size_t sinks_pending = 0;
  bool failed = false;
};

struct pipeline::pending_write {
  std::shared_ptr<batch> b;
  int attempt = 0;
  clock::time_point not_before{};
};

struct pipeline::sink_state {
  sink_binding binding;
  const char* owner = "sink";  // the label, interned for completion tickets
  uint32_t max_in_flight = 1;
  uint32_t in_flight = 0;
  uint32_t timed_out = 0;           // writes timed out and kept for their late completion
  std::deque<pending_write> queue;  // not yet written, or waiting to be written again
  sink_stats counts;                // under mu_
};

struct pipeline::write_ctx {
  pipeline* p;
  std::size_t sink;
  pending_write w;
  uint64_t id = 0;
  void* ticket = nullptr;
  clock::time_point deadline{};
  bool timed_out = false;
};

namespace {

std::chrono::milliseconds backoff(int attempt) {
  return sdk::backoff(attempt, std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
}

const char* label_of(const sink_binding& b) { return b.ctx ? b.ctx->label.c_str() : "sink"; }

// A batch to write again goes back in sequence order (the queue is in that order), so a sink
// sees batches retried together in the order they were made: a sink storing a source's
// positions needs a partition's batches in order.
template <class Queue, class Write>
void requeue(Queue& queue, Write w) {
  const uint64_t seq = w.b->c.sequence;
  auto at = std::find_if(queue.begin(), queue.end(),
                         [&](const Write& q) { return q.b->c.sequence > seq; });
  queue.insert(at, std::move(w));
}

// Timed-out writes kept per sink for their late completion (their batches stay allocated).
constexpr uint32_t max_timed_out_writes = 16;

}  // namespace

pipeline::pipeline(pipeline_options options, const std::vector<sink_binding>& sinks)
    : options_(options) {
  for (const sink_binding& b : sinks) {
    auto s = std::make_unique<sink_state>();
    s->binding = b;
    s->max_in_flight = b.ops && b.ops->max_in_flight > 0 ? b.ops->max_in_flight : 1;
    s->owner = completion_tickets::intern(label_of(b));
    sinks_.push_back(std::move(s));
  }
}

pipeline::~pipeline() {
  stop();
  // The sinks are gone: a completion still outstanding must find nothing to free.
  for (auto& [id, w] : writing_) completion_tickets::instance().redeem(w->ticket);
}

void pipeline::start() {
  thread_ = std::thread([this] { run(); });
}

void pipeline::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void pipeline::say_oversized(std::size_t n) const {
  if (oversized_said_.exchange(true)) return;
  spdlog::warn(
      "a source handed over {} records at once, more than the result queue holds (queue_size "
      "{}): such a batch waits until the queue is empty and is taken alone; give the source "
      "a batch size of at most queue_size",
      n, options_.queue_size);
}

bool pipeline::has_room(std::size_t n) {
  std::size_t cur = held_.load(std::memory_order_relaxed);
  if (n > options_.queue_size) say_oversized(n);
  while (fits(cur, n, options_.queue_size)) {
    if (held_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed)) return true;
  }
  rejected_full_.fetch_add(1, std::memory_order_relaxed);
  if (full_log_gate_.pass(sdk::monotonic_ms())) {
    spdlog::warn(
        "result queue full ({} of {} held): sinks are slower than checks; runs are skipped "
        "until they catch up ({} refused so far)",
        held_.load(), options_.queue_size, rejected_full_.load());
  }
  return false;
}

bool pipeline::try_reserve() {
  if (!has_room(1)) return false;
  reserved_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void pipeline::cancel_reservation() {
  reserved_.fetch_sub(1, std::memory_order_relaxed);
  held_.fetch_sub(1, std::memory_order_relaxed);
  cv_.notify_all();
}

void pipeline::push_reserved(record r) {
  accepted_.fetch_add(1, std::memory_order_relaxed);
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    reserved_.fetch_sub(1, std::memory_order_relaxed);
    if (staged_.empty()) staged_since_ = clock::now();
    staged_.push_back(std::move(r));
    wake = staged_.size() >= options_.batch_size || staged_.size() == 1 || draining_;
  }
  if (wake) cv_.notify_all();
}

bool pipeline::try_submit(std::vector<record>&& records, ack_fn ack,
                          std::unique_ptr<batch_positions> positions) {
  const std::size_t n = records.size();
  {
    std::lock_guard lock(mu_);
    if (draining_ || stopping_) return false;
  }
  if (!has_room(n)) return false;
  accepted_.fetch_add(n, std::memory_order_relaxed);
  auto b = std::make_shared<batch>();
  b->records = std::move(records);
  if (ack) b->acks.push_back(std::move(ack));
  b->positions = std::move(positions);
  if (state_) b->state = state_->make(b->records);
  {
    std::lock_guard lock(mu_);
    cut_staged_locked(true);  // keep check results ahead of this batch
    enqueue_locked(b);
  }
  cv_.notify_all();
  return true;
}

void pipeline::cut_staged_locked(bool all) {
  while (!staged_.empty() && (all || staged_.size() >= options_.batch_size)) {
    auto b = std::make_shared<batch>();
    const std::size_t n = std::min(staged_.size(), options_.batch_size);
    b->records.assign(std::make_move_iterator(staged_.begin()),
                      std::make_move_iterator(staged_.begin() + n));
    staged_.erase(staged_.begin(), staged_.begin() + n);
    if (state_) b->state = state_->make(b->records);
    staged_since_ = clock::now();
    enqueue_locked(b);
  }
}

void pipeline::enqueue_locked(const std::shared_ptr<batch>& b) {
  b->views.reserve(b->records.size());
  for (const record& r : b->records) b->views.push_back(r.view());
  for (const isitup_record_v1& v : b->views) b->pointers.push_back(&v);
  b->c.struct_size = sizeof(isitup_batch_v1);
  b->c.count = b->records.size();
  b->c.records = b->pointers.data();
  b->c.sequence = next_sequence_++;
  if (b->positions) {
    b->pc = isitup_positions_v1{sizeof(isitup_positions_v1), b->positions->group.c_str(),
                                b->positions->topic.c_str(), b->positions->items.data(),
                                b->positions->items.size()};
    b->cp = b->c;
    b->cp.positions = &b->pc;
  }
  b->sinks_pending = sinks_.size();
  if (sinks_.empty()) {
    held_.fetch_sub(b->records.size());
    delivered_.fetch_add(b->records.size());
    for (auto& a : b->acks) a(ISITUP_OK);
    cv_.notify_all();  // drain() waits for held_ to reach 0
    return;
  }
  for (auto& s : sinks_) s->queue.push_back(pending_write{b, 0, {}});
}

void pipeline::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    const auto now = clock::now();
    const auto delay = std::chrono::milliseconds(options_.batch_delay_ms);
    cut_staged_locked(draining_ || stopping_ || now - staged_since_ >= delay);

    std::vector<write_ctx*> writes;
    std::optional<clock::time_point> wake = time_out_writes_locked(now);
    for (std::size_t i = 0; i < sinks_.size(); ++i) {
      sink_state& s = *sinks_[i];
      while (s.in_flight < s.max_in_flight && !s.queue.empty()) {
        if (s.queue.front().not_before > now && !stopping_) {
          wake = std::min(wake.value_or(s.queue.front().not_before), s.queue.front().not_before);
          break;
        }
        auto w = std::make_unique<write_ctx>(write_ctx{this, i, s.queue.front()});
        w->id = next_write_id_++;
        w->deadline = now + std::chrono::milliseconds(options_.sink_timeout_ms);
        w->ticket = completion_tickets::instance().issue(w.get(), s.owner);
        if (!w->ticket) break;  // millions outstanding: try again later
        writes.push_back(w.get());
        writing_.emplace(w->id, std::move(w));
        s.queue.pop_front();
        ++s.in_flight;
      }
    }
    if (!writes.empty()) {
      lock.unlock();
      for (write_ctx* w : writes) {  // may be completed (and freed) by the time write() returns
        const sink_state& s = *sinks_[w->sink];
        const batch& wb = *w->w.b;
        const isitup_batch_v1* c =
            wb.positions && positions_sink_ && *positions_sink_ == w->sink ? &wb.cp : &wb.c;
        void* ticket = w->ticket;
        const batch_state* st = w->w.b->state.get();
        if (st && state_ && state_->sink == w->sink)
          s.binding.ops->write_with_state(s.binding.instance, c, st->view(), &pipeline::on_done,
                                          ticket);
        else
          s.binding.ops->write(s.binding.instance, c, &pipeline::on_done, ticket);
      }
      lock.lock();
      continue;
    }
    if (stopping_) break;
    if (!staged_.empty()) {
      const auto t = staged_since_ + delay;
      wake = std::min(wake.value_or(t), t);
    }
    if (wake)
      cv_.wait_until(lock, *wake);
    else
      cv_.wait(lock);
  }
}

std::optional<pipeline::clock::time_point> pipeline::time_out_writes_locked(clock::time_point now) {
  std::optional<clock::time_point> next;
  for (auto it = writing_.begin(); it != writing_.end();) {
    write_ctx& w = *it->second;
    if (w.timed_out) {
      ++it;
      continue;
    }
    if (w.deadline > now) {
      next = std::min(next.value_or(w.deadline), w.deadline);
      ++it;
      continue;
    }
    sink_state& s = *sinks_[w.sink];
    w.timed_out = true;
    --s.in_flight;
    ++s.timed_out;
    ++s.counts.retries;
    s.counts.accepting = false;
    timed_out_.fetch_add(1, std::memory_order_relaxed);
    retries_.fetch_add(1, std::memory_order_relaxed);
    const auto wait = backoff(w.w.attempt);
    spdlog::warn(
        "[{}] no completion for a batch of {} results within {} ms (pipeline.sink_timeout); "
        "sending it again in {} ms, a late completion will be ignored",
        label_of(s.binding), w.w.b->records.size(), options_.sink_timeout_ms, wait.count());
    requeue(s.queue, pending_write{w.w.b, w.w.attempt + 1, now + wait});
    ++it;
    if (s.timed_out > max_timed_out_writes) {
      // The oldest timed-out write of this sink is given up for good: its ticket is revoked
      // (a completion is refused) and its batch freed.
      for (auto old = writing_.begin(); old != writing_.end(); ++old) {
        if (old->second->sink != w.sink || !old->second->timed_out) continue;
        if (completion_tickets::instance().redeem(old->second->ticket).state) {
          --s.timed_out;
          if (old == it) ++it;
          writing_.erase(old);
        }
        break;
      }
    }
  }
  return next;
}

void pipeline::on_done(void* ticket, uint32_t status, const char* message) {
  completion_tickets& tickets = completion_tickets::instance();
  const completion_tickets::redeemed got = tickets.redeem(ticket);
  if (!got.state) {  // a second completion: the write may be gone
    tickets.refused(got);
    return;
  }
  auto* w = static_cast<write_ctx*>(got.state);
  w->p->complete(*w, status, message);
}

void pipeline::complete(write_ctx& w, uint32_t status, const char* message) {
  std::vector<ack_fn> acks;
  uint32_t ack_status = ISITUP_OK;
  bool finished = false;
  std::unique_ptr<write_ctx> owned;  // freed last, outside the lock
  const std::shared_ptr<batch> keep = w.w.b;
  batch& b = *keep;
  {
    std::lock_guard lock(mu_);
    auto found = writing_.find(w.id);
    if (found != writing_.end()) {
      owned = std::move(found->second);
      writing_.erase(found);
    }
    sink_state& s = *sinks_[w.sink];
    isitup_host_ctx* ctx = s.binding.ctx;
    std::string suffix;
    if (w.timed_out) {  // already sent again: this completion changes nothing
      --s.timed_out;
      late_.fetch_add(1, std::memory_order_relaxed);
      const std::string text = "a write completed after pipeline.sink_timeout; ignored";
      if (!ctx || ctx->should_log(ISITUP_LOG_WARN, text, suffix))
        spdlog::warn("[{}] {} ({} so far){}", label_of(s.binding), text, late_.load(), suffix);
      return;
    }
    --s.in_flight;
    s.counts.accepting = status != ISITUP_RETRY;
    if (status == ISITUP_RETRY && !stopping_) {
      ++s.counts.retries;
      retries_.fetch_add(1, std::memory_order_relaxed);
      const auto wait = backoff(w.w.attempt);
      const std::string text =
          "batch of " + std::to_string(b.records.size()) +
          " results not written, will retry: " + (message ? message : "no reason given");
      if (!ctx || ctx->should_log(ISITUP_LOG_WARN, text, suffix))
        spdlog::warn("[{}] {} (in {} ms){}", label_of(s.binding), text, wait.count(), suffix);
      requeue(s.queue, pending_write{w.w.b, w.w.attempt + 1, clock::now() + wait});
    } else {
      (status == ISITUP_OK ? s.counts.delivered : s.counts.lost) += b.records.size();
      if (status != ISITUP_OK) {
        b.failed = true;
        const std::string text =
            "batch of " + std::to_string(b.records.size()) +
            " results refused for good: " + (message ? message : "no reason given");
        if (!ctx || ctx->should_log(ISITUP_LOG_ERROR, text, suffix))
          spdlog::error("[{}] {}{}", label_of(s.binding), text, suffix);
      }
      if (--b.sinks_pending == 0) {
        finished = true;
        acks = std::move(b.acks);
        ack_status = b.failed ? ISITUP_ERROR : ISITUP_OK;
      }
    }
  }
  if (status == ISITUP_OK && b.state && state_ && state_->sink == w.sink && !w.timed_out)
    b.state->committed();
  if (finished) {
    // Acknowledge before the records stop counting as held, so that drain() returns only
    // after every source heard about its batch.
    for (auto& a : acks) a(ack_status);
    std::lock_guard lock(mu_);
    held_.fetch_sub(b.records.size());
    (b.failed ? lost_ : delivered_).fetch_add(b.records.size());
  }
  cv_.notify_all();
}

bool pipeline::drain(std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  std::unique_lock lock(mu_);
  draining_ = true;
  cv_.notify_all();
  cv_.wait_until(lock, deadline, [&] { return held_.load() == 0; });
  const std::size_t left = held_.load();
  lock.unlock();
  for (auto& s : sinks_) {
    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    const uint32_t st =
        s->binding.ops->flush(s->binding.instance, std::max<int64_t>(remaining.count(), 0));
    if (st != ISITUP_OK) spdlog::warn("[{}] flush did not complete", label_of(s->binding));
  }
  if (left > 0)
    spdlog::error("shutdown: {} results were not delivered to every sink within {} ms", left,
                  timeout.count());
  return left == 0;
}

std::vector<sink_stats> pipeline::per_sink() const {
  std::lock_guard lock(mu_);
  std::vector<sink_stats> out;
  out.reserve(sinks_.size());
  for (const auto& s : sinks_) {
    out.push_back(s->counts);
    out.back().waiting = s->queue.size();
  }
  return out;
}

pipeline_stats pipeline::stats() const {
  pipeline_stats s;
  s.accepted = accepted_.load();
  s.delivered = delivered_.load();
  s.lost = lost_.load();
  s.rejected_full = rejected_full_.load();
  s.retries = retries_.load();
  s.timed_out = timed_out_.load();
  s.late = late_.load();
  s.held = held_.load();
  s.capacity = options_.queue_size;
  return s;
}

}  // namespace isitup
