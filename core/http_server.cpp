#include <isitup/core/http_server.hpp>

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>
#include <isitup/util/error_text.hpp>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

namespace isitup {

namespace {

constexpr std::string_view content_security_policy =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

// Set on the accepting thread while it runs a connection's task itself: no room, refuse it.
thread_local bool refuse_connection = false;
// When the connection a worker runs was accepted: its head must be in by then + head_timeout,
// however long it waited for the worker.
thread_local std::chrono::steady_clock::time_point accepted_at{};

// Equal in time that depends on the expected text only, never on where `given` differs.
bool same_secret(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const char g = i < given.size() ? given[i] : 0;
    diff |= static_cast<unsigned char>(g ^ expected[i]);
  }
  return diff == 0;
}

void send_and_close(int sock, std::string_view status_line) {
  const std::string text = std::string("HTTP/1.1 ") + std::string(status_line) +
                           "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  [[maybe_unused]] const ssize_t n =
      ::send(sock, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
}

// Worker threads with a bounded wait list. A task beyond the bound runs at once on the
// caller's thread with refuse_connection set, so its socket is answered 503 and closed.
class bounded_pool final : public httplib::TaskQueue {
 public:
  bounded_pool(int workers, std::size_t max_queued) : max_queued_(max_queued) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~bounded_pool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lock(mu_);
      if (!stopping_ && tasks_.size() < max_queued_) {
        tasks_.push_back({std::chrono::steady_clock::now(), std::move(fn)});
        cv_.notify_one();
        return;
      }
    }
    refuse_connection = true;
    accepted_at = std::chrono::steady_clock::now();
    fn();
    refuse_connection = false;
  }

  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

 private:
  void work() {
    for (;;) {
      task t;
      bool refuse = false;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        t = std::move(tasks_.front());
        tasks_.pop_front();
        refuse = stopping_;  // still queued at stop: closed, not served
      }
      refuse_connection = refuse;
      accepted_at = t.accepted;
      t.fn();
      refuse_connection = false;
    }
  }

  const std::size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  struct task {
    std::chrono::steady_clock::time_point accepted;
    std::function<void()> fn;
  };
  std::deque<task> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

http_reply json_error(int status, const std::string& message) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("status");
  w.Int(status);
  w.Key("message");
  w.String(message.c_str(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  w.EndObject();
  return {status, "application/json", std::string(buf.GetString(), buf.GetSize())};
}

namespace {

// One connection's request, read by us with hard deadlines; httplib parses and answers it.
// The head was read whole before (it is served from `head` first); later reads (a body, at
// most 1 KiB) and every write end at their deadline, however slowly the peer trickles.
class bounded_stream final : public httplib::Stream {
 public:
  using clock = std::chrono::steady_clock;
  bounded_stream(int sock, std::string head, clock::time_point read_until,
                 std::chrono::milliseconds write_for)
      : sock_(sock), head_(std::move(head)), read_until_(read_until), write_for_(write_for) {}

  bool is_readable() const override { return at_ < head_.size() || wait(POLLIN, read_until_); }
  bool is_writable() const override { return wait(POLLOUT, write_deadline()); }
  ssize_t read(char* ptr, size_t size) override {
    if (at_ < head_.size()) {
      const std::size_t n = std::min(size, head_.size() - at_);
      std::memcpy(ptr, head_.data() + at_, n);
      at_ += n;
      return static_cast<ssize_t>(n);
    }
    if (!wait(POLLIN, read_until_)) return -1;
    return ::recv(sock_, ptr, size, MSG_DONTWAIT);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!wait(POLLOUT, write_deadline())) return -1;
    return ::send(sock_, ptr, size, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address(true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address(false, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  clock::time_point write_deadline() const {
    if (write_until_ == clock::time_point{}) write_until_ = clock::now() + write_for_;
    return write_until_;
  }
  bool wait(short events, clock::time_point until) const {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()).count();
      if (left <= 0) return false;
      pollfd p{sock_, events, 0};
      const int n = ::poll(&p, 1, static_cast<int>(left));
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return false;
    }
  }
  void address(bool peer, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    ip.clear();
    port = 0;
    if ((peer ? ::getpeername(sock_, reinterpret_cast<sockaddr*>(&a), &len)
              : ::getsockname(sock_, reinterpret_cast<sockaddr*>(&a), &len)) != 0)
      return;
    char text[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
      ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
      port = ntohs(v4->sin_port);
    } else if (a.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
      ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
      port = ntohs(v6->sin6_port);
    }
    ip = text;
  }

  int sock_;
  std::string head_;
  std::size_t at_ = 0;
  clock::time_point read_until_;
  std::chrono::milliseconds write_for_;
  mutable clock::time_point write_until_{};
};

}  // namespace

struct http_server::impl final : httplib::Server {
  impl(config::http_settings s, http_service& svc, http_limits l)
      : settings(std::move(s)), service(svc), limits(l) {}

  // Reads the request head (up to the blank line) into `head` within head_timeout and at
  // most max_head_bytes. Returns nullptr when it is whole, else the status to refuse with.
  const char* read_head(int sock, std::string& head,
                        bounded_stream::clock::time_point deadline) const {
    char buf[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - bounded_stream::clock::now())
                            .count();
      pollfd p{sock, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0)));
      if (ready == 0 && left <= 0) return "408 Request Timeout";
      if (ready < 0 && errno != EINTR) return "400 Bad Request";
      if (ready <= 0) continue;
      const std::size_t room = limits.max_head_bytes - head.size();
      const ssize_t n = ::recv(sock, buf, std::min(room, sizeof buf), MSG_DONTWAIT);
      if (n == 0) return "400 Bad Request";  // closed before a whole head
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        return "400 Bad Request";
      }
      const std::size_t from = head.size() < 3 ? 0 : head.size() - 3;
      head.append(buf, static_cast<std::size_t>(n));
      if (head.find("\r\n\r\n", from) != std::string::npos ||
          head.find("\n\n", from) != std::string::npos)
        return nullptr;
      if (head.size() >= limits.max_head_bytes) return "431 Request Header Fields Too Large";
    }
  }

  bool process_and_close_socket(socket_t sock) override {
    if (refuse_connection) {
      refused_busy.fetch_add(1, std::memory_order_relaxed);
      send_and_close(sock, "503 Service Unavailable");
      return true;
    }
    const auto deadline = accepted_at + limits.head_timeout;
    std::string head;
    if (const char* refused = read_head(sock, head, deadline)) {
      const std::string_view why(refused);
      (why.starts_with("408")   ? refused_timeout
       : why.starts_with("431") ? refused_too_large
                                : refused_bad)
          .fetch_add(1, std::memory_order_relaxed);
      send_and_close(sock, refused);
      return true;
    }
    bounded_stream stream(sock, std::move(head), deadline + limits.io_timeout, limits.io_timeout);
    bool closed = false;
    const bool ok = process_request(stream, true, closed, {});
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  httplib::Server::HandlerResponse route(const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
    http_reply reply;
    if (req.method != "GET" && req.method != "HEAD") {
      res.set_header("Allow", "GET, HEAD");
      reply = json_error(405, "method not allowed: only GET and HEAD");
    } else if (req.path == "/healthz") {
      reply = service.healthz();
    } else if (!settings.token.empty() &&
               !same_secret(req.get_header_value("Authorization"), "Bearer " + settings.token)) {
      res.set_header("WWW-Authenticate", "Bearer");
      reply = json_error(401, "unauthorized: send Authorization: Bearer <agent.http.auth.token>");
    } else if (req.path == "/readyz") {
      reply = service.readyz();
    } else if (req.path == "/metrics") {
      reply = service.metrics();
    } else if (req.path == "/api/v1/checks") {
      reply = service.checks();
    } else if (req.path.rfind("/api/v1/checks/", 0) == 0) {
      reply = service.check(req.path.substr(std::string_view("/api/v1/checks/").size()),
                            req.get_param_value("last"));
    } else if (req.path == "/") {
      reply = service.status_page();
      res.set_header("Content-Security-Policy", std::string(content_security_policy));
    } else {
      reply = json_error(404, "no such path; try /, /metrics, /healthz, /readyz or /api/v1/checks");
    }
    res.status = reply.status;
    res.set_content(reply.body, reply.content_type);  // httplib copies: it has no && overload
    {
      std::lock_guard lock(answered_mu);
      ++answered[reply.status];
    }
    return httplib::Server::HandlerResponse::Handled;
  }

  config::http_settings settings;
  http_service& service;
  http_limits limits;
  std::thread thread;
  std::atomic<uint64_t> refused_busy{0}, refused_timeout{0}, refused_too_large{0}, refused_bad{0};
  mutable std::mutex answered_mu;
  std::map<int, uint64_t> answered;  // a handful of statuses: the service's and ours
};

http_stats http_server::stats() const {
  http_stats s;
  {
    std::lock_guard lock(impl_->answered_mu);
    s.answered = impl_->answered;
  }
  s.refused_busy = impl_->refused_busy.load();
  s.refused_timeout = impl_->refused_timeout.load();
  s.refused_too_large = impl_->refused_too_large.load();
  s.refused_bad = impl_->refused_bad.load();
  return s;
}

http_server::http_server(config::http_settings settings, http_service& service, http_limits limits)
    : impl_(std::make_unique<impl>(std::move(settings), service, limits)) {}

http_server::~http_server() { stop(); }

void http_server::start() {
  impl& s = *impl_;
  const http_limits l = s.limits;
  s.new_task_queue = [l] { return new bounded_pool(l.workers, l.max_queued); };
  const auto io_s = std::chrono::duration_cast<std::chrono::seconds>(l.io_timeout).count();
  s.set_read_timeout(io_s);
  s.set_write_timeout(io_s);
  s.set_keep_alive_max_count(1);
  s.set_payload_max_length(1024);
  s.set_pre_routing_handler(
      [&s](const httplib::Request& req, httplib::Response& res) { return s.route(req, res); });
  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, const std::exception_ptr&) {
        const http_reply r = json_error(500, "internal error");
        res.status = r.status;
        res.set_content(r.body, r.content_type.c_str());
      });
  const std::string& host = s.settings.host;
  if (s.settings.port == 0) {
    port_ = s.bind_to_any_port(host);
  } else {
    port_ = s.bind_to_port(host, s.settings.port) ? s.settings.port : -1;
  }
  if (port_ <= 0) {
    port_ = 0;
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(s.settings.port) +
                             ": " + sdk::error_text(errno));
  }
  s.thread = std::thread([&s] { s.listen_after_bind(); });
  // stop() only stops a server that runs: wait until it does (a moment).
  for (int i = 0; i < 5000 && !s.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  spdlog::info("http: listening on {}:{}{}", shown, port_,
               s.settings.token.empty() ? "" : " (bearer token required but for /healthz)");
  if (!s.settings.loopback && s.settings.token.empty())
    spdlog::warn(
        "http: {}:{} is not a loopback address and agent.http.auth is not set: anyone who can "
        "reach it can read the checks and their results",
        shown, port_);
}

void http_server::stop() {
  impl& s = *impl_;
  if (!s.thread.joinable()) return;
  s.stop();
  s.thread.join();
}

}  // namespace isitup
