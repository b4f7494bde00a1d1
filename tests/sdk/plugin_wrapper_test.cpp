// The C++ wrapper (plugin.hpp) at the C boundary: every completion handle completes exactly
// once, whatever the plugin does with it (keeps it, drops it, calls it twice, throws).
#include <gtest/gtest.h>
#include <isitup/plugin.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace sdk = isitup::sdk;
using namespace std::chrono_literals;

namespace {

// What a host saw of one completion handle.
struct seen {
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  bool up = false;
  uint32_t status = 0;
  std::string kind, message;

  static void check_done(void* ctx, const isitup_record_v1* r) {
    auto* s = static_cast<seen*>(ctx);
    std::lock_guard lock(s->mu);
    ++s->calls;
    s->up = r->status == ISITUP_UP;
    s->kind = r->error_kind ? r->error_kind : "";
    s->message = r->error_message ? r->error_message : "";
    s->cv.notify_all();
  }
  static void batch_done(void* ctx, uint32_t status, const char* message) {
    auto* s = static_cast<seen*>(ctx);
    std::lock_guard lock(s->mu);
    ++s->calls;
    s->status = status;
    s->message = message ? message : "";
    s->cv.notify_all();
  }
  // Waits for the first call, then a little more for a second one that must not come.
  int settle() {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 2s, [&] { return calls > 0; });
    lock.unlock();
    std::this_thread::sleep_for(100ms);
    lock.lock();
    return calls;
  }
};

struct check_of : sdk::prepared_check {};

// An async check whose start() does what the target says.
class faulty_async : public sdk::async_checks {
 public:
  explicit faulty_async(const sdk::host&) {}
  std::unique_ptr<sdk::prepared_check> prepare(const sdk::check_spec& spec) override {
    target = spec.target;
    return std::make_unique<check_of>();
  }
  void start(sdk::prepared_check&, const sdk::run_info&, sdk::completion done) override {
    if (target == "thread_then_throw") {
      std::thread([d = std::move(done)]() mutable {
        std::this_thread::sleep_for(50ms);
        d(sdk::result::ok());
      }).detach();
      throw std::runtime_error("thrown after handing the completion to a thread");
    }
    if (target == "throw") throw std::runtime_error("plain failure");
    if (target == "done_then_throw") {
      done(sdk::result::ok());
      throw std::runtime_error("thrown after completing");
    }
    if (target == "twice") {
      done(sdk::result::ok());
      done(sdk::result::down("internal", "second"));
      return;
    }
    if (target == "keep") {
      kept = std::move(done);
      return;
    }
    // "drop": returns, the completion dies unused
  }
  std::string target;
  sdk::completion kept{nullptr, nullptr};
};

struct checks_fixture {
  const isitup_plugin_v1* d;
  void* instance = nullptr;
  void* check = nullptr;

  explicit checks_fixture(const char* target) {
    static sdk::plugin_def def =
        sdk::plugin_def("faulty_async", "1", "test").check<faulty_async>({});
    d = def.descriptor();
    char err[256] = "";
    EXPECT_EQ(d->check->create(nullptr, nullptr, &instance, err, sizeof err), ISITUP_OK) << err;
    const isitup_check_spec_v1 spec{sizeof spec, "c", target, 1000, 500, nullptr};
    EXPECT_EQ(d->check->prepare(instance, &spec, &check, err, sizeof err), ISITUP_OK) << err;
  }
  ~checks_fixture() {
    d->check->release(instance, check);
    d->check->destroy(instance);
  }
  void start(seen& s) {
    const isitup_run_v1 run{sizeof run, 0, 500};
    d->check->start(instance, check, &run, &seen::check_done, &s);
  }
  faulty_async& impl() {
    return reinterpret_cast<sdk::detail::async_ops<faulty_async>::instance*>(instance)->impl;
  }
};

TEST(plugin_wrapper, a_completion_handed_to_a_thread_before_a_throw_completes_once) {
  checks_fixture f("thread_then_throw");
  seen s;
  f.start(s);
  EXPECT_EQ(s.settle(), 1);
  EXPECT_TRUE(s.up) << "the thread's result, not an internal error: " << s.message;
}

TEST(plugin_wrapper, a_throw_before_the_completion_is_used_reports_internal_once) {
  checks_fixture f("throw");
  seen s;
  f.start(s);
  EXPECT_EQ(s.settle(), 1);
  EXPECT_EQ(s.kind, "internal");
  EXPECT_EQ(s.message, "plain failure");
}

TEST(plugin_wrapper, a_throw_after_completing_reports_nothing_more) {
  checks_fixture f("done_then_throw");
  seen s;
  f.start(s);
  EXPECT_EQ(s.settle(), 1);
  EXPECT_TRUE(s.up);
}

TEST(plugin_wrapper, a_second_call_of_a_completion_does_nothing) {
  checks_fixture f("twice");
  seen s;
  f.start(s);
  EXPECT_EQ(s.settle(), 1);
  EXPECT_TRUE(s.up);
}

TEST(plugin_wrapper, a_dropped_completion_reports_internal) {
  checks_fixture f("drop");
  seen s;
  f.start(s);
  EXPECT_EQ(s.settle(), 1);
  EXPECT_EQ(s.kind, "internal");
  EXPECT_EQ(s.message, "the plugin dropped its completion");
}

TEST(plugin_wrapper, a_kept_completion_dropped_later_reports_then_and_not_at_destroy) {
  seen later, at_destroy;
  {
    checks_fixture f("keep");
    f.start(later);
    EXPECT_EQ(later.calls, 0);
    f.impl().kept = sdk::completion(nullptr, nullptr);  // overwritten unused
    EXPECT_EQ(later.settle(), 1);
    EXPECT_EQ(later.message, "the plugin dropped its completion");
    f.start(at_destroy);  // kept until destroy(): abandoned silently, as the ABI says
  }
  EXPECT_EQ(at_destroy.calls, 0);
}

// A sink whose write() does what its options' first letter says.
class faulty_sink : public sdk::sink {
 public:
  faulty_sink(const sdk::host&, const sdk::options_view&) {}
  void write(const sdk::batch_view& batch, sdk::batch_done done) override {
    if (batch.sequence() == 1) throw std::runtime_error("disk on fire");
    if (batch.sequence() == 2) {
      std::thread([d = std::move(done)]() mutable {
        std::this_thread::sleep_for(50ms);
        d(sdk::status::ok);
      }).detach();
      throw std::runtime_error("thrown after handing batch_done to a thread");
    }
    if (batch.sequence() == 3) {
      held = std::move(done);
      throw std::runtime_error("thrown after keeping batch_done");
    }
    // 4: dropped
  }
  sdk::status flush(std::chrono::milliseconds) override { return sdk::status::ok; }
  sdk::batch_done held{nullptr, nullptr};
};

struct sink_fixture {
  const isitup_plugin_v1* d;
  void* instance = nullptr;
  sink_fixture() {
    static sdk::plugin_def def = sdk::plugin_def("faulty_sink", "1", "test").sink<faulty_sink>({});
    d = def.descriptor();
    char err[256] = "";
    EXPECT_EQ(d->sink->create(nullptr, nullptr, nullptr, &instance, err, sizeof err), ISITUP_OK);
  }
  ~sink_fixture() { d->sink->destroy(instance); }
  void write(uint64_t sequence, seen& s) {
    const isitup_batch_v1 b{sizeof b, 0, nullptr, sequence, nullptr};
    d->sink->write(instance, &b, &seen::batch_done, &s);
  }
};

TEST(plugin_wrapper, a_sink_that_throws_before_using_batch_done_is_retried) {
  sink_fixture f;
  seen s;
  f.write(1, s);
  EXPECT_EQ(s.settle(), 1) << "today the moved-from batch_done is never completed";
  EXPECT_EQ(s.status, static_cast<uint32_t>(ISITUP_RETRY));
  EXPECT_EQ(s.message, "disk on fire");
}

TEST(plugin_wrapper, a_sink_that_hands_batch_done_on_then_throws_completes_once) {
  sink_fixture f;
  seen s;
  f.write(2, s);
  EXPECT_EQ(s.settle(), 1);
  EXPECT_EQ(s.status, static_cast<uint32_t>(ISITUP_OK));
}

TEST(plugin_wrapper, a_sink_that_keeps_batch_done_then_throws_keeps_it) {
  sink_fixture f;
  seen s;
  f.write(3, s);
  EXPECT_EQ(s.calls, 0) << "the sink still holds it";
  auto& sink = *static_cast<faulty_sink*>(f.instance);
  sink.held(sdk::status::ok);
  EXPECT_EQ(s.settle(), 1);
  EXPECT_EQ(s.status, static_cast<uint32_t>(ISITUP_OK));
}

TEST(plugin_wrapper, a_dropped_batch_done_is_a_retry) {
  sink_fixture f;
  seen s;
  f.write(4, s);
  EXPECT_EQ(s.settle(), 1);
  EXPECT_EQ(s.status, static_cast<uint32_t>(ISITUP_RETRY));
  EXPECT_EQ(s.message, "the sink dropped its batch's completion");
}

}  // namespace
