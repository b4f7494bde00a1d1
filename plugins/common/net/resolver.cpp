#include "net/resolver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>

#include <algorithm>
#include <stdexcept>

namespace isitup::net {

namespace detail {

struct channel {
  resolver* owner;
  uint32_t index;
  ares_channel ch = nullptr;
  int pending = 0;  // queries in flight on this channel
};

struct lookup {
  resolver* owner;
  channel* ch;
  std::string key;  // cache key: resolver, '|', family mode, host
  resolver::family mode;
  std::string name;
  std::vector<resolver::request*> waiters;  // null: cancelled
};

// After an NXDOMAIN, the zone's SOA is asked for in the background to learn how long the
// answer may be kept; the requests waiting for the name have their answer already.
struct soa_probe {
  resolver* owner;
  int* pending;     // the channel's count of queries in flight
  std::string key;  // cache key
};

}  // namespace detail

namespace {

constexpr auto max_cache_ttl = std::chrono::hours(1);
// Negative answers are kept for the zone's SOA minimum (RFC 2308) but never longer than
// this: a monitor should notice soon when a missing name appears.
constexpr int max_negative_ttl_s = 60;

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Skips a (possibly compressed) domain name; returns the offset after it, or -1.
int skip_name(const unsigned char* buf, int len, int at) {
  while (at < len) {
    const unsigned char l = buf[at];
    if (l == 0) return at + 1;
    if ((l & 0xc0) == 0xc0) return at + 2 <= len ? at + 2 : -1;
    at += 1 + l;
  }
  return -1;
}

// An NXDOMAIN answer's negative TTL (RFC 2308 section 5): min(SOA TTL, SOA MINIMUM) of the
// SOA record in the authority section, capped; -1 when the answer has none.
int negative_ttl(const unsigned char* buf, int len) {
  if (!buf || len < 12 || (buf[3] & 0x0f) != 3) return -1;
  const int qd = (buf[4] << 8) | buf[5], an = (buf[6] << 8) | buf[7], ns = (buf[8] << 8) | buf[9];
  int at = 12;
  for (int i = 0; i < qd && at >= 0; ++i) {
    at = skip_name(buf, len, at);
    if (at >= 0) at += 4;
  }
  for (int i = 0; i < an + ns && at >= 0; ++i) {
    at = skip_name(buf, len, at);
    if (at < 0 || at + 10 > len) return -1;
    const int type = (buf[at] << 8) | buf[at + 1];
    const uint32_t ttl = be32(buf + at + 4);
    const int rdlen = (buf[at + 8] << 8) | buf[at + 9];
    const int rdata = at + 10;
    at = rdata + rdlen;
    if (at > len) return -1;
    if (i < an || type != 6) continue;
    int p = skip_name(buf, len, rdata);      // MNAME
    if (p >= 0) p = skip_name(buf, len, p);  // RNAME
    if (p < 0 || p + 20 > at) return -1;
    const uint32_t minimum = be32(buf + p + 16);  // after serial, refresh, retry, expire
    return static_cast<int>(std::min<uint32_t>({ttl, minimum, max_negative_ttl_s}));
  }
  return -1;
}

}  // namespace

std::string dns_error(int status) {
  switch (status) {
    case ARES_ENOTFOUND:
      return "no such host (NXDOMAIN)";
    case ARES_ENODATA:
      return "no address";
    case ARES_ESERVFAIL:
      return "DNS server failure (SERVFAIL)";
    case ARES_EREFUSED:
      return "DNS query refused";
    case ARES_ETIMEOUT:
      return "DNS query timed out";
    case ARES_ECONNREFUSED:
      // c-ares tried every server: each failed (SERVFAIL, REFUSED) or could not be reached.
      return "no DNS server answered (SERVFAIL, REFUSED or unreachable)";
    default:
      return std::string("DNS lookup failed: ") + ares_strerror(status);
  }
}

resolver::resolver(sdk::host host, int epoll_fd, uint32_t tag_base)
    : host_(host), epoll_fd_(epoll_fd), tag_base_(tag_base) {
  static const int init = ares_library_init(ARES_LIB_INIT_ALL);
  if (init != ARES_SUCCESS) throw std::runtime_error("ares_library_init failed");
}

resolver::~resolver() {
  destroying_ = true;
  for (auto& c : channels_) ares_destroy(c->ch);  // callbacks see ARES_EDESTRUCTION
  for (auto& [key, l] : lookups_) delete l;
}

resolver::channel* resolver::channel_for(const std::string& servers_csv) {
  if (auto it = channel_by_key_.find(servers_csv); it != channel_by_key_.end()) return it->second;
  auto c = std::make_unique<channel>();
  c->owner = this;
  c->index = static_cast<uint32_t>(channels_.size());
  ares_options opts{};
  opts.sock_state_cb = &resolver::on_sock_state;
  opts.sock_state_cb_data = c.get();
  opts.timeout = 1000;
  opts.tries = 3;
  opts.ndomains = 0;  // names are absolute: no search domains
  opts.domains = nullptr;
  const int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS;
  if (int rc = ares_init_options(&c->ch, &opts, mask); rc != ARES_SUCCESS) {
    host_.log(sdk::level::error, std::string("c-ares init failed: ") + ares_strerror(rc));
    return nullptr;
  }
  if (!servers_csv.empty()) {
    if (int rc = ares_set_servers_ports_csv(c->ch, servers_csv.c_str()); rc != ARES_SUCCESS) {
      host_.log(sdk::level::error, "dns_servers " + servers_csv + ": " + ares_strerror(rc));
      ares_destroy(c->ch);
      return nullptr;
    }
  }
  channel* out = c.get();
  channels_.push_back(std::move(c));
  channel_by_key_.emplace(servers_csv, out);
  return out;
}

void resolver::resolve(request& r, const std::string& servers_csv, family f,
                       const std::string& name) {
  cancel(r);
  std::string key = servers_csv;
  key += '|';
  key += static_cast<char>(f);
  key += name;
  const clock::time_point now = clock::now();
  if (auto it = cache_.find(key); it != cache_.end()) {
    if (it->second.expires > now) {
      outcome o;
      o.cached = true;
      if (it->second.nxdomain) {
        o.error = "no such host (NXDOMAIN, cached)";
      } else {
        o.ok = true;
        o.found = &it->second.addrs;
      }
      r.resolved(o);
      return;
    }
    cache_.erase(it);
  }
  if (auto it = lookups_.find(key); it != lookups_.end()) {
    it->second->waiters.push_back(&r);
    r.waiting_ = it->second;
    return;
  }
  channel* ch = channel_for(servers_csv);
  if (!ch) {
    outcome o;
    o.error = "no usable DNS resolver (see the agent log)";
    r.resolved(o);
    return;
  }
  auto* l = new detail::lookup{this, ch, key, f, name, {&r}};
  r.waiting_ = l;
  lookups_.emplace(key, l);
  ++ch->pending;
  ares_addrinfo_hints hints{};
  hints.ai_family = f == family::any ? AF_UNSPEC : f == family::v4 ? AF_INET : AF_INET6;
  hints.ai_flags = ARES_AI_NOSORT;  // sorting connects a UDP socket per address
  // The callback may run before ares_getaddrinfo returns (hosts file, bad name).
  ares_getaddrinfo(ch->ch, name.c_str(), nullptr, &hints, &resolver::on_result, l);
}

void resolver::cancel(request& r) {
  if (!r.waiting_) return;
  for (auto& waiter : r.waiting_->waiters)
    if (waiter == &r) waiter = nullptr;
  r.waiting_ = nullptr;
}

void resolver::on_result(void* arg, int status, int, ares_addrinfo* ai) {
  auto* l = static_cast<detail::lookup*>(arg);
  resolver* self = l->owner;
  --l->ch->pending;
  if (self->destroying_ || status == ARES_EDESTRUCTION) {
    // The destructor frees lookups still in the map.
    if (ai) ares_freeaddrinfo(ai);
    return;
  }
  self->lookup_done(l, status, ai);
  if (ai) ares_freeaddrinfo(ai);
}

void resolver::lookup_done(detail::lookup* l, int status, ares_addrinfo* ai) {
  lookups_.erase(l->key);
  std::unique_ptr<detail::lookup> owned(l);
  const clock::time_point now = clock::now();
  cache_entry entry;
  int ttl = 0x7fffffff;
  if (status == ARES_SUCCESS && ai) {
    for (const ares_addrinfo_node* n = ai->nodes; n; n = n->ai_next) {
      char text[INET6_ADDRSTRLEN] = "";
      if (n->ai_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(n->ai_addr)->sin_addr, text,
                  sizeof text);
        entry.addrs.v4.emplace_back(text);
      } else if (n->ai_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(n->ai_addr)->sin6_addr, text,
                  sizeof text);
        entry.addrs.v6.emplace_back(text);
      } else {
        continue;
      }
      ttl = std::min(ttl, n->ai_ttl);
    }
    if (ttl > 0 && (!entry.addrs.v4.empty() || !entry.addrs.v6.empty())) {
      entry.expires = now + std::min<clock::duration>(std::chrono::seconds(ttl), max_cache_ttl);
      cache_put(l->key, entry, now);
    }
  } else if (status == ARES_ENOTFOUND) {
    auto* probe = new detail::soa_probe{this, &l->ch->pending, l->key};
    ++l->ch->pending;
    ares_query(l->ch->ch, l->name.c_str(), 1 /* IN */, 6 /* SOA */, &resolver::on_soa_result,
               probe);
  }
  outcome o;
  if (status != ARES_SUCCESS) {
    o.error = dns_error(status);
    if (status == ARES_ENODATA && l->mode != family::any)
      o.error = std::string("no ") + (l->mode == family::v4 ? "IPv4" : "IPv6") + " address";
  } else {
    o.ok = true;
    o.found = &entry.addrs;
  }
  // A callback may cancel or finish other waiters: each is taken from the list before it runs.
  for (size_t i = 0; i < l->waiters.size(); ++i) {
    request* r = l->waiters[i];
    if (!r) continue;  // cancelled meanwhile
    l->waiters[i] = nullptr;
    r->waiting_ = nullptr;
    r->resolved(o);
  }
}

void resolver::cache_put(const std::string& key, cache_entry entry, clock::time_point now) {
  if (cache_.size() >= cache_sweep_at_) {
    std::erase_if(cache_, [&](const auto& kv) { return kv.second.expires <= now; });
    cache_sweep_at_ = std::max<size_t>(1024, cache_.size() * 2);
  }
  cache_[key] = std::move(entry);
}

void resolver::on_soa_result(void* arg, int status, int, unsigned char* abuf, int alen) {
  std::unique_ptr<detail::soa_probe> probe(static_cast<detail::soa_probe*>(arg));
  resolver* self = probe->owner;
  --*probe->pending;
  if (self->destroying_ || status == ARES_EDESTRUCTION) return;
  const int ttl = status == ARES_ENOTFOUND ? negative_ttl(abuf, alen) : -1;
  if (ttl <= 0) return;
  cache_entry e;
  e.nxdomain = true;
  const clock::time_point now = clock::now();
  e.expires = now + std::chrono::seconds(ttl);
  self->cache_put(probe->key, std::move(e), now);
}

void resolver::on_event(uint32_t tag, int fd, uint32_t ev) {
  const bool readable = ev & (EPOLLIN | EPOLLERR | EPOLLHUP);
  ares_process_fd(channels_[tag - tag_base_]->ch, readable ? fd : ARES_SOCKET_BAD,
                  (ev & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
}

void resolver::process_timeouts() {
  for (const auto& c : channels_)
    if (c->pending > 0) ares_process_fd(c->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

resolver::clock::time_point resolver::next_wake(clock::time_point now,
                                                clock::time_point wake) const {
  for (const auto& c : channels_) {
    if (c->pending == 0) continue;
    timeval max{1, 0}, tv{};
    const timeval* t = ares_timeout(c->ch, &max, &tv);
    const auto at = now + std::chrono::seconds(t->tv_sec) + std::chrono::microseconds(t->tv_usec);
    if (at < wake) wake = at;
  }
  return wake;
}

void resolver::on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
  auto* c = static_cast<channel*>(data);
  epoll_event ev{};
  ev.data.u64 = (uint64_t{c->owner->tag_base_ + c->index} << 32) | static_cast<uint32_t>(fd);
  ev.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
  const int epfd = c->owner->epoll_fd_;
  if (!readable && !writable) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
  } else if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) != 0) {
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  }
}

}  // namespace isitup::net
