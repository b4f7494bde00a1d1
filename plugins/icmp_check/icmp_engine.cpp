// icmp_check's event loop (icmp_engine.hpp) and the verdict on a run.
#include "icmp_engine.hpp"

#include <arpa/inet.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <isitup/util/error_text.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

namespace isitup::icmp {

struct engine::run : net::resolver::request {
  explicit run(sdk::completion d) : done(std::move(d)) {}
  engine* owner = nullptr;
  std::shared_ptr<const ping_config> config;
  std::chrono::milliseconds timeout{0};
  sdk::completion done;
  clock::time_point started{}, deadline{}, next_send{};
  std::multimap<clock::time_point, run*>::iterator timer;
  bool timer_set = false;
  bool resolving = false;
  double dns_ms = ISITUP_ABSENT_MS;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  bool v6 = false;
  std::string ip;
  int sent = 0;
  int send_failures = 0;
  std::string send_error;
  std::vector<double> rtts;
  std::vector<uint16_t> in_flight;  // sequence numbers of requests without a reply yet

  void resolved(const net::resolver::outcome& o) override { owner->resolved(this, o); }
};

namespace {

constexpr uint32_t own_tag = 0;       // epoll tag of the wake fd and the ICMP sockets
constexpr uint32_t resolver_tag = 1;  // the resolver's channels: 1, 2, ...
constexpr int max_packets_per_turn = 1024;

uint64_t tagged(uint32_t tag, int fd) { return (uint64_t{tag} << 32) | static_cast<uint32_t>(fd); }

double ms_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string ping_group_range() {
  std::ifstream in("/proc/sys/net/ipv4/ping_group_range");
  std::string lo, hi;
  if (!(in >> lo >> hi)) return "unreadable";
  return lo + " " + hi;
}

std::string fixed3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string extra_json(const ping_summary& s, const char* socket_kind, size_t packet_size) {
  auto ms = [](double v) { return v < 0 ? std::string("null") : fixed3(v); };
  return "{\"packets_sent\":" + std::to_string(s.sent) +
         ",\"packets_received\":" + std::to_string(s.received) +
         ",\"loss_percent\":" + fixed3(s.loss_percent) + ",\"rtt_min_ms\":" + ms(s.min_ms) +
         ",\"rtt_avg_ms\":" + ms(s.avg_ms) + ",\"rtt_max_ms\":" + ms(s.max_ms) +
         ",\"rtt_stddev_ms\":" + ms(s.stddev_ms) +
         ",\"packet_size\":" + std::to_string(packet_size) + ",\"socket\":\"" + socket_kind + "\"}";
}

}  // namespace

engine::engine(sdk::host host) : host_(host), received_(65536) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    throw std::runtime_error(std::string("icmp_check: cannot set up its event loop: ") +
                             sdk::error_text(errno));
  }
  std::random_device rd;
  token_ = (uint64_t{rd()} << 32) | rd();
  open_socket(v4_, false);
  open_socket(v6_, true);
  for (int fd : {wake_fd_, v4_.fd, v6_.fd}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tagged(own_tag, fd);
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  resolver_ = std::make_unique<net::resolver>(host_, epoll_fd_, resolver_tag);
  thread_ = std::thread([this] { loop(); });
}

engine::~engine() {
  stopping_ = true;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  thread_.join();
  // The loop has ended: the runs left are abandoned without completing (destroy()'s contract).
  for (run* r : runs_) {
    if (r->resolving) resolver_->cancel(*r);
    delete r;
  }
  for (run* r : incoming_) delete r;
  resolver_.reset();
  for (int fd : {v4_.fd, v6_.fd, epoll_fd_, wake_fd_})
    if (fd >= 0) close(fd);
}

void engine::open_socket(icmp_socket& s, bool v6) {
  s.v6 = v6;
  const int family = v6 ? AF_INET6 : AF_INET;
  const int proto = v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP};
  s.fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (s.fd >= 0) return;
  const int dgram_errno = errno;
  s.fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (s.fd >= 0) {
    s.raw = true;
    s.id = static_cast<uint16_t>(token_);
    // Only echo replies reach the socket (a raw socket otherwise sees every ICMP packet).
    if (v6) {
      icmp6_filter f;
      ICMP6_FILTER_SETBLOCKALL(&f);
      ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
      setsockopt(s.fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
    } else {
      icmp_filter f{~(1u << ICMP_ECHOREPLY)};
      setsockopt(s.fd, SOL_RAW, ICMP_FILTER, &f, sizeof f);
    }
    return;
  }
  const int raw_errno = errno;
  if (dgram_errno == EAFNOSUPPORT && raw_errno == EAFNOSUPPORT) {
    s.error = "IPv6 is not available on this host";
    return;
  }
  s.error = std::string(
                "cannot send ICMP echo requests: an unprivileged ICMP socket was "
                "refused (") +
            sdk::error_text(dgram_errno) + "; the sysctl net.ipv4.ping_group_range is \"" +
            ping_group_range() + "\" and must include the agent's group id " +
            std::to_string(getgid()) + ") and a raw socket was refused (" +
            sdk::error_text(raw_errno) + "; it needs the capability CAP_NET_RAW)";
}

void engine::submit(std::shared_ptr<const ping_config> config, std::chrono::milliseconds timeout,
                    sdk::completion done) {
  auto* r = new run(std::move(done));
  r->owner = this;
  r->config = std::move(config);
  r->timeout = timeout;
  {
    std::lock_guard lock(incoming_mu_);
    incoming_.push_back(r);
  }
  // Only a loop blocked in epoll_wait needs the eventfd; an awake one takes the run itself.
  if (sleeping_.exchange(false)) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
}

void engine::loop() {
  epoll_event events[64];
  while (!stopping_) {
    const auto now = clock::now();
    auto wake = now + std::chrono::seconds(1);
    if (!timers_.empty()) wake = std::min(wake, timers_.begin()->first);
    wake = resolver_->next_wake(now, wake);
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
    // Announce the sleep before looking for incoming runs: a run submitted after the look
    // sees the flag and wakes the loop.
    sleeping_.store(true);
    {
      std::lock_guard lock(incoming_mu_);
      if (!incoming_.empty()) wait = 0;
    }
    const int n = epoll_wait(epoll_fd_, events, 64, static_cast<int>(std::max<int64_t>(0, wait)));
    sleeping_.store(false);
    for (int i = 0; i < n; ++i) {
      const auto tag = static_cast<uint32_t>(events[i].data.u64 >> 32);
      const int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
      if (tag != own_tag) {
        if (resolver_->owns_tag(tag)) resolver_->on_event(tag, fd, events[i].events);
      } else if (fd == wake_fd_) {
        uint64_t v;
        (void)!read(wake_fd_, &v, sizeof v);
      } else {
        receive(fd == v4_.fd ? v4_ : v6_);
      }
    }
    if (stopping_) break;
    resolver_->process_timeouts();
    take_incoming();
    fire_timers(clock::now());
  }
}

void engine::take_incoming() {
  std::vector<run*> taken;
  {
    std::lock_guard lock(incoming_mu_);
    taken.swap(incoming_);
  }
  for (run* r : taken) begin(r);
}

void engine::begin(run* r) {
  runs_.insert(r);
  r->started = clock::now();
  r->deadline = r->started + r->timeout;
  set_timer(r, r->deadline);
  const ping_config& c = *r->config;
  if (c.literal) {
    net::resolver::addresses a;
    (c.literal_v6 ? a.v6 : a.v4).push_back(c.host);
    net::resolver::outcome o;
    o.ok = true;
    o.found = &a;
    resolved(r, o);  // may finish the run
    return;
  }
  r->resolving = true;
  const auto family = c.fallback
                          ? net::resolver::family::any
                          : (c.prefer_v6 ? net::resolver::family::v6 : net::resolver::family::v4);
  resolver_->resolve(*r, c.dns_servers, family, c.host);  // may call back (and finish) inside
}

void engine::resolved(run* r, const net::resolver::outcome& o) {
  r->resolving = false;
  const ping_config& c = *r->config;
  if (!c.literal) r->dns_ms = ms_between(r->started, clock::now());
  if (!o.ok) {
    r->send_error = o.error + " for " + c.host;
    return finish(r);
  }
  const auto& first = c.prefer_v6 ? o.found->v6 : o.found->v4;
  const auto& second = c.prefer_v6 ? o.found->v4 : o.found->v6;
  const bool use_first = !first.empty() || !c.fallback || second.empty();
  const auto& list = use_first ? first : second;
  if (list.empty()) {
    r->send_error = std::string("no ") + (c.prefer_v6 ? "IPv6" : "IPv4") + " address for " + c.host;
    return finish(r);
  }
  r->ip = list.front();
  r->v6 = use_first ? c.prefer_v6 : !c.prefer_v6;
  if (c.literal) r->v6 = c.literal_v6;
  if (!unavailable(r->v6).empty()) {
    r->send_error = unavailable(r->v6);
    return finish(r);
  }
  if (r->v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&r->addr);
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, r->ip.c_str(), &a->sin6_addr);
    r->addr_len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&r->addr);
    a->sin_family = AF_INET;
    inet_pton(AF_INET, r->ip.c_str(), &a->sin_addr);
    r->addr_len = sizeof *a;
  }
  r->next_send = clock::now();
  send_probe(r);
}

void engine::send_probe(run* r) {
  icmp_socket& s = r->v6 ? v6_ : v4_;
  const auto now = clock::now();
  const uint32_t serial = ++serial_;
  ++r->sent;
  if (auto seq = s.probes.add(r, serial, now)) {
    build_echo(packet_, r->v6, s.id, *seq, token_, serial, r->config->packet_size);
    if (sendto(s.fd, packet_.data(), packet_.size(), 0, reinterpret_cast<sockaddr*>(&r->addr),
               r->addr_len) == static_cast<ssize_t>(packet_.size())) {
      r->in_flight.push_back(*seq);
    } else {
      ++r->send_failures;
      r->send_error = std::string("cannot send to ") + r->ip + ": " + sdk::error_text(errno);
      s.probes.remove(*seq, r);
    }
  } else {
    ++r->send_failures;
    r->send_error = "65536 echo requests in flight on one socket";
  }
  if (r->sent < r->config->count) {
    r->next_send += r->config->interval;
    set_timer(r, std::min(r->next_send, r->deadline));
  } else if (r->in_flight.empty()) {
    finish(r);  // every request has its answer, or failed to go out
  } else {
    set_timer(r, r->deadline);
  }
}

void engine::receive(icmp_socket& s) {
  for (int i = 0; i < max_packets_per_turn; ++i) {
    const ssize_t n = recv(s.fd, received_.data(), received_.size(), 0);
    if (n < 0) return;  // EAGAIN: read everything there was
    const auto now = clock::now();
    const auto reply =
        parse_echo_reply(received_.data(), static_cast<size_t>(n), s.v6, s.raw && !s.v6);
    if (!reply || reply->token != token_ || (s.raw && reply->id != s.id)) continue;
    const auto probe = s.probes.take(reply->seq, reply->serial);
    if (!probe) continue;  // late, duplicate or foreign
    run* r = static_cast<run*>(probe->run);
    r->rtts.push_back(ms_between(probe->sent_at, now));
    std::erase(r->in_flight, reply->seq);
    if (r->sent == r->config->count && r->in_flight.empty()) finish(r);
  }
}

void engine::set_timer(run* r, clock::time_point at) {
  if (r->timer_set) timers_.erase(r->timer);
  r->timer = timers_.emplace(at, r);
  r->timer_set = true;
}

void engine::fire_timers(clock::time_point now) {
  while (!timers_.empty() && timers_.begin()->first <= now) {
    run* r = timers_.begin()->second;
    timers_.erase(timers_.begin());
    r->timer_set = false;
    if (now >= r->deadline)
      finish(r);
    else if (!r->resolving && r->sent < r->config->count)
      send_probe(r);
    else
      set_timer(r, r->deadline);
  }
}

void engine::finish(run* r) {
  if (r->timer_set) timers_.erase(r->timer);
  if (r->resolving) resolver_->cancel(*r);
  icmp_socket& s = r->v6 ? v6_ : v4_;
  for (uint16_t seq : r->in_flight) s.probes.remove(seq, r);
  const ping_config& c = *r->config;
  sdk::result res = sdk::result::ok();
  res.ip = r->ip;
  res.dns_ms = r->dns_ms;
  if (r->sent == 0) {
    const bool timed_out = r->send_error.empty();
    res = sdk::result::down(timed_out ? "timeout" : (r->ip.empty() ? "dns" : "connect"),
                            timed_out ? "no address for " + c.host + " within " +
                                            std::to_string(r->timeout.count()) + " ms"
                                      : r->send_error);
    res.ip = r->ip;
    res.dns_ms = r->dns_ms;
  } else {
    const ping_summary sum = summarize(static_cast<uint32_t>(r->sent), r->rtts);
    res.extra_json = extra_json(sum, socket_kind(r->v6), c.packet_size);
    if (sum.received > 0) res.total_ms = sum.avg_ms;
    if (sum.loss_percent > c.max_loss_percent) {
      res.up = false;
      if (r->send_failures == r->sent) {
        res.error_kind = "connect";
        res.error_message = r->send_error;
      } else {
        res.error_kind = "packet_loss";
        res.error_message = std::to_string(sum.sent - sum.received) + " of " +
                            std::to_string(sum.sent) + " echo requests to " + r->ip +
                            " got no reply (" + percent(sum.loss_percent) + "% loss; at most " +
                            percent(c.max_loss_percent) + "% allowed)";
        if (r->send_failures) res.error_message += "; " + r->send_error;
      }
    }
  }
  runs_.erase(r);
  r->done(res);
  delete r;
}

}  // namespace isitup::icmp
