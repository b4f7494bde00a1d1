// What a started catalog plugin reports (partitions assigned and revoked, messages read),
// queued for the agent's scheduler thread, which applies it as a change of the running checks.
//
// Threads: the on_* calls come from the catalog plugin's one thread (through events()), and so
// does `read`, once per message, before the message is queued;
// due/next_due/take/applied/close from the scheduler thread. on_revoked blocks until the
// scheduler applied it (the revoked partitions' checks are stopped before another probe may
// take them over), at most revoke_wait_ms, and not at all once close() was called. on_entry
// blocks while max_pending changes wait (they are then due at once), until take() or close();
// after close() it drops the message. The wake function is called when a change arrives to an
// empty queue, when the queue fills and for urgent changes, not per message: the scheduler
// thread learns when the rest is due from next_due().
#pragma once

#include <isitup/plugin.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <isitup/core/config.hpp>

namespace isitup {

struct catalog_change {
  enum class kind { assigned, revoked, lost, entry };
  kind what = kind::entry;
  int32_t partition = -1;            // entry
  std::vector<int32_t> partitions;   // assigned, revoked, lost
  std::string key;                   // entry
  std::optional<std::string> value;  // entry; nullopt: tombstone
  int64_t offset = -1;               // entry
  // An entry with a value, when the feed has a `read` function: the check it read, or why the
  // value is not one (`value` is then emptied, still engaged). Held by pointer: a change and
  // the agent's key entry that takes it stay small while they wait in queues and hash maps.
  std::unique_ptr<config::check> check;
  std::string error;
};

class catalog_feed {
 public:
  // Changes are taken in batches: batch_ms after the oldest pending one, or as soon as
  // batch_changes wait (a partition read from its beginning arrives as a burst of messages; the
  // agent applies them key by key, and starts on the first ones while the rest are still
  // fetched and read). A revocation, and the first assignment after a loss (partitions kept
  // through the loss that went to another probe must stop before that probe starts them), are
  // due at once.
  static constexpr int64_t batch_ms = 50;
  static constexpr std::size_t batch_changes = 1024;
  static constexpr int64_t revoke_wait_ms = 5000;
  // A key or value is kept up to this size plus one byte: the reader refuses anything longer.
  static constexpr std::size_t max_key_bytes = 4096;
  static constexpr std::size_t max_value_bytes = std::size_t{64} * 1024;
  // Changes waiting for the scheduler thread at most (the plugin's thread then waits, and the
  // plugin's client buffers within its own bounds). A 100k catalog arrives in batches of a few
  // thousand: the bound holds only while the scheduler thread is busy elsewhere.
  static constexpr std::size_t default_max_pending = 65536;

  // How late the agent's loop may wake (its process stopped or frozen) before the group may
  // have given its partitions to others, and how long it then starts no check, while the
  // plugin reports whether it did: half the catalog's session timeout (a member heartbeats at
  // least every third of it, so a shorter stall cannot have cost the session), and 1 s at most
  // (the plugin reports within ms of resuming). Unknown (0): 2 s and 1 s.
  struct stall_limits {
    int64_t stalled_ms = 2000;
    int64_t hold_ms = 1000;
  };
  static stall_limits stall_limits_for(int64_t session_timeout_ms);

  // `now` reads the agent's clock (ms); `wake` wakes the scheduler thread (any thread);
  // `read`, if given, reads an entry's value into its check (or error) on the plugin's thread,
  // so the scheduler thread takes messages already parsed; it must not throw.
  using read_fn = std::function<void(catalog_change&)>;
  catalog_feed(std::function<int64_t()> now, std::function<void()> wake, read_fn read = {},
               std::size_t max_pending = default_max_pending);
  catalog_feed(const catalog_feed&) = delete;
  catalog_feed& operator=(const catalog_feed&) = delete;

  // The table to pass to the plugin's start(); points into this object.
  const isitup_catalog_events_v1* events() const { return &events_; }

  void on_assigned(std::span<const int32_t> partitions);
  void on_revoked(std::span<const int32_t> partitions);
  void on_lost(std::span<const int32_t> partitions);
  void on_entry(const isitup_catalog_entry_v1& entry);

  // Whether take() has something to apply now.
  bool due(int64_t now_ms) const;
  // When pending changes become due; nullopt when none are pending.
  std::optional<int64_t> next_due() const;
  // The pending changes in the order reported; `generation` identifies them for applied().
  std::vector<catalog_change> take(uint64_t& generation);
  // The changes of take() up to `generation` are applied: releases waiting revocations.
  void applied(uint64_t generation);
  // Stopping: on_revoked returns at once from now on.
  void close();

 private:
  void push(catalog_change c, bool urgent);

  std::function<int64_t()> now_;
  std::function<void()> wake_;
  read_fn read_;
  std::size_t max_pending_;
  isitup_catalog_events_v1 events_{};
  mutable std::mutex mu_;
  std::condition_variable applied_cv_;
  std::condition_variable room_cv_;  // pending_ below max_pending_, or closed
  std::vector<catalog_change> pending_;
  uint64_t generation_ = 0, applied_ = 0;
  int64_t first_ms_ = 0;
  bool urgent_ = false, closed_ = false;
  bool lost_ = false;  // a loss was reported and no assignment since
};

}  // namespace isitup
