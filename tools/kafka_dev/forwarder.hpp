// A TCP forwarder on 127.0.0.1:port to 127.0.0.1:upstream, on its own thread. Lets clients use
// a fixed bootstrap address although the mock cluster picks its ports at random: a client
// bootstraps through it, then connects to the brokers the metadata names.
#pragma once

#include <atomic>
#include <thread>

namespace isitup::kafka_dev {

class forwarder {
 public:
  // Listens at once; throws std::runtime_error when the port cannot be bound.
  forwarder(int port, int upstream);
  ~forwarder();  // stops the thread and closes every connection
  forwarder(const forwarder&) = delete;
  forwarder& operator=(const forwarder&) = delete;

 private:
  void run();

  int listen_fd_ = -1;
  int upstream_;
  int wake_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace isitup::kafka_dev
