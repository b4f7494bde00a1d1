#include "kafka_broker.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace isitup::test {

std::string kafka_dev_binary() { return std::string(ISITUP_BINARY_DIR) + "/bin/isitup-kafka-dev"; }

kafka_broker::kafka_broker(kafka_broker_options options, const kafka_tls& tls) {
  std::vector<std::string> argv{kafka_dev_binary(), "--brokers", std::to_string(options.brokers)};
  for (const std::string& t : options.topics) {
    argv.push_back("--topic");
    argv.push_back(t);
  }
  if (options.port > 0) {
    argv.push_back("--port");
    argv.push_back(std::to_string(options.port));
  }
  if (!tls.cert.empty()) {
    argv.insert(argv.end(), {"--tls", tls.cert, tls.key});
    if (!tls.client_ca.empty()) argv.insert(argv.end(), {"--client-ca", tls.client_ca});
    if (!tls.sasl_plain.empty()) argv.insert(argv.end(), {"--sasl-plain", tls.sasl_plain});
  }
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  const std::string err = (dir_ / "stderr").string();
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  to_child_ = in[1];
  from_child_ = out[0];
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error("cannot start " + argv[0] + ": " + strerror(rc));
  }
  try {
    bootstrap_ = read_line(std::chrono::seconds(10));
  } catch (const std::exception& e) {
    stop();
    throw std::runtime_error(std::string("isitup-kafka-dev did not start: ") + e.what() + ": " +
                             read_file(dir_ / "stderr"));
  }
  if (bootstrap_.rfind("127.0.0.1:", 0) != 0)
    throw std::runtime_error("isitup-kafka-dev printed an unexpected first line: " + bootstrap_);
}

kafka_broker::~kafka_broker() { stop(); }

std::string kafka_broker::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (const auto nl = buffered_.find('\n'); nl != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("no reply from isitup-kafka-dev in time");
    pollfd p{from_child_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(from_child_, buf, sizeof buf);
    if (n <= 0) throw std::runtime_error("isitup-kafka-dev closed its stdout");
    buffered_.append(buf, static_cast<size_t>(n));
  }
}

std::string kafka_broker::command(const std::string& line, std::chrono::milliseconds timeout) {
  const std::string text = line + "\n";
  if (write(to_child_, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    throw std::runtime_error("cannot write to isitup-kafka-dev");
  return read_line(timeout);
}

bool kafka_broker::running() {
  if (pid_ <= 0) return false;
  int st;
  if (waitpid(pid_, &st, WNOHANG) == 0) return true;
  pid_ = -1;  // exited (and reaped)
  return false;
}

void kafka_broker::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int st;
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      gone = waitpid(pid_, &st, WNOHANG) == pid_;
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!gone) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &st, 0);
    }
    pid_ = -1;
  }
  if (to_child_ >= 0) close(to_child_);
  if (from_child_ >= 0) close(from_child_);
  to_child_ = from_child_ = -1;
}

std::string kafka_broker::log() const { return read_file(dir_ / "stderr"); }

}  // namespace isitup::test
