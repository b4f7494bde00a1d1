// Test fixture: runs the development Kafka broker (bin/isitup-kafka-dev, librdkafka's mock
// cluster) as a child process on 127.0.0.1, reads its bootstrap servers, and sends it fault
// commands (see `isitup-kafka-dev --help`). Separate agent processes reach it over TCP exactly
// as they would a real broker.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "process.hpp"

namespace isitup::test {

struct kafka_broker_options {
  int brokers = 1;
  std::vector<std::string> topics;  // "name" or "name:partitions", created at start
  int port = 0;                     // also accept bootstrap connections on 127.0.0.1:port
};

// When cert is set (PEM files): the brokers speak TLS only (isitup-kafka-dev --tls), and with
// client_ca they require a client certificate issued by it.
// With sasl_plain ("user:password") clients must also authenticate with SASL/PLAIN.
struct kafka_tls {
  std::string cert, key, client_ca, sasl_plain = {};
};

class kafka_broker {
 public:
  // Starts the broker and waits (at most 10 s) for its bootstrap line; throws
  // std::runtime_error with its stderr when it does not come.
  explicit kafka_broker(kafka_broker_options options = {}, const kafka_tls& tls = {});
  ~kafka_broker();  // stop()
  kafka_broker(const kafka_broker&) = delete;
  kafka_broker& operator=(const kafka_broker&) = delete;

  // "127.0.0.1:port[,...]": what clients put in bootstrap.servers.
  const std::string& bootstrap() const { return bootstrap_; }
  // Sends one command line and returns its reply line ("ok ..." or "error: ..."); throws
  // std::runtime_error when no reply comes within the timeout.
  std::string command(const std::string& line,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // SIGTERM, then SIGKILL after 5 s. Idempotent.
  void stop();
  bool running();
  std::string log() const;  // the broker's stderr so far

 private:
  std::string read_line(std::chrono::milliseconds timeout);

  temp_dir dir_;
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
  std::string buffered_;
  std::string bootstrap_;
};

// The path of the built isitup-kafka-dev.
std::string kafka_dev_binary();

}  // namespace isitup::test
