#include "reload_loader.hpp"

namespace isitup {

reload_loader::reload_loader(std::function<void()> ready) : ready_(std::move(ready)) {}

reload_loader::~reload_loader() {
  cancel_ = true;
  if (thread_.joinable()) thread_.join();
}

bool reload_loader::start(const config::agent& running_cfg,
                          std::vector<const config::check*> running) {
  if (started_) return false;
  if (thread_.joinable()) thread_.join();  // the last load, done and taken
  started_ = true;
  thread_ = std::thread(
      [this, &running_cfg, running = std::move(running)] { load(running_cfg, running); });
  return true;
}

void reload_loader::load(const config::agent& running_cfg,
                         const std::vector<const config::check*>& running) {
  result r;
  try {
    config::load_limits limits = running_cfg.limits;
    limits.cancel = &cancel_;
    r.next = config::load_file(running_cfg.file, limits);
    r.restart_only = restart_only_changes(running_cfg, *r.next);
    r.plan = plan_reload(running, r.next->checks);
  } catch (const config::config_error& e) {
    r.next.reset();
    r.error = e.what();
  }
  {
    std::lock_guard lock(mu_);
    result_ = std::move(r);
  }
  ready_();
}

std::optional<reload_loader::result> reload_loader::take() {
  std::lock_guard lock(mu_);
  if (!result_) return std::nullopt;
  started_ = false;
  return std::exchange(result_, std::nullopt);
}

}  // namespace isitup
