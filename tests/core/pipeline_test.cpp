// Unit tests of the pipeline with in-process sinks behind the C sink table.
#include <isitup/core/pipeline.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include <isitup/core/completion_tickets.hpp>
#include <isitup/core/host_services.hpp>

using namespace std::chrono_literals;
using isitup::pipeline;
using isitup::record;

namespace {

// A sink whose behaviour each test sets: `decide` returns the status for a write, or -1 to hold
// the batch (complete it later with release_held()).
struct fake_sink {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<std::string>> batches;  // check names per written batch
  std::vector<uint64_t> sequences;
  std::function<int(std::size_t write_index)> decide = [](std::size_t) { return ISITUP_OK; };
  std::vector<std::pair<isitup_batch_done_fn, void*>> held;
  int flushes = 0;
  bool twice = false;  // every completion is called twice
  isitup_host_ctx ctx{"fake_sink.sink0"};

  static void write(void* self, const isitup_batch_v1* b, isitup_batch_done_fn done, void* ctx) {
    auto* s = static_cast<fake_sink*>(self);
    int status;
    {
      std::lock_guard lock(s->mu);
      std::vector<std::string> names;
      for (size_t i = 0; i < b->count; ++i) names.push_back(b->records[i]->check);
      s->batches.push_back(names);
      s->sequences.push_back(b->sequence);
      status = s->decide(s->batches.size() - 1);
      if (status < 0) s->held.emplace_back(done, ctx);
    }
    s->cv.notify_all();
    if (status >= 0) done(ctx, static_cast<uint32_t>(status), status ? "injected" : nullptr);
    if (status >= 0 && s->twice) done(ctx, static_cast<uint32_t>(status), nullptr);
  }
  static uint32_t flush(void* self, int64_t) {
    auto* s = static_cast<fake_sink*>(self);
    std::lock_guard lock(s->mu);
    ++s->flushes;
    return ISITUP_OK;
  }
  void release_held(uint32_t status) {
    std::vector<std::pair<isitup_batch_done_fn, void*>> h;
    {
      std::lock_guard lock(mu);
      h.swap(held);
    }
    for (auto& [fn, c] : h) fn(c, status, nullptr);
  }
  std::size_t records_written() {
    std::lock_guard lock(mu);
    std::size_t n = 0;
    for (auto& b : batches) n += b.size();
    return n;
  }
  bool wait_batches(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return batches.size() >= n; });
  }
  isitup::sink_binding binding() {
    static const isitup_sink_ops_v1 ops = [] {
      isitup_sink_ops_v1 o{};
      o.struct_size = sizeof o;
      o.max_in_flight = 4;
      o.write = &fake_sink::write;
      o.flush = &fake_sink::flush;
      return o;
    }();
    return isitup::sink_binding{&ops, this, &ctx};
  }
};

record make(const std::string& check) {
  record r;
  r.agent = "a";
  r.check = check;
  r.plugin = "p";
  r.target = "t";
  r.up = true;
  return r;
}

void push(pipeline& p, const std::string& check) {
  ASSERT_TRUE(p.try_reserve());
  p.push_reserved(make(check));
}

TEST(pipeline, cuts_batches_by_size_then_by_delay_in_order) {
  fake_sink sink;
  pipeline p({100, 10, 50}, {sink.binding()});
  p.start();
  for (int i = 0; i < 35; ++i) push(p, "c" + std::to_string(i));
  ASSERT_TRUE(sink.wait_batches(4));
  EXPECT_EQ(sink.batches[0].size(), 10u);
  EXPECT_EQ(sink.batches[3].size(), 5u);  // the rest, after batch_delay
  std::vector<std::string> all;
  for (auto& b : sink.batches) all.insert(all.end(), b.begin(), b.end());
  for (int i = 0; i < 35; ++i) EXPECT_EQ(all[i], "c" + std::to_string(i));
  EXPECT_TRUE(p.drain(2s));
  EXPECT_EQ(p.stats().delivered, 35u);
  EXPECT_EQ(p.stats().held, 0u);
  EXPECT_EQ(sink.flushes, 1);
}

TEST(pipeline, retries_a_batch_with_its_sequence_until_durable) {
  fake_sink sink;
  sink.decide = [](std::size_t i) { return i < 2 ? ISITUP_RETRY : ISITUP_OK; };
  pipeline p({100, 10, 10}, {sink.binding()});
  p.start();
  push(p, "x");
  ASSERT_TRUE(sink.wait_batches(3, 5s));
  EXPECT_TRUE(p.drain(2s));
  EXPECT_EQ(sink.sequences[0], sink.sequences[1]);
  EXPECT_EQ(sink.sequences[1], sink.sequences[2]);
  EXPECT_EQ(p.stats().retries, 2u);
  EXPECT_EQ(p.stats().delivered, 1u);
  EXPECT_EQ(p.stats().lost, 0u);
}

TEST(pipeline, refused_batch_is_counted_lost_and_acked_as_error) {
  fake_sink sink;
  sink.decide = [](std::size_t) { return ISITUP_ERROR; };
  pipeline p({100, 10, 10}, {sink.binding()});
  p.start();
  std::atomic<int> ack{-1};
  ASSERT_TRUE(p.try_submit({make("a"), make("b")}, [&](uint32_t s) { ack = static_cast<int>(s); }));
  EXPECT_TRUE(p.drain(2s));
  EXPECT_EQ(ack.load(), ISITUP_ERROR);
  EXPECT_EQ(p.stats().lost, 2u);
}

TEST(pipeline, bound_holds_when_the_sink_stalls) {
  fake_sink sink;
  sink.decide = [](std::size_t) { return -1; };  // hold every batch
  pipeline p({5, 2, 10}, {sink.binding()});
  p.start();
  for (int i = 0; i < 5; ++i) push(p, "c");
  EXPECT_FALSE(p.try_reserve());
  EXPECT_FALSE(p.try_submit({make("s")}, nullptr));
  EXPECT_EQ(p.stats().rejected_full, 2u);
  EXPECT_EQ(p.stats().held, 5u);
  ASSERT_TRUE(sink.wait_batches(3));
  sink.release_held(ISITUP_OK);
  EXPECT_TRUE(p.drain(2s));
  EXPECT_EQ(p.stats().delivered, 5u);
}

// A source batch larger than the whole queue (a source configured with a batch size above
// queue_size) is not refused for ever: it is taken alone once nothing else is held, and while
// it is held nothing else fits.
TEST(pipeline, a_batch_larger_than_the_queue_is_taken_alone_when_the_queue_is_empty) {
  fake_sink sink;
  sink.decide = [](std::size_t) { return -1; };  // hold every batch
  pipeline p({5, 100, 10}, {sink.binding()});
  p.start();
  std::vector<record> big;
  big.reserve(12);
  for (int i = 0; i < 12; ++i) big.push_back(make("big-" + std::to_string(i)));
  push(p, "c");  // one slot held: the big batch waits
  EXPECT_FALSE(p.may_fit(12));
  EXPECT_FALSE(p.try_submit(std::vector<record>(big), nullptr));
  ASSERT_TRUE(sink.wait_batches(1));
  sink.release_held(ISITUP_OK);
  bool taken = false;
  for (const auto until = std::chrono::steady_clock::now() + 5s;
       !taken && std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(5ms))
    taken = p.may_fit(12) && p.try_submit(std::vector<record>(big), nullptr);
  ASSERT_TRUE(taken) << "a batch larger than the queue was refused with the queue empty";
  EXPECT_EQ(p.stats().held, 12u);
  EXPECT_FALSE(p.try_reserve()) << "a check's slot beside a batch larger than the queue";
  EXPECT_FALSE(p.try_submit({make("s")}, nullptr));
  ASSERT_TRUE(sink.wait_batches(2));
  sink.release_held(ISITUP_OK);
  EXPECT_TRUE(p.drain(2s));
  EXPECT_EQ(p.stats().delivered, 13u);
  EXPECT_EQ(sink.records_written(), 13u);
}

TEST(pipeline, source_ack_waits_for_every_sink) {
  fake_sink fast, slow;
  slow.decide = [](std::size_t) { return -1; };
  pipeline p({100, 10, 10}, {fast.binding(), slow.binding()});
  p.start();
  std::atomic<int> acks{0};
  ASSERT_TRUE(p.try_submit({make("a")}, [&](uint32_t s) {
    EXPECT_EQ(s, static_cast<uint32_t>(ISITUP_OK));
    ++acks;
  }));
  ASSERT_TRUE(fast.wait_batches(1));
  ASSERT_TRUE(slow.wait_batches(1));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(acks.load(), 0) << "acked before the slow sink made it durable";
  slow.release_held(ISITUP_OK);
  EXPECT_TRUE(p.drain(2s));
  EXPECT_EQ(acks.load(), 1);
}

TEST(pipeline, drain_writes_staged_results_without_waiting_for_the_batch_delay) {
  fake_sink sink;
  pipeline p({100, 50, 60000}, {sink.binding()});
  p.start();
  push(p, "late");
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(p.drain(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(sink.records_written(), 1u);
}

TEST(pipeline, drain_without_result_sinks_returns_once_staged_results_are_let_go) {
  // An agent whose only sinks are notifiers has no result sink: its results are let go when
  // the dispatcher cuts them, and drain() must see that at once, not at its timeout.
  pipeline p({100, 50, 60000}, {});
  p.start();
  push(p, "only-events");
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(p.drain(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(p.stats().held, 0u);
}

TEST(pipeline, drain_reports_what_was_not_delivered_in_time) {
  fake_sink sink;
  sink.decide = [](std::size_t) { return -1; };
  pipeline p({100, 10, 10}, {sink.binding()});
  p.start();
  push(p, "stuck");
  EXPECT_FALSE(p.drain(200ms));
  EXPECT_EQ(p.stats().held, 1u);
  p.stop();
  sink.release_held(ISITUP_OK);  // a late completion after stop() is still safe
  EXPECT_EQ(p.stats().held, 0u);
}

}  // namespace

TEST(pipeline, a_write_never_completed_is_sent_again_after_the_sink_timeout) {
  fake_sink sink;
  sink.decide = [](std::size_t i) { return i == 0 ? -1 : ISITUP_OK; };  // the first is held
  pipeline p({100, 10, 10, 300}, {sink.binding()});
  p.start();
  push(p, "x");
  ASSERT_TRUE(sink.wait_batches(2, 5s)) << "the first write holds its slot forever";
  EXPECT_EQ(sink.sequences[0], sink.sequences[1]);
  EXPECT_TRUE(p.drain(2s));
  EXPECT_EQ(p.stats().delivered, 1u);
  EXPECT_EQ(p.stats().timed_out, 1u);
  EXPECT_EQ(p.stats().retries, 1u);
  sink.release_held(ISITUP_ERROR);  // late: must not count the record lost, or twice
  EXPECT_EQ(p.stats().late, 1u);
  EXPECT_EQ(p.stats().delivered, 1u);
  EXPECT_EQ(p.stats().lost, 0u);
}

TEST(pipeline, a_second_completion_of_a_write_is_refused_and_counted) {
  fake_sink sink;
  sink.twice = true;
  const uint64_t before = isitup::completion_tickets::instance().refused_count();
  pipeline p({100, 10, 10}, {sink.binding()});
  p.start();
  for (int i = 0; i < 25; ++i) push(p, "c" + std::to_string(i));
  EXPECT_TRUE(p.drain(2s));
  EXPECT_EQ(p.stats().delivered, 25u);
  p.stop();  // the second calls come from write(), on the dispatcher thread
  EXPECT_EQ(isitup::completion_tickets::instance().refused_count() - before, sink.batches.size());
}
