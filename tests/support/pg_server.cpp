#include "pg_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "process.hpp"

extern char** environ;

namespace isitup::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path find_bin_dir() {
  if (const char* env = std::getenv("ISITUP_PG_BIN"); env && *env) return env;
  fs::path best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    char* end = nullptr;
    const long v = std::strtol(name.c_str(), &end, 10);
    if (end && *end == '\0' && v > best_version && fs::exists(entry.path() / "bin" / "postgres")) {
      best_version = static_cast<int>(v);
      best = entry.path() / "bin";
    }
  }
  if (best.empty())
    throw std::runtime_error(
        "pg_server: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (install the "
        "postgresql package, or set ISITUP_PG_BIN)");
  return best;
}

// A port on 127.0.0.1 below the ephemeral range that nothing is bound to right now.
int pick_port() {
  int low = 32768;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  range >> low;
  const int hi = std::max(low, 2048) - 1;
  const int lo = std::max(1025, hi - 12000);
  std::mt19937 rng(
      static_cast<unsigned>(getpid()) ^
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::uniform_int_distribution<int> dist(lo, hi);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = dist(rng);
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (free) return port;
  }
  throw std::runtime_error("pg_server: found no free port on 127.0.0.1");
}

// fork + exec `argv`, as uid/gid when switch_user, output appended to `log`. The child gets
// SIGQUIT when the calling thread dies. Everything the child touches is prepared before fork.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& log, bool switch_user, uid_t uid,
            gid_t gid) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string log_path = log.string();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("pg_server: fork: ") + std::strerror(errno));
  if (pid == 0) {
    const int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int in = open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    if (switch_user && (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0))
      _exit(126);
    // After the uid change: changing credentials clears the parent-death signal.
    prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (getppid() != parent) _exit(126);
    execve(args[0], args.data(), environ);
    _exit(127);
  }
  return pid;
}

// Waits for `pid` to exit; returns its exit code, or -1 after killing it on timeout.
int wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    const pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() >= until) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    std::this_thread::sleep_for(20ms);
  }
}

std::string tail_of(const fs::path& file, std::size_t max_bytes) {
  const std::string text = read_file(file);
  return text.size() > max_bytes ? "..." + text.substr(text.size() - max_bytes) : text;
}

}  // namespace

pg_server::pg_server(pg_server_options options) : options_(std::move(options)) {
  bin_ = find_bin_dir();
  switch_user_ = geteuid() == 0;
  if (switch_user_) {
    const passwd* pw = getpwnam("postgres");
    if (!pw) throw std::runtime_error("pg_server: running as root but there is no `postgres` user");
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
  }
  std::string templ = (fs::temp_directory_path() / "isitup-pg-XXXXXX").string();
  if (!mkdtemp(templ.data()))
    throw std::runtime_error(std::string("pg_server: mkdtemp: ") + std::strerror(errno));
  dir_ = templ;
  if (switch_user_ && chown(dir_.c_str(), uid_, gid_) != 0)
    throw std::runtime_error(std::string("pg_server: chown: ") + std::strerror(errno));

  const fs::path init_log = dir_ / "initdb.log";
  const pid_t init =
      spawn({(bin_ / "initdb").string(), "-D", (dir_ / "data").string(), "-A", "trust", "-U",
             "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"},
            init_log, switch_user_, uid_, gid_);
  if (const int code = wait_exit(init, 120s); code != 0) {
    const std::string log = tail_of(init_log, 4000);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw std::runtime_error("pg_server: initdb failed (exit " + std::to_string(code) + "):\n" +
                             log);
  }
  // A port can be taken between the probe and the bind: try a few.
  for (int attempt = 0;; ++attempt) {
    port_ = pick_port();
    try {
      start();
      return;
    } catch (const std::runtime_error&) {
      if (attempt >= 2 || log_tail().find("could not bind") == std::string::npos) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
        throw;
      }
    }
  }
}

pg_server::~pg_server() {
  if (pid_ > 0) kill_server(SIGQUIT, 10s);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string pg_server::conninfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + dbname;
}

std::string pg_server::uri(const std::string& dbname) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + dbname;
}

void pg_server::start() {
  if (pid_ > 0) return;
  const fs::path pid_file = dir_ / "data" / "postmaster.pid";
  std::error_code ec;
  fs::remove(pid_file, ec);  // left by a server killed with SIGKILL
  std::vector<std::string> argv{(bin_ / "postgres").string(),
                                "-D",
                                (dir_ / "data").string(),
                                "-p",
                                std::to_string(port_),
                                "-c",
                                "listen_addresses=127.0.0.1",
                                "-c",
                                "unix_socket_directories=" + dir_.string(),
                                "-c",
                                std::string("fsync=") + (options_.fsync ? "on" : "off"),
                                "-c",
                                "timezone=UTC",
                                "-c",
                                "max_connections=50",
                                "-c",
                                "shared_buffers=64MB"};
  for (const std::string& s : options_.extra) {
    argv.push_back("-c");
    argv.push_back(s);
  }
  pid_ = spawn(argv, dir_ / "server.log", switch_user_, uid_, gid_);
  const auto until = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("pg_server: postgres exited during start-up on port " +
                               std::to_string(port_) + ":\n" + log_tail());
    }
    // postmaster.pid's 8th line is the server's state; "ready" once it accepts connections.
    std::ifstream in(pid_file);
    std::string line;
    for (int i = 0; i < 8 && std::getline(in, line); ++i) {
    }
    if (line.rfind("ready", 0) == 0) return;
    if (std::chrono::steady_clock::now() >= until) {
      kill_server(SIGKILL, 10s);
      throw std::runtime_error("pg_server: postgres did not get ready within 60 s:\n" + log_tail());
    }
    std::this_thread::sleep_for(20ms);
  }
}

void pg_server::stop() {
  if (pid_ <= 0) return;
  kill_server(SIGINT, 60s);  // SIGINT: fast shutdown
}

void pg_server::kill_server(int sig, std::chrono::milliseconds wait) {
  kill(pid_, sig);
  wait_exit(pid_, wait);  // SIGKILLs it after `wait`
  pid_ = -1;
}

std::string pg_server::psql(const std::string& sql, const std::string& dbname) const {
  run_result r =
      run({(bin_ / "psql").string(), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h",
           "127.0.0.1", "-p", std::to_string(port_), "-U", "postgres", "-d", dbname, "-c", sql},
          60s, {"PGCONNECT_TIMEOUT=10", "PGTZ=UTC"});
  if (r.code != 0)
    throw std::runtime_error("psql failed (exit " + std::to_string(r.code) + "): " + r.err +
                             "\nSQL: " + sql);
  return r.out;
}

void pg_server::create_database(const std::string& name) const {
  psql("CREATE DATABASE \"" + name + "\"");
}

std::string pg_server::log_tail(std::size_t max_bytes) const {
  return tail_of(dir_ / "server.log", max_bytes);
}

}  // namespace isitup::test
