#include "pg_maintainer.hpp"

#include <string>

#include "pg_partitions.hpp"
#include "pg_rejects.hpp"

namespace isitup::pg {

pg_maintainer::pg_maintainer(std::unique_ptr<pg_maintenance> maintenance, const sdk::host& host,
                             std::chrono::milliseconds period)
    : maintenance_(std::move(maintenance)), host_(host), period_(period) {}

pg_maintainer::~pg_maintainer() { stop(); }

void pg_maintainer::start() {
  std::lock_guard lock(mu_);
  if (stop_ || thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void pg_maintainer::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (!thread_.joinable()) return;
  maintenance_->stop();  // cancels a statement in progress; the thread ends at once
  thread_.join();
}

bool pg_maintainer::stopping() {
  std::lock_guard lock(mu_);
  return stop_;
}

void pg_maintainer::run() {
  using namespace std::chrono;
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    bool again = false;
    try {
      const int64_t now =
          duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
      const maintenance_report r = maintenance_->run(now);
      if (stopping()) return;  // a cancelled step is no news
      log(r);
      again = r.left_to_move >= 0 && r.skipped.empty();
    } catch (const std::exception& e) {
      if (stopping()) return;
      host_.log(sdk::level::warn, std::string("maintenance skipped: ") + e.what());
    }
    lock.lock();
    cv_.wait_for(lock, again ? milliseconds(0) : period_, [&] { return stop_; });
  }
}

void pg_maintainer::log(const maintenance_report& r) {
  if (r.moved > 0)
    host_.log(sdk::level::info,
              "migration 6: moved " + std::to_string(r.moved) + " rows into partitions" +
                  (r.moved_all ? std::string(", all rows moved, old table dropped")
                               : ", about " + std::to_string(r.left_to_move) + " left"));
  for (const std::string& name : r.created)
    host_.log(sdk::level::info, "created partition " + name + " ahead");
  for (const partition_range& p : r.dropped)
    host_.log(sdk::level::info, "dropped partition " + p.name + " (" + detail::iso_time(p.from_ms) +
                                    " to " + detail::iso_time(p.to_ms) + "): past retention");
  if (r.rollup_rows_deleted > 0)
    host_.log(sdk::level::info, "deleted " + std::to_string(r.rollup_rows_deleted) +
                                    " rollup rows past rollup_retention");
  for (const std::string& why : r.skipped)
    host_.log(sdk::level::warn, "maintenance step failed (tried again later): " + why);
}

}  // namespace isitup::pg
