// pg_sink: writes results into PostgreSQL, idempotently, in bulk. Batches from the pipeline
// queue up here (at most max_in_flight of them, so memory is bounded by the host's queue);
// one I/O thread takes up to batch_size rows at a time and writes them in one transaction
// (COPY into a staging table, INSERT ... ON CONFLICT DO NOTHING, COMMIT; from Kafka, COPY
// straight into the table when the batch follows on from its stored position: pg_writer.hpp).
// A batch is reported ok only after the COMMIT of its last rows. When the server cannot be
// reached, batches are handed back with retry (the host sends them again after a backoff)
// and the thread reconnects with its own backoff. A record PostgreSQL refuses for good is
// kept in <table>_rejects, counted (rows_rejected) and logged (at most 10 lines at once, then
// one every 6 s, with the number left out); its batch is ok. Uses only the public SDK and
// libpqxx.
//
// It also keeps the agent's alert state (ISITUP_SINK_ALERT_STATE, see pg_alert.hpp): a batch
// written with write_with_state has its check states, events, incidents and outbox entries
// stored in the transaction of its last rows; load_state reads them back at start (on the
// calling thread, with a connection of its own); events_delivered queues delivery marks that
// the I/O thread writes between transactions. Options: pg_sink_settings.hpp; the maintenance
// thread: pg_maintainer.hpp.
#include <isitup/plugin.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <isitup/plugin.hpp>
#include <isitup/util/backoff.hpp>
#include <isitup/util/clock.hpp>
#include <isitup/util/log_limit.hpp>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pg_conn_policy.hpp"
#include "pg_history.hpp"
#include "pg_maintainer.hpp"
#include "pg_schema.hpp"
#include "pg_sink_options.hpp"
#include "pg_sink_settings.hpp"
#include "pg_writer.hpp"

namespace {

namespace sdk = isitup::sdk;
namespace pg = isitup::pg;
using clock_type = std::chrono::steady_clock;

constexpr uint32_t max_in_flight = 16;

class pg_sink final : public sdk::sink {
 public:
  pg_sink(const sdk::host& host, const sdk::options_view& o) : host_(host) {
    pg::sink_settings s = pg::read_settings(o);
    batch_size_ = s.batch_size;
    batch_delay_ = s.batch_delay;
    backoff_max_ = s.backoff_max;
    s.writer.to_json = [h = host_](const isitup_record_v1& r) { return h.to_json(r); };
    options_ = s.writer;
    // The status page's reads wait at most about their timeout: libpq's shortest connect.
    history_ = std::make_unique<pg::pg_history>(options_.conninfo + " connect_timeout='2'",
                                                options_.names);
    writer_ = std::make_unique<pg::pg_writer>(std::move(s.writer));
    if (s.maintain)
      maintainer_ = std::make_unique<pg::pg_maintainer>(
          std::make_unique<pg::pg_maintenance>(std::move(s.maintenance)), host_);
    // Connecting waits for the first batch: `--check-config` builds sinks too.
    thread_ = std::thread([this] { run(); });
  }

  ~pg_sink() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();  // a transaction in progress ends first (bounded by statement_timeout)
    maintainer_.reset();
    // Batches still queued are abandoned without a completion: the agent destroys sinks
    // after it has stopped waiting for them (after drain and flush).
  }

  pg_sink(const pg_sink&) = delete;
  pg_sink& operator=(const pg_sink&) = delete;

  void write(const sdk::batch_view& batch, sdk::batch_done done) override {
    if (batch.size() == 0 && !batch.positions()) {
      done(sdk::status::ok);
      return;
    }
    enqueue(entry{batch, std::move(done), 0, clock_type::now(), nullptr, positions_of(batch)});
  }

  void write_with_state(const sdk::batch_view& batch, sdk::alert_state_view state,
                        sdk::batch_done done) {
    enqueue(entry{batch, std::move(done), 0, clock_type::now(), state.raw(), positions_of(batch)});
  }

  // A source assigned partitions takes them (pg_offsets.hpp claim), on a connection of its own.
  void claim_positions(isitup_positions_v1& c, std::chrono::milliseconds timeout) {
    std::vector<int32_t> partitions;
    for (size_t i = 0; i < c.count; ++i) partitions.push_back(c.items[i].partition);
    const auto deadline = clock_type::now() + timeout;
    for (;;) {
      try {
        const std::vector<pg::claimed_position> got =
            pg::claim_on_own_session(options_, c.group, c.topic, partitions);
        for (size_t i = 0; i < c.count; ++i) {
          c.items[i].epoch = got[i].epoch;
          c.items[i].next_offset = got[i].next;
        }
        connect_soon();  // the partitions' first batch follows at once: connect while it is read
        return;
      } catch (const std::exception& e) {
        // PostgreSQL may be down, or a stalled previous owner's transaction holds a row
        // until the server ends it: try again until the deadline.
        if (clock_type::now() + std::chrono::milliseconds(500) >= deadline)
          throw std::runtime_error(std::string("claiming partitions in PostgreSQL: ") + e.what());
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    }
  }

  void load_state(std::chrono::milliseconds timeout,
                  const std::function<void(sdk::alert_state_view)>& loaded) {
    const auto deadline = clock_type::now() + timeout;
    for (;;) {
      try {
        pg::load_alert_state_on_own_session(options_, [&](const isitup_alert_state_v1& all) {
          loaded(sdk::alert_state_view(&all));
        });
        // The agent is running (`--check-config` reads no state): batches come next, at once
        // for a writer whose partitions are assigned later (a group join takes seconds), so
        // the writer's own session (migrations check, staging table, partition list) is made
        // now rather than when the first rows wait for it.
        connect_soon();
        return;
      } catch (const std::exception& e) {
        // PostgreSQL may still be starting: try again until the deadline.
        if (clock_type::now() + std::chrono::milliseconds(500) >= deadline)
          throw std::runtime_error(std::string("reading the alert state from PostgreSQL: ") +
                                   e.what());
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    }
  }

  void events_delivered(const char* sink, const char* const* ids, size_t count) {
    {
      std::lock_guard lock(mu_);
      auto& list = marks_[sink ? sink : ""];
      for (size_t i = 0; i < count && marks_pending_ < max_marks; ++i, ++marks_pending_)
        list.emplace_back(ids[i]);
    }
    cv_.notify_all();
  }

  // The status page's history, from the rollups (pg_history.hpp); the host's thread, one call
  // at a time, on a connection of its own.
  void read_history(const sdk::history_query& q,
                    const std::function<void(const sdk::history_bucket&)>& emit) {
    history_->read(q.from_ms, q.to_ms, q.length_ms, q.timeout, [&](const pg::history_row& r) {
      sdk::history_bucket b;
      b.check = r.check;
      b.start_ms = r.start_ms;
      b.results = r.results;
      b.up = r.up;
      b.p50_total_ms = r.p50_ms;
      b.p95_total_ms = r.p95_ms;
      emit(b);
    });
  }

  sdk::status flush(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mu_);
    flushing_ = true;
    cv_.notify_all();
    const bool empty = cv_.wait_for(lock, timeout, [&] { return queue_.empty() && !busy_; });
    flushing_ = false;
    return empty ? sdk::status::ok : sdk::status::retry;
  }

 private:
  struct entry {
    sdk::batch_view batch;
    sdk::batch_done done;
    std::size_t written = 0;  // rows of the batch committed so far
    clock_type::time_point since;
    const isitup_alert_state_v1* state = nullptr;  // goes with the batch's last rows
    std::vector<pg::batch_position> positions;     // where a source read it (never split)
  };

  static std::vector<pg::batch_position> positions_of(const sdk::batch_view& batch) {
    std::vector<pg::batch_position> out;
    const isitup_positions_v1* p = batch.positions();
    if (!p || !p->group || !p->topic) return out;
    for (size_t i = 0; i < p->count; ++i)
      out.push_back(pg::batch_position{p->group, p->topic, p->items[i].partition,
                                       p->items[i].first_offset, p->items[i].next_offset,
                                       p->items[i].epoch});
    return out;
  }

  // Delivery marks waiting to be written; beyond this many they are dropped (a lost mark
  // only means the event is sent again after a restart, with the same id).
  static constexpr std::size_t max_marks = 100'000;

  void enqueue(entry e) {
    {
      std::lock_guard lock(mu_);
      queued_rows_ += e.batch.size();
      queue_.push_back(std::move(e));
    }
    cv_.notify_all();
  }

  // Writes the waiting delivery marks (I/O thread, lock held on entry and exit).
  void write_marks_locked(std::unique_lock<std::mutex>& lock) {
    std::map<std::string, std::vector<std::string>> marks;
    marks.swap(marks_);
    marks_pending_ = 0;
    busy_ = true;
    lock.unlock();
    try {
      writer_->mark_delivered(marks);
    } catch (const pg::write_failure& f) {
      host_.log(sdk::level::warn,
                std::string("delivery marks not written (the events are sent again after a "
                            "restart): ") +
                    f.what());
    }
    lock.lock();
    busy_ = false;
  }

  // Connects the writer ahead of its first batch (I/O thread, lock held on entry and exit).
  void connect_locked(std::unique_lock<std::mutex>& lock) {
    busy_ = true;
    lock.unlock();
    std::string error;
    try {
      writer_->connect();
    } catch (const pg::write_failure& f) {
      error = f.what();
    }
    lock.lock();
    busy_ = false;
    if (error.empty())
      connect_failures_ = 0;
    else
      schedule_reconnect_locked(error);
  }

  // Asks the I/O thread to connect the writer ahead of its first batch (any thread).
  void connect_soon() {
    {
      std::lock_guard lock(mu_);
      connect_soon_ = true;
    }
    cv_.notify_all();
  }

  // A batch ready to be reported, with its outcome; called outside the lock.
  struct report {
    sdk::batch_done done;
    sdk::status status;
  };

  void run() {
    std::unique_lock lock(mu_);
    std::vector<const isitup_record_v1*> rows;
    std::vector<const isitup_alert_state_v1*> states;
    std::vector<pg::batch_position> positions;
    for (;;) {
      if (!marks_.empty() && (stopping_ || writer_->connected())) write_marks_locked(lock);
      if (stopping_) return;
      if (connect_soon_) {
        connect_soon_ = false;
        if (!writer_->connected() && clock_type::now() >= next_connect_) connect_locked(lock);
        continue;
      }
      if (!ready_locked()) {
        if (queue_.empty())
          cv_.wait(lock);
        else
          cv_.wait_until(lock, queue_.front().since + batch_delay_);
        continue;
      }
      if (clock_type::now() < next_connect_ && !writer_->connected()) {
        bounce_locked(lock, "not connected to PostgreSQL (" + last_error_ + ")");
        continue;
      }
      if (!holds_.empty() && hand_back_waiting_locked(lock)) continue;
      // Take up to batch_size rows from the front batches; record where each one stops.
      rows.clear();
      states.clear();
      positions.clear();
      std::vector<std::size_t> upto;
      const std::size_t limit = static_cast<std::size_t>(batch_size_);
      for (std::size_t i = 0; i < queue_.size() && rows.size() < limit; ++i) {
        entry& e = queue_[i];
        // A batch read at positions goes whole, with batches that follow on from it only.
        const bool positioned = !e.positions.empty();
        if (i > 0 && (positioned != !positions.empty() ||
                      (positioned && (e.batch.size() > limit - rows.size() ||
                                      !pg::follow_on(positions, e.positions)))))
          break;
        if (i == 0 && positioned) positions = e.positions;
        const std::size_t n = positioned
                                  ? e.batch.size() - e.written
                                  : std::min(e.batch.size() - e.written, limit - rows.size());
        for (std::size_t k = 0; k < n; ++k) rows.push_back(&e.batch[e.written + k]);
        upto.push_back(e.written + n);
        if (e.state && e.written + n == e.batch.size()) states.push_back(e.state);
      }
      busy_ = true;
      lock.unlock();

      std::string error;
      auto failure = pg::write_failure::kind::retry;
      try {
        writer_->write(rows, states, positions);
      } catch (const pg::write_failure& f) {
        error = f.what();
        failure = f.which();
      }

      std::vector<report> reports;
      lock.lock();
      busy_ = false;
      if (failure == pg::write_failure::kind::retry && !error.empty())
        holds_.failed(positions);
      else
        holds_.done(positions);
      if (error.empty()) {
        connect_failures_ = 0;
        for (std::size_t i = 0; i < upto.size(); ++i) queue_[i].written = upto[i];
        while (!queue_.empty() && queue_.front().written == queue_.front().batch.size())
          take_front_locked(reports, sdk::status::ok);
      } else {
        // Every batch with rows in the failed transaction goes back (or fails for good).
        for (std::size_t i = 0; i < upto.size(); ++i)
          take_front_locked(reports, failure == pg::write_failure::kind::retry
                                         ? sdk::status::retry
                                         : sdk::status::error);
        if (!writer_->connected()) schedule_reconnect_locked(error);
      }
      lock.unlock();
      if (failure == pg::write_failure::kind::fenced) {
        host_.counter_add("batches_fenced", static_cast<int64_t>(reports.size()));
        host_.log(sdk::level::warn, "refused " + std::to_string(reports.size()) +
                                        " batches of a partition this agent no longer owns; "
                                        "nothing of them was stored: " +
                                        error);
        error.clear();  // not a failure of the database
        finish_fenced(reports);
        lock.lock();
        cv_.notify_all();
        continue;
      }
      finish(reports, rows.size(), error);
      lock.lock();
      cv_.notify_all();
    }
  }

  // Something to write: a full transaction's worth, or the oldest batch waited batch_delay,
  // or a flush is waiting.
  bool ready_locked() const {
    if (queue_.empty()) return false;
    return flushing_ || queued_rows_ >= static_cast<std::size_t>(batch_size_) ||
           clock_type::now() - queue_.front().since >= batch_delay_;
  }

  void take_front_locked(std::vector<report>& reports, sdk::status s) {
    entry& e = queue_.front();
    queued_rows_ -= e.batch.size();
    reports.push_back(report{std::move(e.done), s});
    queue_.pop_front();
  }

  void schedule_reconnect_locked(const std::string& error) {
    next_connect_ = clock_type::now() +
                    sdk::backoff(connect_failures_++, std::chrono::milliseconds(100), backoff_max_);
    last_error_ = error;
  }

  // Hands back (retry) each queued batch that must wait for an earlier one of its partitions
  // (position_holds); true when there was one. Lock held on entry and exit.
  bool hand_back_waiting_locked(std::unique_lock<std::mutex>& lock) {
    std::vector<report> reports;
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->positions.empty() || !holds_.must_wait(it->positions)) {
        ++it;
        continue;
      }
      queued_rows_ -= it->batch.size();
      reports.push_back(report{std::move(it->done), sdk::status::retry});
      it = queue_.erase(it);
    }
    if (reports.empty()) return false;
    lock.unlock();
    for (report& r : reports)
      r.done(r.status, "waiting for an earlier batch of its partition to be written first");
    lock.lock();
    cv_.notify_all();
    return true;
  }

  // Not connected and the next attempt is not due: hand every queued batch back.
  void bounce_locked(std::unique_lock<std::mutex>& lock, const std::string& why) {
    std::vector<report> reports;
    while (!queue_.empty()) take_front_locked(reports, sdk::status::retry);
    lock.unlock();
    for (report& r : reports) r.done(r.status, why);
    lock.lock();
    cv_.notify_all();
  }

  void finish(std::vector<report>& reports, std::size_t rows, const std::string& error) {
    if (error.empty()) {
      if (maintainer_) maintainer_->start();  // the database is there: keep it
      for (const std::string& name : writer_->created_partitions())
        host_.log(sdk::level::info, "created partition " + name + " for the rows of a batch");
      host_.counter_add("rows_written", static_cast<int64_t>(rows));
      const pg::write_stats& s = writer_->stats();
      publish("rows_inserted", s.inserted, published_.inserted);
      publish("invalid_values", s.invalid_values, published_.invalid_values);
      publish("repaired_text", s.repaired_text, published_.repaired_text);
      publish("rows_rejected", s.rejected, published_.rejected);
      publish("rows_past_retention", s.past_retention, published_.past_retention);
      publish("fast_path", s.fast_writes, published_.fast_writes);
      if (s.slow_writes != published_.slow_writes && slow_log_.take(sdk::monotonic_ms())) {
        const uint64_t more = slow_log_.refused_since_last();
        host_.log(sdk::level::info,
                  "slow path (staging + ON CONFLICT) for a batch read at positions: " +
                      pg::bounded_text(writer_->slow_reason(), 300) +
                      (more ? " (" + std::to_string(more) + " more not logged)" : std::string()));
      }
      publish("slow_path", s.slow_writes, published_.slow_writes);
      for (const pg::rejected_record& r : writer_->rejects()) log_reject(r);
      for (const auto& [check, why] : writer_->alert_rejects())
        if (said_alert_rejects_.size() < 1000 && said_alert_rejects_.insert(check).second)
          host_.log(sdk::level::error,
                    "the alert state of check '" + pg::bounded_text(check, 100) +
                        "' cannot be stored and is left out: " + pg::bounded_text(why, 300));
    } else {
      host_.counter_add("write_failures", 1);
    }
    for (report& r : reports) r.done(r.status, error);
  }

  void finish_fenced(std::vector<report>& reports) {
    for (report& r : reports)
      r.done(r.status, "fenced: another writer owns the partition now and writes these rows");
  }

  // One line per rejected record, rate-limited: a burst of 10, then one every 6 s; the next
  // line printed says how many were left out.
  void log_reject(const pg::rejected_record& r) {
    if (!reject_log_.take(sdk::monotonic_ms())) return;
    std::string first_line = r.error.substr(0, r.error.find('\n'));
    std::string text = "rejected a record PostgreSQL cannot store (SQLSTATE " + r.sqlstate +
                       "): " + pg::describe_key(*r.record) + ": " +
                       pg::bounded_text(first_line, 300) +
                       (r.stored ? "; kept in " + writer_->rejects_table()
                                 : std::string("; it could not be kept in the rejects table"));
    if (const uint64_t left_out = reject_log_.refused_since_last())
      text += " (" + std::to_string(left_out) + " more rejected records not logged)";
    host_.log(sdk::level::error, text);
  }

  void publish(const char* name, uint64_t now, uint64_t& before) {
    if (now != before) host_.counter_add(name, static_cast<int64_t>(now - before));
    before = now;
  }

  sdk::host host_;
  pg::writer_options options_;  // for load_state's own connection
  int64_t batch_size_ = 5000;
  std::chrono::milliseconds batch_delay_{0};
  std::chrono::milliseconds backoff_max_{5000};
  std::unique_ptr<pg::pg_writer> writer_;    // used by the I/O thread only
  std::unique_ptr<pg::pg_history> history_;  // used by read_history only

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<entry> queue_;                                // references stay valid on push_back
  std::map<std::string, std::vector<std::string>> marks_;  // sink -> delivered event ids
  std::size_t marks_pending_ = 0;
  std::size_t queued_rows_ = 0;
  bool busy_ = false, flushing_ = false, stopping_ = false;
  bool connect_soon_ = false;  // partitions were claimed: their batches come next
  int connect_failures_ = 0;   // in a row: the wait before the next attempt doubles
  clock_type::time_point next_connect_{};
  std::string last_error_;
  pg::write_stats published_;
  sdk::log_budget reject_log_{10, 6000};      // log_reject's budget (I/O thread only)
  sdk::log_budget slow_log_{5, 10000};        // slow path lines (I/O thread only)
  pg::position_holds holds_;                  // I/O thread only
  std::set<std::string> said_alert_rejects_;  // checks whose state was refused, logged once
  std::thread thread_;
  std::unique_ptr<pg::pg_maintainer> maintainer_;  // started by the I/O thread's first commit
};

}  // namespace

ISITUP_PLUGIN(isitup::sdk::plugin_def("pg_sink", "1.0.0",
                                      "Writes results into PostgreSQL: bulk COPY, idempotent by "
                                      "(agent, check, scheduled_at), versioned schema migrations")
                  .sink<pg_sink>(isitup::pg::sink_options(), max_in_flight,
                                 ISITUP_SINK_ALERT_STATE))
