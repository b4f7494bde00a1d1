// SIGHUP reload, the slow half: reads and validates the config file and plans the change on a
// thread of its own, so the scheduler never waits for a file (a huge one, a slow disk). The
// agent takes the result on its scheduler thread and applies it there.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <isitup/core/config.hpp>
#include <isitup/core/reload_plan.hpp>

namespace isitup {

class reload_loader {
 public:
  struct result {
    std::optional<config::agent> next;      // nullopt when the file was refused
    std::string error;                      // why it was refused (config_error::what())
    reload_plan plan;                       // against the `running` checks given to start()
    std::vector<std::string> restart_only;  // see restart_only_changes
  };

  // `ready` is called on the loader's thread once a result can be taken (e.g. to wake the
  // scheduler); it must not call back into the loader.
  explicit reload_loader(std::function<void()> ready);
  // Cancels a load in progress (the parse stops within a chunk of text) and waits for it.
  ~reload_loader();
  reload_loader(const reload_loader&) = delete;
  reload_loader& operator=(const reload_loader&) = delete;

  // Loads `running_cfg.file` with `running_cfg.limits` and plans it against `running` (see
  // plan_reload). Both must stay valid and unchanged until the result is taken. False, and
  // nothing started, while a load is in progress or its result has not been taken. One
  // thread (the scheduler's) calls start, take and busy.
  bool start(const config::agent& running_cfg, std::vector<const config::check*> running);
  // The result of the last start(), once it is ready.
  std::optional<result> take();
  // A load was started and its result not taken yet.
  bool busy() const { return started_; }

 private:
  void load(const config::agent& running_cfg, const std::vector<const config::check*>& running);

  std::function<void()> ready_;
  std::atomic<bool> cancel_{false};
  std::thread thread_;
  bool started_ = false;
  std::mutex mu_;
  std::optional<result> result_;  // guarded by mu_
};

}  // namespace isitup
