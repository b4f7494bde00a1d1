#include "pg_maintenance.hpp"

#include <chrono>
#include <stdexcept>

#include "pg_conn_policy.hpp"
#include "pg_rollups.hpp"

namespace isitup::pg {

pg_maintenance::pg_maintenance(maintenance_options options) : options_(std::move(options)) {}

pg_maintenance::~pg_maintenance() = default;

int pg_maintenance::backend_pid() const { return conn_ ? conn_->backendpid() : 0; }

void pg_maintenance::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  if (conn_) {
    try {
      conn_->cancel_query();
    } catch (const std::exception&) {  // nothing running, or the connection is gone
    }
  }
}

void pg_maintenance::connect() {
  if (stopped_) throw std::runtime_error("maintenance stopped");
  if (conn_) return;
  auto c = open_session({options_.conninfo, options_.statement_timeout_ms, 0});
  migrate(*c, options_.names);
  std::lock_guard lock(mu_);
  conn_ = std::move(c);
}

template <class Step>
void pg_maintenance::step(const char* what, maintenance_report& report, Step&& s) {
  try {
    connect();
    s();
  } catch (const std::exception& e) {
    std::string why = e.what();
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    report.skipped.push_back(std::string(what) + ": " + why);
    std::lock_guard lock(mu_);
    conn_.reset();
  }
}

maintenance_report pg_maintenance::run(int64_t now_ms) {
  maintenance_report report;
  connect();
  const quoted_names q(*conn_, options_.names);
  step("moving rows into partitions", report, [&] {
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.move_budget_ms);
    while (!stopped_) {
      pqxx::work tx(*conn_);
      const int64_t moved = move_unpartitioned(tx, options_.names, q,
                                               options_.partition_interval_ms, options_.move_batch);
      tx.commit();
      if (moved < 0) break;
      report.moved += moved;
      if (moved == 0 || std::chrono::steady_clock::now() >= until) break;
    }
    pqxx::read_transaction tx(*conn_);
    report.left_to_move = unpartitioned_estimate(tx, q);
    report.moved_all = report.moved > 0 && report.left_to_move < 0;
  });
  bool partitioned = true;
  step("reading the table's kind", report, [&] {
    pqxx::read_transaction tx(*conn_);
    partitioned = is_partitioned(tx, q);
  });
  if (partitioned)
    step("creating partitions ahead", report, [&] {
      std::vector<int64_t> times;
      for (int i = 0; i <= options_.partitions_ahead; ++i)
        times.push_back(now_ms + i * options_.partition_interval_ms);
      pqxx::work tx(*conn_);
      std::vector<partition_range> parts = list_partitions(tx, q);
      report.created =
          ensure_partitions(tx, options_.names, q, options_.partition_interval_ms, times, parts);
      tx.commit();
    });
  step("rolling up", report, [&] { roll_up(now_ms, report); });
  if (options_.retention_ms > 0 && partitioned)
    step("dropping partitions past retention", report, [&] {
      pqxx::work tx(*conn_);
      report.dropped =
          drop_partitions_before(tx, options_.names, q, now_ms - options_.retention_ms);
      tx.commit();
    });
  return report;
}

void pg_maintenance::roll_up(int64_t now_ms, maintenance_report& report) {
  connect();
  const quoted_names q(*conn_, options_.names);
  const rollup_counts counts =
      roll_up_closed(*conn_, options_.names, q, now_ms, options_.rollup_grace_ms, 24, &stopped_);
  report.hours_rolled_up += counts.hours;
  report.days_rolled_up += counts.days;
  report.rollup_marks_discarded += counts.discarded;
  if (options_.rollup_retention_ms > 0) {
    pqxx::work tx(*conn_);
    report.rollup_rows_deleted +=
        delete_rollups_before(tx, q, now_ms - options_.rollup_retention_ms);
    tx.commit();
  }
}

}  // namespace isitup::pg
