#include "pg_writer.hpp"

#include "pg_conn_policy.hpp"
#include "pg_copy_text.hpp"
#include "pg_rollups.hpp"

#include <libpq-fe.h>
#include <isitup/util/civil_time.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <optional>
#include <pqxx/pqxx>
#include <pqxx/tablewriter>
#include <string_view>
#include <vector>

namespace isitup::pg {
namespace {

constexpr const char* staging = "pg_temp.isitup_staging";

bool conflict(const std::string& sqlstate) { return sqlstate.rfind("40", 0) == 0; }

// "493012,493013": the distinct UTC hours (since 1970) of the rows' scheduled_at.
std::string hours_of(const isitup_record_v1* const* rows, std::size_t n) {
  std::vector<int64_t> hours;
  hours.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int64_t ms = rows[i]->scheduled_at_ms;
    hours.push_back(ms >= 0 ? ms / 3'600'000 : -((-ms + 3'599'999) / 3'600'000));
  }
  std::sort(hours.begin(), hours.end());
  hours.erase(std::unique(hours.begin(), hours.end()), hours.end());
  std::string out;
  for (int64_t h : hours) {
    if (!out.empty()) out += ',';
    out += std::to_string(h);
  }
  return out;
}

std::string trimmed(std::string what) {
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
  return what;
}

// A writer keeps its COPY buffer between transactions up to this size (a row too long for a
// piece makes it grow).
constexpr std::size_t max_kept_buffer = std::size_t{8} << 20;
// The COPY text is sent in pieces of about this size, each as soon as it is formatted: the
// server parses and inserts rows while the next ones are formatted. (One buffer for the whole
// transaction, ~1.3 MB for 5,000 rows, left the server idle until the last row was formatted,
// and libpqxx copied it once more to add the final newline.)
constexpr std::size_t copy_piece = std::size_t{64} << 10;

// The rows formatted into `text` piece by piece (pg_copy_text.hpp), each piece sent as one
// COPY write as soon as it is full; no COPY when no row has a key.
void copy_rows(pqxx::transaction_base& tx, const std::string& table,
               const isitup_record_v1* const* rows, std::size_t n, write_stats& stats,
               std::string& text) {
  const std::vector<std::string>& columns = result_columns();
  // libpqxx 6.4's one public raw COPY write (stream_to's is private); its constructors are
  // marked deprecated in favour of stream_to, which formats and sends row by row.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  std::optional<pqxx::tablewriter> copy;
#pragma GCC diagnostic pop
  text.reserve(copy_piece + 4096);
  for (std::size_t i = 0; i < n;) {
    text.clear();
    while (i < n && text.size() < copy_piece) append_copy_rows(rows + i++, 1, text, stats);
    if (text.empty()) break;  // the last rows had no key
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    if (!copy) copy.emplace(tx, table, columns.begin(), columns.end());
#pragma GCC diagnostic pop
    text.pop_back();  // write_raw_line ends the piece's last row
    copy->write_raw_line(text);
  }
  if (copy) copy->complete();
}

}  // namespace

namespace detail {

std::string iso_time(int64_t ms) {
  std::string text = sdk::utc_text(ms);
  return text.empty() ? std::to_string(ms) + " ms after 1970" : text;
}

}  // namespace detail

void copy_into(pqxx::transaction_base& tx, const std::string& table,
               const std::vector<const isitup_record_v1*>& rows, write_stats& stats) {
  std::string text;
  copy_rows(tx, table, rows.data(), rows.size(), stats, text);
}

pg_writer::pg_writer(writer_options options) : options_(std::move(options)) {}

pg_writer::~pg_writer() = default;

void pg_writer::disconnect() {
  conn_.reset();
  backend_pid_ = 0;
}

void pg_writer::connect() {
  if (conn_) return;
  try {
    // A writer stalled inside a transaction (a stopped process) holds its partitions'
    // position rows: the server ends it, so the next owner's claim goes through.
    auto c = open_session(
        {options_.conninfo, options_.statement_timeout_ms, options_.statement_timeout_ms});
    migrate(*c, options_.names);
    const quoted_names q(*c, options_.names);
    {
      pqxx::nontransaction tx(*c);
      tx.exec(std::string("CREATE TEMP TABLE isitup_staging (LIKE ") + q.table +
              ") ON COMMIT DELETE ROWS");
    }
    std::string cols;
    for (const std::string& col : result_columns()) {
      if (!cols.empty()) cols += ", ";
      cols += col;
    }
    insert_sql_ = "INSERT INTO " + q.table + " (" + cols + ") SELECT " + cols + " FROM " + staging +
                  " ORDER BY agent, check_name, scheduled_at ON CONFLICT DO NOTHING";
    rejects_table_ = q.rejects;
    mark_sql_ = mark_staged_hours_sql(q);
    mark_hours_sql_ = "INSERT INTO " + q.rollup_todo +
                      " (length, bucket) SELECT 'hour', to_timestamp(h * 3600) FROM"
                      " unnest(string_to_array($1, ',')::bigint[]) h";
    names_ = q;
    {
      pqxx::read_transaction tx(*c);
      partitions_ = list_partitions(tx, q);
      partitions_stale_ = false;
      partitioned_ = is_partitioned(tx, q);
    }
    backend_pid_ = c->backendpid();
    conn_ = std::move(c);
  } catch (const pqxx::sql_error& e) {
    throw write_failure(write_failure::kind::retry,
                        std::string("setting up the database failed: ") + e.what());
  } catch (const std::exception& e) {
    throw write_failure(write_failure::kind::retry,
                        std::string("cannot connect to PostgreSQL: ") + e.what());
  }
}

void pg_writer::write(const std::vector<const isitup_record_v1*>& rows) { write(rows, {}, {}); }

void pg_writer::write(const std::vector<const isitup_record_v1*>& rows,
                      const std::vector<const isitup_alert_state_v1*>& states) {
  write(rows, states, {});
}

std::vector<claimed_position> pg_writer::claim(const std::string& group, const std::string& topic,
                                               const std::vector<int32_t>& partitions) {
  try {
    connect();
    pqxx::work tx(*conn_);
    std::vector<claimed_position> out = pg::claim(tx, *names_, group, topic, partitions);
    tx.commit();
    return out;
  } catch (const write_failure&) {
    throw;
  } catch (const std::exception& e) {
    disconnect();
    throw write_failure(write_failure::kind::retry,
                        "claiming partitions failed: " + trimmed(e.what()));
  }
}

void pg_writer::write(const std::vector<const isitup_record_v1*>& rows,
                      const std::vector<const isitup_alert_state_v1*>& states,
                      const std::vector<batch_position>& positions) {
  slow_reason_.clear();
  rejects_.clear();
  alert_rejects_.clear();
  created_partitions_.clear();
  // A scheduled_at the results table cannot hold is no key: refused before any SQL.
  std::vector<const isitup_record_v1*> keyed;
  keyed.reserve(rows.size());
  // Rows older than the retention are not stored: their partition may already be dropped,
  // and storing one would make it again, holding that row alone (and its hour's rollup would
  // be computed again from it).
  const int64_t oldest = options_.retention_ms > 0
                             ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                       .count() -
                                   options_.retention_ms
                             : std::numeric_limits<int64_t>::min();
  for (const isitup_record_v1* r : rows) {
    if (r->scheduled_at_ms < oldest && detail::storable_time(r->scheduled_at_ms))
      ++stats_.past_retention;
    else if (detail::storable_time(r->scheduled_at_ms))
      keyed.push_back(r);
    else
      rejects_.push_back({r, "22008",
                          "scheduled_at is outside the years 1 to 9999 the results "
                          "table can store"});
  }
  const states_t* with = states.empty() ? nullptr : &states;
  const positions_t* at = positions.empty() ? nullptr : &positions;
  bool fast = at != nullptr;
  if (!keyed.empty()) {
    try {  // the usual case: positions, rows and state in one transaction
      transaction(keyed.data(), keyed.size(), with, at, &fast);
      with = nullptr;
      at = nullptr;
    } catch (const pqxx::sql_error& e) {
      // Idempotent parts from here on; the positions go with the state, after them.
      if (fast) slow_reason_ = "a record PostgreSQL refuses (SQLSTATE " + e.sqlstate() + ")";
      fast = false;
      if (keyed.size() == 1) {
        rejects_.push_back({keyed[0], e.sqlstate(), trimmed(e.what())});
      } else {
        write_part(keyed.data(), keyed.size() / 2, nullptr);
        write_part(keyed.data() + keyed.size() / 2, keyed.size() - keyed.size() / 2, nullptr);
      }
    }
  }
  if (with || at) {
    bool slow = false;
    try {
      transaction(nullptr, 0, with, at, &slow);
    } catch (const pqxx::sql_error&) {
      if (at) transaction(nullptr, 0, nullptr, at, &slow);
      if (with) write_states_each(*with);  // a check PostgreSQL cannot store: the others are
    }
  }
  if (!positions.empty() && !keyed.empty()) ++(fast ? stats_.fast_writes : stats_.slow_writes);
  if (!rejects_.empty()) {
    try {
      connect();
      store_rejects(*conn_, rejects_table_, rejects_, options_.to_json);
    } catch (const write_failure&) {
      throw;
    } catch (const std::exception& e) {
      disconnect();
      throw write_failure(write_failure::kind::retry,
                          "storing rejected records failed: " + trimmed(e.what()));
    }
  }
  stats_.rows += rows.size();
  stats_.rejected += rejects_.size();
}

void pg_writer::write_part(const isitup_record_v1* const* rows, std::size_t n,
                           const states_t* states) {
  try {
    transaction(rows, n, states);
  } catch (const pqxx::sql_error& e) {
    // A permanent data error: split until the records that cause it are alone.
    if (n == 1) {
      rejects_.push_back({rows[0], e.sqlstate(), trimmed(e.what())});
      return;
    }
    write_part(rows, n / 2, nullptr);
    write_part(rows + n / 2, n - n / 2, nullptr);
  }
}

void pg_writer::transaction(const isitup_record_v1* const* rows, std::size_t n,
                            const states_t* states, const positions_t* positions, bool* fast) {
  bool no_fast = false;
  bool& try_fast = fast ? *fast : no_fast;
  // Concurrent writers inserting the same keys can deadlock or conflict: try again at once,
  // a few times, before handing the rows back.
  for (int attempt = 1;; ++attempt) {
    try {
      connect();
      if (n > 0 && partitioned_) cover(rows, n);
      write_once(rows, n, states, positions, try_fast);
      return;
    } catch (const write_failure&) {
      throw;
    } catch (const fenced_error& e) {
      ++stats_.fenced_writes;  // rolled back: nothing of it is stored
      throw write_failure(write_failure::kind::fenced, e.what());
    } catch (const pqxx::sql_error& e) {
      const std::string& state = e.sqlstate();
      // The fast path met a row that is there already (a result produced twice, a row
      // written without positions): this batch goes the slow way.
      if (try_fast && state == "23505") {
        try_fast = false;
        slow_reason_ = "a row of the batch is stored already (SQLSTATE 23505)";
        continue;
      }
      // A partition this writer believed in was dropped (retention, by hand): list them again.
      if (state == "23514" &&
          std::string_view(e.what()).find("no partition of relation") != std::string_view::npos) {
        partitions_stale_ = true;
        if (attempt < 3) continue;
      }
      if (permanent_data_error(state)) throw;
      if (conflict(state) && attempt < 3) continue;
      if (!conflict(state)) disconnect();
      throw write_failure(write_failure::kind::retry,
                          trimmed(e.what()) + " (SQLSTATE " + state + ")");
    } catch (const std::exception& e) {
      // Connection lost, commit outcome unknown, anything else: start over on a new session.
      disconnect();
      throw write_failure(write_failure::kind::retry, trimmed(e.what()));
    }
  }
}

void pg_writer::cover(const isitup_record_v1* const* rows, std::size_t n) {
  if (partitions_stale_) {
    pqxx::read_transaction tx(*conn_);
    partitions_ = list_partitions(tx, *names_);
    partitions_stale_ = false;
  }
  std::vector<int64_t> missing;
  for (std::size_t i = 0; i < n; ++i)
    if (!covered(partitions_, rows[i]->scheduled_at_ms))
      missing.push_back(rows[i]->scheduled_at_ms);
  if (missing.empty()) return;
  partitions_stale_ = true;  // until the commit: the list may name partitions rolled back
  pqxx::work tx(*conn_);
  std::vector<std::string> created = ensure_partitions(
      tx, options_.names, *names_, options_.partition_interval_ms, missing, partitions_);
  tx.commit();
  partitions_stale_ = false;
  created_partitions_.insert(created_partitions_.end(), created.begin(), created.end());
}

void pg_writer::write_once(const isitup_record_v1* const* rows, std::size_t n,
                           const states_t* states, const positions_t* positions, bool& fast) {
  write_stats s;
  alert_counts a;
  uint64_t inserted = 0;
  pqxx::work tx(*conn_);
  // libpqxx may silently reconnect between transactions; the staging table would be gone.
  if (conn_->backendpid() != backend_pid_)
    throw pqxx::broken_connection("the connection was re-established; setting up again");
  // Step 0: the positions, first (their rows' locks order this transaction against a claim).
  if (positions) fast = advance(tx, *names_, *positions, fast, slow_reason_);
  if (n > 0 && fast) {  // step 1, fast path: nothing of these rows can be stored yet
    copy_rows(tx, names_->table, rows, n, s, copy_buffer_);
    inserted = n;
    tx.exec_params(mark_hours_sql_, hours_of(rows, n));  // for the rollups (pg_rollups.hpp)
  } else if (n > 0) {                                    // step 1: the rows
    copy_rows(tx, staging, rows, n, s, copy_buffer_);
    inserted = static_cast<uint64_t>(tx.exec(insert_sql_).affected_rows());
    if (inserted > 0) tx.exec(mark_sql_);  // their hours, for the rollups (pg_rollups.hpp)
  }
  if (states) write_alert_state(tx, *names_, *states, a);  // step 2: their alert state
  if (copy_buffer_.capacity() > max_kept_buffer) std::string().swap(copy_buffer_);
  tx.commit();
  alert_counts_.states += a.states;
  alert_counts_.events += a.events;
  stats_.inserted += inserted;
  stats_.invalid_values += s.invalid_values;
  stats_.repaired_text += s.repaired_text;
}

}  // namespace isitup::pg

namespace isitup::pg {

void pg_writer::write_states_each(const states_t& states) {
  try {
    connect();
    pqxx::work tx(*conn_);
    alert_counts a;
    // A savepoint per check, set by hand: libpqxx 6.4's subtransaction sends its SAVEPOINT only
    // when its first statement goes through exec(), and write_alert_state uses exec_params, so
    // the first refused check aborted the whole transaction and every check after it failed.
    for (const std::string& check : checks_in(states)) {
      tx.exec("SAVEPOINT isitup_check");
      try {
        write_alert_state(tx, *names_, states, a, &check);
        tx.exec("RELEASE SAVEPOINT isitup_check");
      } catch (const pqxx::sql_error& e) {
        if (!permanent_data_error(e.sqlstate())) throw;
        tx.exec("ROLLBACK TO SAVEPOINT isitup_check");
        alert_rejects_.emplace_back(check, trimmed(e.what()) + " (SQLSTATE " + e.sqlstate() + ")");
      }
    }
    tx.commit();
    alert_counts_.states += a.states;
    alert_counts_.events += a.events;
  } catch (const write_failure&) {
    throw;
  } catch (const std::exception& e) {
    disconnect();
    throw write_failure(write_failure::kind::retry,
                        "storing the alert state failed: " + trimmed(e.what()));
  }
}

std::vector<claimed_position> claim_on_own_session(const writer_options& o,
                                                   const std::string& group,
                                                   const std::string& topic,
                                                   const std::vector<int32_t>& partitions) {
  try {
    auto c = open_session({o.conninfo, o.statement_timeout_ms, o.statement_timeout_ms});
    migrate(*c, o.names);
    const quoted_names q(*c, o.names);
    pqxx::work tx(*c);
    std::vector<claimed_position> out = pg::claim(tx, q, group, topic, partitions);
    tx.commit();
    return out;
  } catch (const std::exception& e) {
    throw write_failure(write_failure::kind::retry,
                        "claiming partitions failed: " + trimmed(e.what()));
  }
}

void load_alert_state_on_own_session(
    const writer_options& o, const std::function<void(const isitup_alert_state_v1&)>& loaded) {
  try {
    auto c = open_session({o.conninfo, o.statement_timeout_ms, o.statement_timeout_ms});
    migrate(*c, o.names);
    const quoted_names q(*c, o.names);
    pqxx::read_transaction tx(*c);
    pg::load_alert_state(tx, q, loaded);
  } catch (const std::exception& e) {
    throw write_failure(write_failure::kind::retry,
                        "reading the alert state failed: " + trimmed(e.what()));
  }
}

void pg_writer::load_alert_state(const std::function<void(const isitup_alert_state_v1&)>& loaded) {
  try {
    connect();
    pqxx::read_transaction tx(*conn_);
    pg::load_alert_state(tx, *names_, loaded);
  } catch (const write_failure&) {
    throw;
  } catch (const std::exception& e) {
    disconnect();
    throw write_failure(write_failure::kind::retry,
                        "reading the alert state failed: " + trimmed(e.what()));
  }
}

void pg_writer::mark_delivered(const std::map<std::string, std::vector<std::string>>& marks) {
  try {
    connect();
    pqxx::work tx(*conn_);
    pg::mark_delivered(tx, *names_, marks);
    tx.commit();
  } catch (const write_failure&) {
    throw;
  } catch (const std::exception& e) {
    disconnect();
    throw write_failure(write_failure::kind::retry,
                        "marking events delivered failed: " + trimmed(e.what()));
  }
}

}  // namespace isitup::pg
