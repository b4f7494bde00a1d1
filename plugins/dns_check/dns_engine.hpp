// dns_check's engine: one event-loop thread per plugin instance runs every query of the
// instance. It drives c-ares channels (one per server set and transport, shared by every check
// that asks the same servers the same way) on one epoll, so no thread is created per check.
// Queries are sent with ares_send and ARES_FLAG_NOCHECKRESP: c-ares hands back every reply as
// it came (SERVFAIL and REFUSED included) and retries a truncated UDP reply over TCP itself.
//
// Contract: submit() may be called from any thread and returns at once; each submitted run
// completes exactly once, on the loop thread, within its timeout (plus loop latency), unless
// the engine is destroyed first: the destructor stops the loop and drops every run still in
// flight without completing it.
#pragma once

#include <ares.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <isitup/plugin.hpp>

#include "dns_config.hpp"

namespace isitup::dns {

class engine {
 public:
  using clock = std::chrono::steady_clock;

  explicit engine(sdk::host host);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Asks `query` once; `done` is called within `timeout`. Any thread.
  void submit(std::shared_ptr<const dns_query> query, std::chrono::milliseconds timeout,
              sdk::completion done);

  // Queries sent to c-ares at most at once; further runs wait (their timeout running).
  static constexpr int64_t max_in_flight = 4096;

 private:
  struct job;
  struct channel;

  void loop();
  int next_timeout_ms();
  void take_incoming();
  void pump_queue();
  void send(job* j);
  void expire(clock::time_point now);
  void finish(job* j, const sdk::result& r);
  channel* channel_for(const dns_query& q, std::chrono::milliseconds timeout, std::string& error);
  void replied(job* j, int status, int timeouts, const unsigned char* abuf, int alen);
  static void on_reply(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable);

  sdk::host host_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> sleeping_{false};  // the loop is (about to be) blocked in epoll_wait

  std::mutex incoming_mu_;
  std::vector<job*> incoming_;

  // Loop thread only from here on.
  std::vector<job*> queue_;  // waiting for a slot, oldest first
  size_t queue_head_ = 0;
  int64_t in_flight_ = 0;                             // sent to c-ares and not yet called back
  std::multimap<clock::time_point, job*> deadlines_;  // runs without a result yet
  std::unordered_map<std::string, std::unique_ptr<channel>> channels_;
  std::unordered_map<int, channel*> channel_by_fd_;

  std::thread thread_;  // last: started when everything above exists
};

}  // namespace isitup::dns
