// pg_maintainer: pg_sink's maintenance thread. Runs pg_maintenance::run every period (at once
// again while old rows are being moved into partitions) and logs what it did through the
// plugin's host. Started by the sink's I/O thread after its first commit (the database is
// there then); stop() cancels a step in progress and joins. start() and stop() from any one
// thread at a time; the destructor stops.
#pragma once

#include <isitup/plugin.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "pg_maintenance.hpp"

namespace isitup::pg {

class pg_maintainer {
 public:
  pg_maintainer(std::unique_ptr<pg_maintenance> maintenance, const sdk::host& host,
                std::chrono::milliseconds period = std::chrono::minutes(1));
  ~pg_maintainer();
  pg_maintainer(const pg_maintainer&) = delete;
  pg_maintainer& operator=(const pg_maintainer&) = delete;

  void start();  // no-op when running or stopped
  void stop();

 private:
  void run();
  bool stopping();
  void log(const maintenance_report& r);

  std::unique_ptr<pg_maintenance> maintenance_;  // used by the thread (and stop())
  sdk::host host_;
  std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace isitup::pg
