// The syscall floor of a fresh-connection HTTP check: a bare epoll loop in this process that
// does only what the lean engine must per check (socket, connect, one edge-triggered
// epoll_ctl, send, recv, close, and its share of epoll_wait) against nginx, with no parsing,
// scheduling or results. Its CPU per connection is the least any agent can spend here.
#pragma once

#include <string>
#include <vector>

struct floor_result {
  double rate = 0;                 // connections completed per second
  double user_us = 0, sys_us = 0;  // this thread's CPU per connection
  double switches = 0;             // this thread's context switches per connection
};

// `in_flight` connections open at once (each closed one is replaced at once).
floor_result syscall_floor(const std::vector<std::string>& addresses, int port, int seconds,
                           int in_flight = 200);
