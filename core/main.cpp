// isitup-agent: parses the command line, sets up logging and signals, and hands over to the
// agent. Exit codes: 0 ok, 1 a check was down (--once) or results were not delivered,
// 2 usage or config error.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <limits>
#include <memory>
#include <thread>

#include <isitup/core/config.hpp>
#include <isitup/core/plugin_host.hpp>
#include "agent.hpp"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_down = 1;
constexpr int exit_usage = 2;
constexpr int exit_forced = 130;  // a second stop signal: exit at once, nothing flushed

void set_up_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("isitup");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.resize(width, ' ');
  return s;
}

std::string option_default(const isitup::option_schema& o) {
  if (o.required) return "(required)";
  return o.default_yaml ? *o.default_yaml : "-";
}

void print_options(const char* title, const std::vector<isitup::option_schema>& opts) {
  std::printf("\n%s options:\n", title);
  if (opts.empty()) {
    std::printf("  (none)\n");
    return;
  }
  std::size_t w_name = 4, w_type = 4, w_def = 7;
  for (const auto& o : opts) {
    w_name = std::max(w_name, o.name.size());
    w_type = std::max(w_type, isitup::to_string(o.type).size());
    w_def = std::max(w_def, option_default(o).size());
  }
  std::printf("  %s  %s  %s  %s\n", pad("NAME", w_name).c_str(), pad("TYPE", w_type).c_str(),
              pad("DEFAULT", w_def).c_str(), "DESCRIPTION");
  for (const auto& o : opts)
    std::printf("  %s  %s  %s  %s\n", pad(o.name, w_name).c_str(),
                pad(std::string(isitup::to_string(o.type)), w_type).c_str(),
                pad(option_default(o), w_def).c_str(), o.description.c_str());
}

int describe_plugin(isitup::plugin_host& host, const std::string& name) {
  auto p = host.load(name);
  std::printf("%s %s (plugin ABI %u): %s\nkinds: %s\nfile: %s\n", p->name().c_str(),
              p->version().c_str(), p->abi_version(), p->description().c_str(),
              isitup::kinds_to_string(p->kinds()).c_str(), p->path().c_str());
  if (p->kinds() & ISITUP_KIND_CHECK)
    print_options("check (per check, under options:)", p->check_schema());
  if (p->kinds() & ISITUP_KIND_SINK) print_options("sink", p->sink_schema());
  if (p->kinds() & ISITUP_KIND_SOURCE) print_options("source", p->source_schema());
  if (p->kinds() & ISITUP_KIND_CATALOG) print_options("catalog", p->catalog_schema());
  return exit_ok;
}

int list_plugins(isitup::plugin_host& host) {
  std::printf("plugins in %s:\n", host.dir().c_str());
  const auto all = host.list();
  if (all.empty()) std::printf("  (none)\n");
  std::size_t refused = 0;
  for (const auto& l : all) {
    refused += l.plugin ? 0 : 1;
    if (l.plugin)
      std::printf("  %-16s %-8s ABI %u  %-20s %s\n", l.plugin->name().c_str(),
                  l.plugin->version().c_str(), l.plugin->abi_version(),
                  isitup::kinds_to_string(l.plugin->kinds()).c_str(),
                  l.plugin->description().c_str());
    else
      std::printf("  %-16s refused: %s\n", l.file.c_str(), l.error.c_str());
  }
  // A refused file is an installation problem a script listing plugins should notice.
  return refused == 0 ? exit_ok : exit_usage;
}

// Blocks the stop/reload signals in every thread (call before any thread starts); a watcher
// thread receives them with sigtimedwait.
sigset_t block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return set;
}

// The signal watcher starts before the config is read: a stop signal while it loads (a huge
// file, many checks to prepare) exits at once, as nothing has run yet.
int run_agent(const std::string& config_file, const isitup::config::load_limits& limits,
              isitup::plugin_host& host, bool once, const sigset_t& signals) {
  std::atomic<isitup::agent*> running{nullptr};
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    int stops = 0;
    const timespec tick{0, 200L * 1000 * 1000};
    while (!done.load()) {
      const int sig = sigtimedwait(&signals, nullptr, &tick);
      isitup::agent* a = running.load();
      if (sig == SIGHUP) {
        if (once) {
          spdlog::warn("SIGHUP received: nothing to reload in --once mode; ignored");
        } else if (a == nullptr) {
          spdlog::warn("SIGHUP received while the config is still loading; ignored");
        } else {
          spdlog::info("SIGHUP received: reloading checks from {}", config_file);
          a->request_reload();
        }
      } else if (sig == SIGINT || sig == SIGTERM) {
        if (a == nullptr) {
          spdlog::info("{} received while loading the config: exiting (nothing ran yet)",
                       sigdescr_np(sig));
          std::_Exit(exit_ok);
        }
        if (++stops == 1) {
          spdlog::info("{} received: stopping (send again to exit at once)", sigdescr_np(sig));
          a->request_stop();
        } else {
          spdlog::error("second stop signal: exiting without flushing");
          std::_Exit(exit_forced);
        }
      }
    }
  });
  const auto stop_watcher = [&] {
    done = true;
    watcher.join();
  };
  isitup::run_summary s;
  std::unique_ptr<isitup::agent> a;  // outlives the watcher, which may use it
  try {
    a = std::make_unique<isitup::agent>(isitup::config::load_file(config_file, limits), host);
    running = a.get();
    s = once ? a->run_once() : a->run();
  } catch (...) {
    stop_watcher();
    throw;
  }
  stop_watcher();
  if (!s.delivered) return exit_down;
  return once && s.down > 0 ? exit_down : exit_ok;
}

int agent_main(int argc, char** argv) {
  const sigset_t signals = block_signals();

  CLI::App app{
      "isitup-agent: website availability monitor.\n"
      "Runs the checks in a config on a schedule and sends each result to its sinks."};
  app.set_version_flag("--version", std::string("isitup-agent ") + ISITUP_VERSION +
                                        " (plugin ABI " + std::to_string(ISITUP_ABI_VERSION) + ")");
  std::string config_file, check_config, publish_file, plugins_dir, describe, log_level = "info";
  bool once = false, list = false, dry_run = false;
  isitup::config::load_limits limits;
  auto* cfg_opt = app.add_option("-c,--config", config_file, "Config file (YAML)");
  auto* check_opt =
      app.add_option("--check-config", check_config, "Validate a config file and exit");
  auto* publish_opt = app.add_option(
      "--publish-checks", publish_file,
      "Validate a config file like --check-config, then make its catalog: hold exactly its "
      "checks (prints +added ~changed -removed) and exit");
  app.add_flag("--dry-run", dry_run, "With --publish-checks: count the changes, write nothing")
      ->needs(publish_opt);
  app.add_option("-p,--plugins-dir", plugins_dir,
                 "Directory of plugin .so files (default: the build tree's or the installed one)");
  app.add_flag("--once", once,
               "Run every check once and exit: 0 all up, 1 any down, 2 config error")
      ->needs(cfg_opt);
  auto* list_opt = app.add_flag("--list-plugins", list, "List the plugins found and exit");
  auto* desc_opt =
      app.add_option("--describe-plugin", describe, "Print a plugin's options and exit");
  app.add_option("--max-config-bytes", limits.max_file_bytes,
                 "Largest config file or domains_file accepted, in bytes (default 64 MiB)")
      ->check(CLI::Range(std::size_t{1}, std::numeric_limits<std::size_t>::max() / 4));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  check_opt->excludes(cfg_opt);
  publish_opt->excludes(cfg_opt, check_opt);
  list_opt->excludes(cfg_opt, check_opt, desc_opt, publish_opt);
  desc_opt->excludes(cfg_opt, check_opt, publish_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return exit_usage;
  }
  if (config_file.empty() && check_config.empty() && publish_file.empty() && describe.empty() &&
      !list) {
    std::fprintf(stderr, "isitup-agent: nothing to do: give --config FILE (see --help)\n");
    return exit_usage;
  }
  set_up_logging(log_level);

  try {
    isitup::plugin_host host(plugins_dir.empty() ? isitup::default_plugins_dir()
                                                 : std::filesystem::path(plugins_dir));
    if (list) return list_plugins(host);
    if (!describe.empty()) return describe_plugin(host, describe);
    if (!check_config.empty()) {
      // Nothing to flush here: a stop signal ends a long validation at once, as by default.
      pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
      isitup::config::agent cfg = isitup::config::load_file(check_config, limits);
      const std::size_t checks = cfg.checks.size(), sinks = cfg.sinks.size(),
                        sources = cfg.sources.size();
      isitup::agent validated(std::move(cfg), host);  // creates, starts nothing
      std::printf("%s: OK (%zu checks, %zu sinks, %zu sources)\n", check_config.c_str(), checks,
                  sinks, sources);
      return exit_ok;
    }
    if (!publish_file.empty()) {
      pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
      isitup::agent validated(isitup::config::load_file(publish_file, limits), host);
      const isitup::publish_summary p = validated.publish_checks(dry_run);
      std::printf("%s: +%zu ~%zu -%zu (%zu unchanged)%s\n", publish_file.c_str(), p.added,
                  p.changed, p.removed, p.unchanged, dry_run ? "; dry run: nothing written" : "");
      return exit_ok;
    }
    return run_agent(config_file, limits, host, once, signals);
  } catch (const isitup::config::config_error& e) {
    std::fprintf(stderr, "isitup-agent: %s\n", e.what());
  } catch (const isitup::plugin_error& e) {
    std::fprintf(stderr, "isitup-agent: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isitup-agent: %s\n", e.what());
  }
  return exit_usage;
}

}  // namespace

// No exception leaves main (a failed start-up, e.g. of the logger, is a usage error).
int main(int argc, char** argv) {
  try {
    return agent_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isitup-agent: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "isitup-agent: unknown error\n");
  }
  return exit_usage;
}
