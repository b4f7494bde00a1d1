// pg_writer: one PostgreSQL connection that writes batches of results idempotently.
// Each write is one short transaction: COPY the rows into a session-local staging table
// (a temporary table, ON COMMIT DELETE ROWS), INSERT ... SELECT ... ON CONFLICT DO NOTHING
// into the results table, COMMIT. Rows are durable when write() returns. Replaying rows
// changes nothing (the primary key is the natural key agent, check_name, scheduled_at).
// A record PostgreSQL refuses for good (see pg_rejects.hpp) is found by splitting the failed
// transaction in halves until it is alone, and kept in <table>_rejects; the others are
// written, so a batch is never held back by one of its records.
//
// Not thread-safe: one thread owns a writer (pg_sink's I/O thread, a benchmark, a test).
#pragma once

#include <isitup/plugin.h>

#include <pqxx/pqxx>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pg_alert.hpp"
#include "pg_conn_policy.hpp"
#include "pg_offsets.hpp"
#include "pg_partitions.hpp"
#include "pg_rejects.hpp"
#include "pg_schema.hpp"

namespace isitup::pg {

struct writer_options {
  std::string conninfo;  // from build_conninfo
  table_names names;
  int64_t statement_timeout_ms = 30000;
  int64_t partition_interval_ms = day_ms;  // see pg_partitions.hpp
  int64_t retention_ms = 0;  // rows older than this (by the clock) are not stored; 0: all are
  record_json_fn to_json;    // for the rejects table
};

// Why a write failed. `retry`: temporary (connection lost, server down, timeout, deadlock):
// write the same rows again later. `error`: these rows can never be written (write() does not
// report data errors this way: it rejects the records concerned and writes the rest).
class write_failure : public std::runtime_error {
 public:
  // fenced: the rows were read by a reader that lost their partition (pg_offsets.hpp); the
  // transaction was rolled back and the rows are the new owner's to write.
  enum class kind { retry, error, fenced };
  write_failure(kind k, const std::string& what) : std::runtime_error(what), kind_(k) {}
  kind which() const { return kind_; }

 private:
  kind kind_;
};

// Counts of values the writer could not store as given (stored as NULL or repaired).
struct write_stats {
  uint64_t rows = 0;            // rows offered to write()
  uint64_t inserted = 0;        // new rows (the rest were already there)
  uint64_t invalid_values = 0;  // an ip, extra or timestamp that was stored as NULL
  uint64_t repaired_text = 0;   // strings with invalid UTF-8, stored with U+FFFD
  uint64_t dropped = 0;         // copy_line/copy_into: records without a key, not written
  uint64_t rejected = 0;        // write(): records refused for good (see rejects())
  uint64_t past_retention = 0;  // write(): older than the retention, not stored
  uint64_t fast_writes = 0;     // write()s with positions that COPYed straight into the table
  uint64_t slow_writes = 0;     // write()s with positions that took staging + ON CONFLICT
  uint64_t fenced_writes = 0;   // write()s refused: another reader claimed a partition
};

// The COPY text row (tab-separated, COPY's backslash escapes, \N for NULL, no newline) of
// `r` in result_columns() order, with unsafe values made safe as write() does (counted in
// `stats`). False, `line` untouched, when `r` has no key (scheduled_at outside years
// 1..9999): such a record is not written. Pure; any thread.
bool copy_line(const isitup_record_v1& r, std::string& line, write_stats& stats);

// COPYs `rows` into `table` (a quoted, qualified name with result_columns()) inside `tx`,
// making unsafe values safe as write() does. The benchmark's raw-COPY baseline uses it too.
void copy_into(pqxx::transaction_base& tx, const std::string& table,
               const std::vector<const isitup_record_v1*>& rows, write_stats& stats);

// Claims partitions (pg_offsets.hpp claim) on a session of its own (open_session, migrate),
// not a writer's: no staging table, no partition list. Throws write_failure (retry).
std::vector<claimed_position> claim_on_own_session(const writer_options& o,
                                                   const std::string& group,
                                                   const std::string& topic,
                                                   const std::vector<int32_t>& partitions);
// Hands `loaded` every stored check state and undelivered outbox event (pg_alert.hpp), read on
// a session of its own as claim_on_own_session. Throws write_failure (retry).
void load_alert_state_on_own_session(
    const writer_options& o, const std::function<void(const isitup_alert_state_v1&)>& loaded);

class pg_writer {
 public:
  explicit pg_writer(writer_options options);
  ~pg_writer();
  pg_writer(const pg_writer&) = delete;
  pg_writer& operator=(const pg_writer&) = delete;

  // Connects and migrates if not connected, then writes `rows` in one transaction (more when
  // some are refused for good: those end in the rejects table, see rejects()). Returns when
  // every row is committed. Throws write_failure (retry); after a failure that may have left
  // the session in an unknown state, the next write reconnects.
  void write(const std::vector<const isitup_record_v1*>& rows);
  // The same, with the alert state step (pg_alert.hpp) in the rows' transaction: `states` are
  // the alert states of the batches whose last rows are in `rows`. When some rows are refused
  // for good (the rows go in parts), the states get a transaction of their own after them;
  // when a check's state is refused for good there, it is left out (alert_rejects()).
  void write(const std::vector<const isitup_record_v1*>& rows,
             const std::vector<const isitup_alert_state_v1*>& states);
  // The same, for rows read at `positions` (pg_offsets.hpp): the positions advance in the
  // transaction of the rows and state; when they follow on from the stored ones the rows are
  // COPYed straight into the table (fast path), else written as above (slow path, why in
  // slow_reason()). Throws write_failure(fenced) when another reader claimed a partition: then
  // nothing of the call is stored (rows split off by a data error excepted, which replays
  // leave unchanged).
  void write(const std::vector<const isitup_record_v1*>& rows,
             const std::vector<const isitup_alert_state_v1*>& states,
             const std::vector<batch_position>& positions);
  // Claims partitions (pg_offsets.hpp claim) in a transaction of its own. Throws write_failure.
  std::vector<claimed_position> claim(const std::string& group, const std::string& topic,
                                      const std::vector<int32_t>& partitions);
  // Why the last write() with positions took the slow path (empty: it did not).
  const std::string& slow_reason() const { return slow_reason_; }
  // Connects (and migrates) if needed and hands `loaded` every stored check state and every
  // undelivered outbox event (pg_alert.hpp). Throws write_failure (retry).
  void load_alert_state(const std::function<void(const isitup_alert_state_v1&)>& loaded);
  // Marks deliveries in a transaction of their own. Throws write_failure (retry).
  void mark_delivered(const std::map<std::string, std::vector<std::string>>& marks);
  const alert_counts& alert_stats() const { return alert_counts_; }
  // Checks whose alert state the last write() could not store, each with PostgreSQL's reason.
  const std::vector<std::pair<std::string, std::string>>& alert_rejects() const {
    return alert_rejects_;
  }

  // The partitions the last write() created for its rows (a late or early row, or the first
  // rows of a new interval when none was created ahead).
  const std::vector<std::string>& created_partitions() const { return created_partitions_; }

  // The records the last successful write() rejected (pointing into its rows).
  const std::vector<rejected_record>& rejects() const { return rejects_; }
  // The rejects table, quoted and qualified (empty before the first connection).
  const std::string& rejects_table() const { return rejects_table_; }

  // Connects (and migrates) now if not connected. Throws write_failure.
  void connect();
  bool connected() const { return conn_ != nullptr; }
  void disconnect();
  // The server process id of the current connection (0 when not connected).
  int backend_pid() const { return backend_pid_; }
  const write_stats& stats() const { return stats_; }

 private:
  using states_t = std::vector<const isitup_alert_state_v1*>;
  using positions_t = std::vector<batch_position>;
  void write_once(const isitup_record_v1* const* rows, std::size_t n, const states_t* states,
                  const positions_t* positions, bool& fast);
  void write_part(const isitup_record_v1* const* rows, std::size_t n, const states_t* states);
  // `positions`: advanced first in the transaction; `fast` in: try the fast path, out: taken.
  void transaction(const isitup_record_v1* const* rows, std::size_t n, const states_t* states,
                   const positions_t* positions = nullptr, bool* fast = nullptr);
  // Creates the partitions `rows` need that the writer does not know of (own transaction).
  void cover(const isitup_record_v1* const* rows, std::size_t n);

  writer_options options_;
  std::unique_ptr<pqxx::connection> conn_;
  int backend_pid_ = 0;
  std::string copy_buffer_;  // a piece of a transaction's COPY text, kept for the next
  std::string insert_sql_;
  std::string mark_sql_;
  std::string mark_hours_sql_;  // fast path: the hours given as a parameter
  std::string slow_reason_;
  std::string rejects_table_;
  std::optional<quoted_names> names_;
  std::vector<partition_range> partitions_;  // as last listed or created
  bool partitions_stale_ = false;            // list them again before the next write
  bool partitioned_ = true;                  // false: a plain table (made so by hand)
  std::vector<std::string> created_partitions_;
  alert_counts alert_counts_;
  std::vector<std::pair<std::string, std::string>> alert_rejects_;
  void write_states_each(const states_t& states);
  write_stats stats_;
  std::vector<rejected_record> rejects_;
};

}  // namespace isitup::pg
