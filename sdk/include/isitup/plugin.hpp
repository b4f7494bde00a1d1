// isitup plugin SDK: a header-only C++ wrapper over the C ABI in plugin.h.
//
// An author writes a class and one ISITUP_PLUGIN(...) line; this header builds the C
// descriptor and function tables, and catches every exception at the boundary (a throwing
// constructor becomes a config error, a throwing run() becomes a down result of kind
// "internal"). Completion handles (completion, batch_done) complete exactly once: a second
// call does nothing, a handle destroyed unused reports for itself (internal / retry), and an
// exception reports only while the plugin has not kept or called its handle. Nothing here
// links against the agent.
//
//   class tcp_check : public isitup::sdk::blocking_check {
//    public:
//     tcp_check(const isitup::sdk::host& h, const isitup::sdk::check_spec& spec);  // throw to
//     reject isitup::sdk::result run(const isitup::sdk::run_info& run) override;          // may
//     block
//   };
//   ISITUP_PLUGIN(isitup::sdk::plugin_def("tcp_check", "1.0.0", "TCP connect check")
//                     .check<tcp_check>({}))
#pragma once

#include <isitup/plugin.h>
#include <isitup/record.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace isitup::sdk {

enum class status : uint32_t { ok = ISITUP_OK, retry = ISITUP_RETRY, error = ISITUP_ERROR };

enum class level : uint32_t {
  trace = ISITUP_LOG_TRACE,
  debug = ISITUP_LOG_DEBUG,
  info = ISITUP_LOG_INFO,
  warn = ISITUP_LOG_WARN,
  error = ISITUP_LOG_ERROR
};

// A declared option: {"port", ISITUP_OPT_INT, "443", "TCP port when the target has none"}.
struct option {
  const char* name;
  isitup_option_type type;
  const char* default_value;  // YAML text, or nullptr
  const char* description;
  bool required = false;
};

// Read-only view of validated options. Valid as long as the object it was handed to.
class options_view {
 public:
  options_view(const isitup_host_v1* h, const isitup_options* o) : h_(h), o_(o) {}
  bool is_set(const char* name) const { return h_->opt_is_set(o_, name) != 0; }
  std::string string(const char* name) const {
    const char* s = h_->opt_string(o_, name);
    return s ? std::string(s) : std::string();
  }
  bool has_value(const char* name) const { return h_->opt_string(o_, name) != nullptr; }
  int64_t integer(const char* name) const { return h_->opt_int(o_, name); }
  double number(const char* name) const { return h_->opt_float(o_, name); }
  bool boolean(const char* name) const { return h_->opt_bool(o_, name) != 0; }
  std::chrono::milliseconds duration(const char* name) const {
    return std::chrono::milliseconds(h_->opt_duration_ms(o_, name));
  }
  std::vector<std::string> list(const char* name) const {
    std::vector<std::string> out(h_->opt_list_size(o_, name));
    for (size_t i = 0; i < out.size(); ++i) out[i] = h_->opt_list_item(o_, name, i);
    return out;
  }
  std::vector<std::pair<std::string, std::string>> map(const char* name) const {
    std::vector<std::pair<std::string, std::string>> out(h_->opt_map_size(o_, name));
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = {h_->opt_map_key(o_, name, i), h_->opt_map_value(o_, name, i)};
    return out;
  }
  const isitup_options* raw() const { return o_; }

 private:
  const isitup_host_v1* h_;
  const isitup_options* o_;
};

// The host's services for one plugin instance. Cheap to copy; valid until the instance is
// destroyed. Every member may be called from any thread.
class host {
 public:
  host(const isitup_host_v1* h, isitup_host_ctx* ctx) : h_(h), ctx_(ctx) {}
  void log(level lv, std::string_view message) const {
    std::string s(message);
    h_->log(ctx_, static_cast<uint32_t>(lv), s.c_str());
  }
  void counter_add(const char* name, int64_t delta) const { h_->counter_add(ctx_, name, delta); }
  // Sources only: see isitup_host_v1.source_partitions (nothing when the host is older).
  void source_partitions(uint32_t change, const int32_t* partitions, size_t count) const {
    if (h_->struct_size >= offsetof(isitup_host_v1, source_partitions) + sizeof(void*) &&
        h_->source_partitions)
      h_->source_partitions(ctx_, change, partitions, count);
  }
  // Sources only: see isitup_host_v1.submit.
  status submit(const isitup_record_v1* const* records, size_t count, uint64_t token) const {
    return static_cast<status>(h_->submit(ctx_, records, count, token));
  }
  // Sources only: see isitup_host_v1.submit_at (an older host gets a plain submit).
  status submit_at(const isitup_record_v1* const* records, size_t count, uint64_t token,
                   const isitup_positions_v1* positions) const {
    if (has(offsetof(isitup_host_v1, submit_at)) && h_->submit_at)
      return static_cast<status>(h_->submit_at(ctx_, records, count, token, positions));
    return submit(records, count, token);
  }
  // Sources only: see isitup_host_v1.submit_parsed. status::ok: the host owns the records
  // (an older host gets them as views through submit_at, and they are freed here); otherwise
  // they are still the caller's.
  status submit_parsed(isitup_parsed_record* const* records, size_t count, uint64_t token,
                       const isitup_positions_v1* positions) const {
    if (has(offsetof(isitup_host_v1, submit_parsed)) && h_->submit_parsed)
      return static_cast<status>(h_->submit_parsed(ctx_, records, count, token, positions));
    std::vector<const isitup_record_v1*> views(count);
    for (size_t i = 0; i < count; ++i) views[i] = h_->record_view(records[i]);
    const status s = submit_at(views.data(), count, token, positions);
    if (s == status::ok)
      for (size_t i = 0; i < count; ++i) h_->record_free(records[i]);
    return s;
  }
  // Sources only: see isitup_host_v1.claim_positions. An older host: status::retry, items as
  // they were, `err` says why.
  status claim_positions(isitup_positions_v1& claim, int64_t timeout_ms, std::string& err) const {
    if (!has(offsetof(isitup_host_v1, claim_positions)) || !h_->claim_positions) {
      err = "the agent keeps no positions";
      return status::retry;
    }
    char buf[512] = "";
    const auto s =
        static_cast<status>(h_->claim_positions(ctx_, &claim, timeout_ms, buf, sizeof buf));
    err = buf;
    return s;
  }
  // The v1 JSON encoding of a record (no newline).
  std::string to_json(const isitup_record_v1& r) const {
    std::string out(512, '\0');
    size_t n = h_->record_to_json(&r, out.data(), out.size());
    if (n >= out.size()) {
      out.resize(n + 1);
      n = h_->record_to_json(&r, out.data(), out.size());
    }
    out.resize(n);
    return out;
  }
  const isitup_host_v1* raw() const { return h_; }
  isitup_host_ctx* ctx() const { return ctx_; }

 private:
  bool has(size_t member_offset) const { return h_->struct_size >= member_offset + sizeof(void*); }
  const isitup_host_v1* h_;
  isitup_host_ctx* ctx_;
};

// The outcome of one check run (fields in record.hpp's sdk::result_fields); owns its strings.
struct result : result_fields {
  static result ok() {
    result r;
    r.up = true;
    return r;
  }
  static result down(std::string kind, std::string message) {
    result r;
    r.error_kind = std::move(kind);
    r.error_message = std::move(message);
    return r;
  }
  // A C view pointing into this object; an up result carries no error kind or message.
  isitup_record_v1 view() const {
    isitup_record_v1 v;
    isitup_record_init(&v);
    write_to(v);
    if (up) v.error_kind = v.error_message = nullptr;
    return v;
  }
};

struct check_spec {
  std::string name;
  std::string target;
  std::chrono::milliseconds interval;
  std::chrono::milliseconds timeout;
  options_view options;  // the check's `options:`; valid for the life of the check object
};

struct run_info {
  int64_t scheduled_at_ms;  // when this run was due, Unix epoch ms
  std::chrono::milliseconds timeout;
};

// The simple path. One object per configured check, built by T(const host&, const
// check_spec&) (throw std::exception to reject the config); run() is called on a host worker
// thread, may block up to run.timeout, and is never called twice at once on one object.
class blocking_check {
 public:
  virtual ~blocking_check() = default;
  virtual result run(const run_info& run) = 0;
};

namespace detail {

// Which of a completion handle and the wrapper call that created it reports for a handle
// destroyed without being called: while the plugin's function runs, the wrapper does (with
// the exception's message, if one was thrown); after it returned, the handle itself does.
struct handle_state {
  static constexpr unsigned in_call = 1, dropped = 2;
  std::atomic<unsigned> bits{in_call};
};

// True on a thread inside a plugin's destroy()/release() wrapper: a handle destroyed there
// is abandoned silently, as the ABI's destroy() contract asks.
inline bool& destroying() {
  thread_local bool d = false;
  return d;
}

// Runs `f` with destroying() set.
template <class F>
void destroy_quietly(F&& f) noexcept {
  const bool before = std::exchange(destroying(), true);
  f();
  destroying() = before;
}

// The move-only core of completion and batch_done: a C completion called at most once.
template <class Fn>
class once_handle {
 public:
  once_handle(Fn fn, void* ctx, std::shared_ptr<handle_state> st = nullptr)
      : fn_(fn), ctx_(ctx), st_(std::move(st)) {}
  once_handle(once_handle&& o) noexcept
      : fn_(std::exchange(o.fn_, nullptr)), ctx_(o.ctx_), st_(std::move(o.st_)) {}
  once_handle& operator=(once_handle&& o) noexcept {
    if (this != &o) {
      fn_ = std::exchange(o.fn_, nullptr);
      ctx_ = o.ctx_;
      st_ = std::move(o.st_);
    }
    return *this;
  }
  once_handle(const once_handle&) = delete;
  once_handle& operator=(const once_handle&) = delete;
  ~once_handle() = default;

  explicit operator bool() const { return fn_ != nullptr; }
  // The function to call, taken: nullptr when called (or given up) before.
  Fn take() { return std::exchange(fn_, nullptr); }
  void* ctx() const { return ctx_; }
  // Destroyed or overwritten while armed: the function to report that with now, or nullptr
  // (not armed, or the wrapper call that created it still runs and reports it instead).
  Fn drop() {
    const Fn fn = std::exchange(fn_, nullptr);
    if (!fn || destroying() ||
        (st_ && (st_->bits.fetch_or(handle_state::dropped) & handle_state::in_call)))
      return nullptr;
    return fn;
  }

 private:
  Fn fn_;
  void* ctx_;
  std::shared_ptr<handle_state> st_;
};

}  // namespace detail

// Hands a result back to the host. Call it once, from any thread; later calls do nothing.
// Destroyed without being called, it reports a down result of kind "internal" ("the plugin
// dropped its completion"), so a run is never left without a result; except while the
// plugin instance or check is being destroyed (destroy() abandons runs silently).
class completion {
 public:
  completion(isitup_check_done_fn fn, void* ctx, std::shared_ptr<detail::handle_state> st = {})
      : h_(fn, ctx, std::move(st)) {}
  completion(completion&&) noexcept = default;
  completion& operator=(completion&& o) noexcept {
    if (this != &o) {
      abandon();
      h_ = std::move(o.h_);
    }
    return *this;
  }
  completion(const completion&) = delete;
  completion& operator=(const completion&) = delete;
  ~completion() { abandon(); }

  void operator()(const result& r) {
    if (auto fn = h_.take()) {
      const isitup_record_v1 v = r.view();
      fn(h_.ctx(), &v);
    }
  }
  explicit operator bool() const { return static_cast<bool>(h_); }

 private:
  void abandon() noexcept {
    if (const isitup_check_done_fn fn = h_.drop()) {
      const result r = result::down("internal", "the plugin dropped its completion");
      const isitup_record_v1 v = r.view();
      fn(h_.ctx(), &v);
    }
  }
  detail::once_handle<isitup_check_done_fn> h_;
};

// The asynchronous path: one object per plugin instance, built by T(const host&).
class prepared_check {
 public:
  virtual ~prepared_check() = default;
};
class async_checks {
 public:
  virtual ~async_checks() = default;
  // Validate one configured check; throw std::exception to reject it. Main thread.
  virtual std::unique_ptr<prepared_check> prepare(const check_spec& spec) = 0;
  // Start a run and return at once; call done (any thread) when it ends.
  virtual void start(prepared_check& check, const run_info& run, completion done) = 0;
};

// A batch handed to a sink: valid until its batch_done is called.
class batch_view {
 public:
  explicit batch_view(const isitup_batch_v1* b) : b_(b) {}
  size_t size() const { return b_->count; }
  const isitup_record_v1& operator[](size_t i) const { return *b_->records[i]; }
  uint64_t sequence() const { return b_->sequence; }
  // Where a source read the records (only for a sink with ISITUP_SINK_POSITIONS); NULL: none.
  const isitup_positions_v1* positions() const {
    return b_->struct_size >= offsetof(isitup_batch_v1, positions) + sizeof(void*) ? b_->positions
                                                                                   : nullptr;
  }
  const isitup_batch_v1* raw() const { return b_; }

 private:
  const isitup_batch_v1* b_;
};

// Reports a batch's fate. Call it once, from any thread; later calls do nothing. Destroyed
// without being called, it reports status::retry ("the sink dropped its batch's completion"),
// so a batch never holds its place in the pipeline forever (silently not from destroy()).
class batch_done {
 public:
  batch_done(isitup_batch_done_fn fn, void* ctx, std::shared_ptr<detail::handle_state> st = {})
      : h_(fn, ctx, std::move(st)) {}
  batch_done(batch_done&&) noexcept = default;
  batch_done& operator=(batch_done&& o) noexcept {
    if (this != &o) {
      abandon();
      h_ = std::move(o.h_);
    }
    return *this;
  }
  batch_done(const batch_done&) = delete;
  batch_done& operator=(const batch_done&) = delete;
  ~batch_done() { abandon(); }

  void operator()(status s, std::string_view message = {}) {
    if (auto fn = h_.take()) {
      const std::string m(message);
      fn(h_.ctx(), static_cast<uint32_t>(s), m.empty() ? nullptr : m.c_str());
    }
  }
  explicit operator bool() const { return static_cast<bool>(h_); }

 private:
  void abandon() noexcept {
    if (const isitup_batch_done_fn fn = h_.drop())
      fn(h_.ctx(), ISITUP_RETRY, "the sink dropped its batch's completion");
  }
  detail::once_handle<isitup_batch_done_fn> h_;
};

// The state transitions handed to write_events: valid until its batch_done is called.
class event_span {
 public:
  event_span(const isitup_event_v1* const* events, size_t count) : p_(events), n_(count) {}
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  const isitup_event_v1& operator[](size_t i) const { return *p_[i]; }
  const isitup_event_v1* const* begin() const { return p_; }
  const isitup_event_v1* const* end() const { return p_ + n_; }

 private:
  const isitup_event_v1* const* p_;
  size_t n_;
};

// Alert state going with a batch (write_with_state) or handed back at start (load_state):
// valid until the batch's done is called, or during the load callback.
class alert_state_view {
 public:
  explicit alert_state_view(const isitup_alert_state_v1* s) : s_(s) {}
  size_t state_count() const { return s_->state_count; }
  const isitup_check_state_v1& state(size_t i) const { return s_->states[i]; }
  size_t event_count() const { return s_->event_count; }
  const isitup_outbox_event_v1& event(size_t i) const { return s_->events[i]; }
  const isitup_alert_state_v1* raw() const { return s_; }

 private:
  const isitup_alert_state_v1* s_;
};

// What read_history asks for: buckets of length_ms whose start is in [from_ms, to_ms), within
// `timeout`.
struct history_query {
  int64_t from_ms = 0, to_ms = 0, length_ms = 0;
  std::chrono::milliseconds timeout{0};
};

// One non-empty (check, bucket) of a sink's history; `check` need only live during emit().
struct history_bucket {
  std::string_view check;
  int64_t start_ms = 0;  // a multiple of the query's length_ms
  uint64_t results = 0, up = 0;
  double p50_total_ms = std::numeric_limits<double>::quiet_NaN();  // NaN: no total time
  double p95_total_ms = std::numeric_limits<double>::quiet_NaN();
};

// A sink, built by T(const host&, const options_view&) (throw to refuse the config).
// A sink that also takes state transitions defines, besides write():
//   void write_events(isitup::sdk::event_span events, isitup::sdk::batch_done done);
// called from the host's event thread, possibly while write() runs (guard what they share);
// call done exactly once: ok when delivered, retry to be handed the same events again after a
// backoff. plugin_def::sink wires it when present.
// A sink that keeps the agent's alert state with its rows (ISITUP_SINK_ALERT_STATE, see
// plugin.h) defines all three of:
//   void write_with_state(const isitup::sdk::batch_view& batch,
//                         isitup::sdk::alert_state_view state, isitup::sdk::batch_done done);
//   void load_state(std::chrono::milliseconds timeout,
//                   const std::function<void(isitup::sdk::alert_state_view)>& loaded);
//                   // throw to fail: the host gets ISITUP_RETRY and the exception's text
//   void events_delivered(const char* sink, const char* const* event_ids, size_t count);
// and passes ISITUP_SINK_ALERT_STATE to plugin_def::sink.
// A sink that answers the status page's history (ISITUP_SINK_HISTORY, see plugin.h) defines:
//   void read_history(const isitup::sdk::history_query& query,
//                     const std::function<void(const isitup::sdk::history_bucket&)>& emit);
//                     // any thread, never twice at once; throw to fail (the host gets
//                     // ISITUP_RETRY and the exception's text)
// plugin_def::sink then wires it and sets ISITUP_SINK_HISTORY.
// A sink that stores the positions batches were read at with their rows (ISITUP_SINK_POSITIONS,
// see plugin.h) defines:
//   void claim_positions(isitup_positions_v1& claim, std::chrono::milliseconds timeout);
//                        // fill each item's epoch and next_offset; throw to fail (ISITUP_RETRY)
// plugin_def::sink then wires it and sets ISITUP_SINK_POSITIONS.
class sink {
 public:
  virtual ~sink() = default;
  // Pipeline thread; must not block for long. Call done when the batch is durable.
  virtual void write(const batch_view& batch, batch_done done) = 0;
  // Shutdown: wait until every written batch is done, at most `timeout`.
  virtual status flush(std::chrono::milliseconds timeout) = 0;
};

// A source, built by T(const host&, const options_view&). Feeds batches with host::submit.
class source {
 public:
  virtual ~source() = default;
  virtual void start() = 0;  // throw to fail start-up
  virtual void ack(uint64_t token, status s) = 0;
  virtual void stop() = 0;
};

// A check catalog, built by T(const host&, const options_view&) (see isitup_catalog_ops_v1 for
// the threads and the lifetime of what is passed). Throw to fail a call.
class catalog {
 public:
  virtual ~catalog() = default;
  // Calls fn once per message of the whole catalog as of the call; blocks.
  virtual void read_all(isitup_catalog_entry_fn fn, void* fn_ctx) = 0;
  // Writes the entries and blocks until every one is durable.
  virtual void publish(const isitup_catalog_entry_v1* const* entries, size_t count) = 0;
  // Joins the group; `events` stays valid until stop() returns.
  virtual void start(const isitup_catalog_events_v1& events) = 0;
  virtual void stop() = 0;
  // How long the group waits for a silent member before its partitions move (ms); 0 unknown.
  virtual int64_t session_timeout_ms() const { return 0; }
};

namespace detail {

inline void set_error(char* err, size_t cap, const char* what) {
  if (!err || cap == 0) return;
  size_t n = std::strlen(what);
  if (n >= cap) n = cap - 1;
  std::memcpy(err, what, n);
  err[n] = '\0';
}

template <class F>
uint32_t guarded(char* err, size_t cap, F&& f) noexcept {
  try {
    f();
    return ISITUP_OK;
  } catch (const std::exception& e) {
    set_error(err, cap, e.what());
  } catch (...) {
    set_error(err, cap, "unknown exception");
  }
  return ISITUP_ERROR;
}

inline check_spec to_spec(const host& h, const isitup_check_spec_v1* s) {
  return check_spec{s->name, s->target, std::chrono::milliseconds(s->interval_ms),
                    std::chrono::milliseconds(s->timeout_ms), options_view(h.raw(), s->options)};
}

inline run_info to_run(const isitup_run_v1* r) {
  return run_info{r->scheduled_at_ms, std::chrono::milliseconds(r->timeout_ms)};
}

inline void report_internal(isitup_check_done_fn done, void* ctx, const char* what) noexcept {
  try {
    completion c(done, ctx);
    c(result::down("internal", what));
  } catch (...) {
  }
}

// Calls `f` (the plugin's start() or write(), handed a handle sharing `st`) and returns what
// the wrapper must report: empty when the handle was called, is still held by the plugin
// (moved elsewhere) or reported its own drop; otherwise the reason (the exception's message,
// or `dropped` when the plugin returned having destroyed the handle unused).
template <class F>
std::string call_once_guarded(const std::shared_ptr<handle_state>& st, const char* dropped,
                              F&& f) noexcept {
  std::string failure;
  try {
    f();
  } catch (const std::exception& e) {
    failure = *e.what() ? e.what() : "exception";
  } catch (...) {
    failure = "unknown exception";
  }
  if (!(st->bits.fetch_and(~handle_state::in_call) & handle_state::dropped)) return {};
  return failure.empty() ? std::string(dropped) : failure;
}

struct instance_base {
  explicit instance_base(host services) : h(services) {}
  host h;
};

// Every entry point below is noexcept and runs the plugin's code through guarded() (or its own
// try), which catches std::bad_alloc with every other exception; the check cannot see into the
// lambdas. NOLINTBEGIN(bugprone-unhandled-exception-at-new)
template <class T>
struct blocking_ops {
  struct instance : instance_base {
    using instance_base::instance_base;
  };
  static uint32_t create(const isitup_host_v1* hv, isitup_host_ctx* ctx, void** out, char* err,
                         size_t cap) noexcept {
    return guarded(err, cap, [&] { *out = new instance(host(hv, ctx)); });
  }
  static uint32_t prepare(void* inst, const isitup_check_spec_v1* spec, void** out, char* err,
                          size_t cap) noexcept {
    auto* in = static_cast<instance*>(inst);
    return guarded(err, cap, [&] { *out = new T(in->h, to_spec(in->h, spec)); });
  }
  static void start(void*, void* chk, const isitup_run_v1* run, isitup_check_done_fn done,
                    void* ctx) noexcept {
    try {
      result r = static_cast<T*>(chk)->run(to_run(run));
      completion c(done, ctx);
      c(r);
    } catch (const std::exception& e) {
      report_internal(done, ctx, e.what());
    } catch (...) {
      report_internal(done, ctx, "unknown exception");
    }
  }
  static void release(void*, void* chk) noexcept { delete static_cast<T*>(chk); }
  static void destroy(void* inst) noexcept { delete static_cast<instance*>(inst); }
};

template <class T>
struct async_ops {
  struct instance : instance_base {
    instance(host services) : instance_base(services), impl(services) {}
    T impl;
  };
  static uint32_t create(const isitup_host_v1* hv, isitup_host_ctx* ctx, void** out, char* err,
                         size_t cap) noexcept {
    return guarded(err, cap, [&] { *out = new instance(host(hv, ctx)); });
  }
  static uint32_t prepare(void* inst, const isitup_check_spec_v1* spec, void** out, char* err,
                          size_t cap) noexcept {
    auto* in = static_cast<instance*>(inst);
    return guarded(err, cap, [&] {
      *out = in->impl.prepare(to_spec(in->h, spec)).release();
      if (!*out) throw std::runtime_error("prepare() returned no check");
    });
  }
  // The completion is the plugin's from the call on: if start() throws, the wrapper reports
  // `internal` only when the plugin did not keep (move away) or call it.
  static void start(void* inst, void* chk, const isitup_run_v1* run, isitup_check_done_fn done,
                    void* ctx) noexcept {
    std::shared_ptr<handle_state> st;
    try {
      st = std::make_shared<handle_state>();
    } catch (...) {
      report_internal(done, ctx, "out of memory");
      return;
    }
    const std::string failure = call_once_guarded(st, "the plugin dropped its completion", [&] {
      static_cast<instance*>(inst)->impl.start(*static_cast<prepared_check*>(chk), to_run(run),
                                               completion(done, ctx, st));
    });
    if (!failure.empty()) report_internal(done, ctx, failure.c_str());
  }
  static void release(void*, void* chk) noexcept {
    destroy_quietly([&] { delete static_cast<prepared_check*>(chk); });
  }
  static void destroy(void* inst) noexcept {
    destroy_quietly([&] { delete static_cast<instance*>(inst); });
  }
};

template <class T>
struct sink_ops {
  static uint32_t create(const isitup_host_v1* hv, isitup_host_ctx* ctx, const isitup_options* o,
                         void** out, char* err, size_t cap) noexcept {
    return guarded(err, cap, [&] { *out = new T(host(hv, ctx), options_view(hv, o)); });
  }
  // As for async checks: on an exception the batch is retried, unless the sink kept or
  // called its batch_done.
  static void write(void* inst, const isitup_batch_v1* b, isitup_batch_done_fn done,
                    void* ctx) noexcept {
    std::shared_ptr<handle_state> st;
    try {
      st = std::make_shared<handle_state>();
    } catch (...) {
      done(ctx, ISITUP_RETRY, "out of memory");
      return;
    }
    const std::string failure = call_once_guarded(
        st, "the sink dropped its batch's completion",
        [&] { static_cast<T*>(inst)->write(batch_view(b), batch_done(done, ctx, st)); });
    if (!failure.empty()) done(ctx, ISITUP_RETRY, failure.c_str());
  }
  static uint32_t flush(void* inst, int64_t timeout_ms) noexcept {
    try {
      return static_cast<uint32_t>(
          static_cast<T*>(inst)->flush(std::chrono::milliseconds(timeout_ms)));
    } catch (...) {
      return ISITUP_ERROR;
    }
  }
  static void destroy(void* inst) noexcept {
    destroy_quietly([&] { delete static_cast<T*>(inst); });
  }
};

// Whether T has write_events(event_span, batch_done) (C++17: the SDK does not need C++20).
template <class T, class = void>
struct takes_events : std::false_type {};
template <class T>
struct takes_events<T, std::void_t<decltype(std::declval<T&>().write_events(
                           std::declval<event_span>(), std::declval<batch_done>()))>>
    : std::true_type {};

template <class T>
struct sink_event_ops {
  static void write_events(void* inst, const isitup_event_v1* const* events, size_t count,
                           isitup_batch_done_fn done, void* ctx) noexcept {
    std::shared_ptr<handle_state> st;
    try {
      st = std::make_shared<handle_state>();
    } catch (...) {
      done(ctx, ISITUP_RETRY, "out of memory");
      return;
    }
    const std::string failure =
        call_once_guarded(st, "the sink dropped its batch's completion", [&] {
          static_cast<T*>(inst)->write_events(event_span(events, count), batch_done(done, ctx, st));
        });
    if (!failure.empty()) done(ctx, ISITUP_RETRY, failure.c_str());
  }
};

// Whether T has the three calls of a sink keeping alert state (see class sink).
template <class T, class = void>
struct keeps_alert_state : std::false_type {};
template <class T>
struct keeps_alert_state<
    T, std::void_t<decltype(std::declval<T&>().write_with_state(std::declval<const batch_view&>(),
                                                                std::declval<alert_state_view>(),
                                                                std::declval<batch_done>())),
                   decltype(std::declval<T&>().load_state(
                       std::declval<std::chrono::milliseconds>(),
                       std::declval<const std::function<void(alert_state_view)>&>())),
                   decltype(std::declval<T&>().events_delivered(
                       std::declval<const char*>(), std::declval<const char* const*>(),
                       std::declval<size_t>()))>> : std::true_type {};

template <class T>
struct sink_state_ops {
  static void write_with_state(void* inst, const isitup_batch_v1* b,
                               const isitup_alert_state_v1* state, isitup_batch_done_fn done,
                               void* ctx) noexcept {
    std::shared_ptr<handle_state> st;
    try {
      st = std::make_shared<handle_state>();
    } catch (...) {
      done(ctx, ISITUP_RETRY, "out of memory");
      return;
    }
    const std::string failure =
        call_once_guarded(st, "the sink dropped its batch's completion", [&] {
          static_cast<T*>(inst)->write_with_state(batch_view(b), alert_state_view(state),
                                                  batch_done(done, ctx, st));
        });
    if (!failure.empty()) done(ctx, ISITUP_RETRY, failure.c_str());
  }
  static uint32_t load_state(void* inst, int64_t timeout_ms, isitup_alert_load_fn loaded, void* ctx,
                             char* err, size_t cap) noexcept {
    const uint32_t s = guarded(err, cap, [&] {
      static_cast<T*>(inst)->load_state(std::chrono::milliseconds(timeout_ms),
                                        [&](alert_state_view v) { loaded(ctx, v.raw()); });
    });
    return s == ISITUP_OK ? s : static_cast<uint32_t>(ISITUP_RETRY);
  }
  static void events_delivered(void* inst, const char* sink, const char* const* ids,
                               size_t count) noexcept {
    try {
      static_cast<T*>(inst)->events_delivered(sink, ids, count);
    } catch (...) {
    }
  }
};

// Whether T has read_history(const history_query&, const std::function<...>&).
template <class T, class = void>
struct answers_history : std::false_type {};
template <class T>
struct answers_history<T, std::void_t<decltype(std::declval<T&>().read_history(
                              std::declval<const history_query&>(),
                              std::declval<const std::function<void(const history_bucket&)>&>()))>>
    : std::true_type {};

template <class T>
struct sink_history_ops {
  static uint32_t read_history(void* inst, int64_t from_ms, int64_t to_ms, int64_t length_ms,
                               isitup_history_fn fn, void* ctx, int64_t timeout_ms, char* err,
                               size_t cap) noexcept {
    const uint32_t s = guarded(err, cap, [&] {
      const history_query q{from_ms, to_ms, length_ms, std::chrono::milliseconds(timeout_ms)};
      static_cast<T*>(inst)->read_history(q, [&](const history_bucket& b) {
        const isitup_history_bucket_v1 c{sizeof(isitup_history_bucket_v1),
                                         b.check.data(),
                                         b.check.size(),
                                         b.start_ms,
                                         length_ms,
                                         b.results,
                                         b.up,
                                         b.p50_total_ms,
                                         b.p95_total_ms};
        fn(ctx, &c);
      });
    });
    return s == ISITUP_OK ? s : static_cast<uint32_t>(ISITUP_RETRY);
  }
};

// Whether T has claim_positions(isitup_positions_v1&, std::chrono::milliseconds).
template <class T, class = void>
struct keeps_positions : std::false_type {};
template <class T>
struct keeps_positions<
    T, std::void_t<decltype(std::declval<T&>().claim_positions(
           std::declval<isitup_positions_v1&>(), std::declval<std::chrono::milliseconds>()))>>
    : std::true_type {};

template <class T>
struct sink_position_ops {
  static uint32_t claim_positions(void* inst, isitup_positions_v1* claim, int64_t timeout_ms,
                                  char* err, size_t cap) noexcept {
    const uint32_t s = guarded(err, cap, [&] {
      static_cast<T*>(inst)->claim_positions(*claim, std::chrono::milliseconds(timeout_ms));
    });
    return s == ISITUP_OK ? s : static_cast<uint32_t>(ISITUP_RETRY);
  }
};

template <class T>
struct source_ops {
  static uint32_t create(const isitup_host_v1* hv, isitup_host_ctx* ctx, const isitup_options* o,
                         void** out, char* err, size_t cap) noexcept {
    return guarded(err, cap, [&] { *out = new T(host(hv, ctx), options_view(hv, o)); });
  }
  static uint32_t start(void* inst, char* err, size_t cap) noexcept {
    return guarded(err, cap, [&] { static_cast<T*>(inst)->start(); });
  }
  static void ack(void* inst, uint64_t token, uint32_t s) noexcept {
    try {
      static_cast<T*>(inst)->ack(token, static_cast<status>(s));
    } catch (...) {
    }
  }
  static void stop(void* inst) noexcept {
    try {
      static_cast<T*>(inst)->stop();
    } catch (...) {
    }
  }
  static void destroy(void* inst) noexcept { delete static_cast<T*>(inst); }
};

template <class T>
struct catalog_ops {
  static uint32_t create(const isitup_host_v1* hv, isitup_host_ctx* ctx, const isitup_options* o,
                         void** out, char* err, size_t cap) noexcept {
    return guarded(err, cap, [&] { *out = new T(host(hv, ctx), options_view(hv, o)); });
  }
  static uint32_t read_all(void* inst, isitup_catalog_entry_fn fn, void* fn_ctx, char* err,
                           size_t cap) noexcept {
    return guarded(err, cap, [&] { static_cast<T*>(inst)->read_all(fn, fn_ctx); });
  }
  static uint32_t publish(void* inst, const isitup_catalog_entry_v1* const* entries, size_t count,
                          char* err, size_t cap) noexcept {
    return guarded(err, cap, [&] { static_cast<T*>(inst)->publish(entries, count); });
  }
  static uint32_t start(void* inst, const isitup_catalog_events_v1* events, char* err,
                        size_t cap) noexcept {
    return guarded(err, cap, [&] { static_cast<T*>(inst)->start(*events); });
  }
  static void stop(void* inst) noexcept {
    try {
      static_cast<T*>(inst)->stop();
    } catch (...) {
    }
  }
  static void destroy(void* inst) noexcept { delete static_cast<T*>(inst); }
  static int64_t session_timeout_ms(void* inst) noexcept {
    try {
      const int64_t ms = static_cast<const T*>(inst)->session_timeout_ms();
      return ms > 0 ? ms : 0;
    } catch (...) {
      return 0;
    }
  }
};
// NOLINTEND(bugprone-unhandled-exception-at-new)

inline std::vector<isitup_option_v1> to_c(const std::vector<option>& opts) {
  std::vector<isitup_option_v1> out;
  out.reserve(opts.size());
  for (const option& o : opts)
    out.push_back(isitup_option_v1{sizeof(isitup_option_v1), o.name, static_cast<uint32_t>(o.type),
                                   o.required ? 1u : 0u, o.default_value, o.description});
  return out;
}

}  // namespace detail

// Describes a plugin; ISITUP_PLUGIN keeps one in static storage and exports its descriptor.
class plugin_def {
 public:
  plugin_def(const char* name, const char* version, const char* description)
      : name_(name), version_(version), description_(description) {}

  // T derives from blocking_check (run on the host's worker pool) or async_checks.
  template <class T>
  plugin_def&& check(const std::vector<option>& options) && {
    check_options_ = detail::to_c(options);
    check_ = isitup_check_ops_v1{};
    check_.struct_size = sizeof(isitup_check_ops_v1);
    if constexpr (std::is_base_of_v<blocking_check, T>) {
      using ops = detail::blocking_ops<T>;
      check_.flags = ISITUP_CHECK_BLOCKING;
      set_check_ops<ops>();
    } else {
      static_assert(std::is_base_of_v<async_checks, T>,
                    "a check class derives from blocking_check or async_checks");
      set_check_ops<detail::async_ops<T>>();
    }
    kinds_ |= ISITUP_KIND_CHECK;
    return std::move(*this);
  }

  // flags: ISITUP_SINK_NOTIFIER, ISITUP_SINK_ALERT_STATE or 0. A T with write_events (see
  // class sink) takes events; one with the three alert state calls gets them wired; one with
  // read_history gets it wired and ISITUP_SINK_HISTORY set.
  template <class T>
  plugin_def&& sink(const std::vector<option>& options, uint32_t max_in_flight = 1,
                    uint32_t flags = 0) && {
    static_assert(std::is_base_of_v<isitup::sdk::sink, T>);
    using ops = detail::sink_ops<T>;
    sink_options_ = detail::to_c(options);
    sink_ = isitup_sink_ops_v1{};
    sink_.struct_size = sizeof(isitup_sink_ops_v1);
    sink_.max_in_flight = max_in_flight;
    sink_.create = &ops::create;
    sink_.write = &ops::write;
    sink_.flush = &ops::flush;
    sink_.destroy = &ops::destroy;
    sink_.sink_flags = flags;
    if constexpr (detail::takes_events<T>::value)
      sink_.write_events = &detail::sink_event_ops<T>::write_events;
    if constexpr (detail::keeps_alert_state<T>::value) {
      sink_.write_with_state = &detail::sink_state_ops<T>::write_with_state;
      sink_.load_state = &detail::sink_state_ops<T>::load_state;
      sink_.events_delivered = &detail::sink_state_ops<T>::events_delivered;
    }
    if constexpr (detail::answers_history<T>::value) {
      sink_.read_history = &detail::sink_history_ops<T>::read_history;
      sink_.sink_flags |= ISITUP_SINK_HISTORY;
    }
    if constexpr (detail::keeps_positions<T>::value) {
      sink_.claim_positions = &detail::sink_position_ops<T>::claim_positions;
      sink_.sink_flags |= ISITUP_SINK_POSITIONS;
    }
    kinds_ |= ISITUP_KIND_SINK;
    return std::move(*this);
  }

  template <class T>
  plugin_def&& source(const std::vector<option>& options) && {
    static_assert(std::is_base_of_v<isitup::sdk::source, T>);
    using ops = detail::source_ops<T>;
    source_options_ = detail::to_c(options);
    source_ = isitup_source_ops_v1{sizeof(isitup_source_ops_v1),
                                   nullptr,
                                   0,
                                   &ops::create,
                                   &ops::start,
                                   &ops::ack,
                                   &ops::stop,
                                   &ops::destroy};
    kinds_ |= ISITUP_KIND_SOURCE;
    return std::move(*this);
  }

  template <class T>
  plugin_def&& catalog(const std::vector<option>& options) && {
    static_assert(std::is_base_of_v<isitup::sdk::catalog, T>);
    using ops = detail::catalog_ops<T>;
    catalog_options_ = detail::to_c(options);
    catalog_ = isitup_catalog_ops_v1{sizeof(isitup_catalog_ops_v1),
                                     nullptr,
                                     0,
                                     &ops::create,
                                     &ops::read_all,
                                     &ops::publish,
                                     &ops::start,
                                     &ops::stop,
                                     &ops::destroy,
                                     &ops::session_timeout_ms};
    kinds_ |= ISITUP_KIND_CATALOG;
    return std::move(*this);
  }

  // The C descriptor, pointing into this object: call it on the object's final (static) home.
  const isitup_plugin_v1* descriptor() {
    check_.options = check_options_.data();
    check_.option_count = check_options_.size();
    sink_.options = sink_options_.data();
    sink_.option_count = sink_options_.size();
    source_.options = source_options_.data();
    source_.option_count = source_options_.size();
    catalog_.options = catalog_options_.data();
    catalog_.option_count = catalog_options_.size();
    desc_ = isitup_plugin_v1{ISITUP_ABI_VERSION,
                             sizeof(isitup_plugin_v1),
                             name_,
                             version_,
                             description_,
                             kinds_,
                             (kinds_ & ISITUP_KIND_CHECK) ? &check_ : nullptr,
                             (kinds_ & ISITUP_KIND_SINK) ? &sink_ : nullptr,
                             (kinds_ & ISITUP_KIND_SOURCE) ? &source_ : nullptr,
                             (kinds_ & ISITUP_KIND_CATALOG) ? &catalog_ : nullptr};
    return &desc_;
  }

 private:
  template <class ops>
  void set_check_ops() {
    check_.create = &ops::create;
    check_.prepare = &ops::prepare;
    check_.start = &ops::start;
    check_.release = &ops::release;
    check_.destroy = &ops::destroy;
  }

  const char* name_;
  const char* version_;
  const char* description_;
  uint32_t kinds_ = 0;
  std::vector<isitup_option_v1> check_options_, sink_options_, source_options_, catalog_options_;
  isitup_check_ops_v1 check_{};
  isitup_sink_ops_v1 sink_{};
  isitup_source_ops_v1 source_{};
  isitup_catalog_ops_v1 catalog_{};
  isitup_plugin_v1 desc_{};
};

}  // namespace isitup::sdk

// Exports the plugin's entry point. Use once per plugin, at namespace scope.
#define ISITUP_PLUGIN(...)                                                     \
  extern "C" ISITUP_EXPORT const isitup_plugin_v1* isitup_plugin_entry(void) { \
    static ::isitup::sdk::plugin_def isitup_def_ = (__VA_ARGS__);              \
    return isitup_def_.descriptor();                                           \
  }
