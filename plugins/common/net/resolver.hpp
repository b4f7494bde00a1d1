// An asynchronous host-name resolver for a plugin's event loop: c-ares channels (one per
// distinct DNS server list) whose sockets live on the caller's epoll, one lookup shared by
// every request waiting for the same name, and a cache that keeps answers for their TTL (at
// most an hour) and NXDOMAIN answers for the zone's SOA minimum (at most a minute).
//
// Threads: every call on the caller's loop thread (construction and destruction may happen on
// another thread while the loop is not running).
// The caller owns the epoll set and dispatches to this class the events whose tag (the high
// 32 bits of epoll_event.data.u64; the low 32 bits are the fd) is owned by it (owns_tag), and
// calls process_timeouts() on every turn of its loop, sleeping no longer than next_wake().
//
// Ownership: a request is the caller's (usually a member of its per-run state); between
// resolve() and its callback it must stay alive or be cancel()ed. The callback runs at most
// once, on the loop thread, possibly inside resolve() (cache hit, bad resolver). The
// destructor drops every lookup in flight without calling back.
#pragma once

#include <ares.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <isitup/plugin.hpp>

namespace isitup::net {

namespace detail {
struct channel;
struct lookup;
struct soa_probe;
}  // namespace detail

class resolver {
 public:
  using clock = std::chrono::steady_clock;
  // Which addresses a lookup asks for: A, AAAA, or both.
  enum class family : char { v4 = '4', v6 = '6', any = 'a' };

  struct addresses {
    std::vector<std::string> v4, v6;  // textual, in the order of the answer
  };

  struct outcome {
    bool ok = false;
    const addresses* found = nullptr;  // ok: the answer (valid during the callback; either list
                                       // may be empty when the name has no such address)
    std::string error;    // not ok: e.g. "no such host (NXDOMAIN)"; the caller adds the host
    bool cached = false;  // answered from the cache
  };

  // What a caller embeds in its per-run state to wait for an answer.
  class request {
   public:
    virtual ~request() = default;
    // Loop thread; the request may be destroyed from inside.
    virtual void resolved(const outcome& o) = 0;

   private:
    friend class resolver;
    detail::lookup* waiting_ = nullptr;
  };

  // `epoll_fd` is the caller's; channel i's sockets are registered with tag `tag_base + i`.
  resolver(sdk::host host, int epoll_fd, uint32_t tag_base);
  ~resolver();
  resolver(const resolver&) = delete;
  resolver& operator=(const resolver&) = delete;

  // Looks `name` up on the servers `servers_csv` ("ip" or "ip:port", comma-separated, as
  // ares_set_servers_ports_csv takes; empty: the system's resolv.conf). `name` is absolute
  // (no search domains).
  void resolve(request& r, const std::string& servers_csv, family f, const std::string& name);
  // Stops waiting (no callback). No effect when `r` is not waiting.
  void cancel(request& r);

  bool owns_tag(uint32_t tag) const { return tag - tag_base_ < channels_.size(); }
  void on_event(uint32_t tag, int fd, uint32_t epoll_events);
  void process_timeouts();
  // The earlier of `wake` and when c-ares next needs process_timeouts().
  clock::time_point next_wake(clock::time_point now, clock::time_point wake) const;

 private:
  using channel = detail::channel;
  struct cache_entry {
    addresses addrs;
    clock::time_point expires;
    bool nxdomain = false;  // a negative answer (RFC 2308), kept for a short time
  };

  channel* channel_for(const std::string& servers_csv);
  void lookup_done(detail::lookup* l, int status, ares_addrinfo* ai);
  void cache_put(const std::string& key, cache_entry entry, clock::time_point now);
  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable);
  static void on_result(void* arg, int status, int timeouts, ares_addrinfo* ai);
  static void on_soa_result(void* arg, int status, int timeouts, unsigned char* abuf, int alen);

  sdk::host host_;
  int epoll_fd_;
  uint32_t tag_base_;
  bool destroying_ = false;
  std::vector<std::unique_ptr<channel>> channels_;
  std::unordered_map<std::string, channel*> channel_by_key_;
  std::unordered_map<std::string, detail::lookup*> lookups_;
  std::unordered_map<std::string, cache_entry> cache_;
  size_t cache_sweep_at_ = 1024;
};

// Why a lookup failed, in words (for c-ares status codes other than ARES_SUCCESS).
std::string dns_error(int ares_status);

}  // namespace isitup::net
