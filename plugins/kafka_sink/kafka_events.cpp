#include "kafka_events.hpp"
#include "kafka_producer.hpp"

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <vector>

namespace isitup::kafka {
namespace {

// The fields this plugin reads are within the struct the host handed over.
bool readable(const isitup_event_v1& e) {
  return e.struct_size >= offsetof(isitup_event_v1, json) + sizeof(e.json) && e.json && e.check;
}

}  // namespace

event_producer::event_producer(const sdk::host& host, std::string topic, property_list fixed,
                               property_list user)
    : host_(host),
      cb_ctx_{host, this, {}, {}},
      topic_(std::move(topic)),
      fixed_(std::move(fixed)),
      user_(std::move(user)) {
  check_client_config(RD_KAFKA_PRODUCER, fixed_, user_, "the Kafka events producer");
}

// As producer_sink: the handle and its thread come with the first events.
void event_producer::start_once() {
  std::call_once(started_, [this] {
    rd_kafka_t* rk = create_handle();
    {
      std::lock_guard lock(mu_);
      rk_ = rk;
    }
    worker_ = std::thread([this] { run(); });
  });
}

event_producer::~event_producer() {
  stopping_ = true;
  if (worker_.joinable()) worker_.join();
  std::map<uint64_t, call> left;
  {
    std::lock_guard lock(mu_);
    if (rk_) {
      retiring_ = rk_;
      rd_kafka_destroy(rk_);
      rk_ = nullptr;
    }
    left.swap(calls_);
  }
  // `left` goes out of scope here: each call's batch_done, dropped, completes retry.
}

rd_kafka_t* event_producer::create_handle() {
  conf_ptr conf = make_conf(fixed_, user_);
  route_logs(conf.get(), &cb_ctx_);
  rd_kafka_conf_set_dr_msg_cb(
      conf.get(), [](rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
        auto* self = static_cast<event_producer*>(static_cast<callback_context*>(opaque)->owner);
        if (rk != self->retiring_.load()) self->on_delivery(m);
      });
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (!rk)
    throw std::invalid_argument(std::string("cannot create the Kafka events producer: ") + err);
  static_cast<void>(conf.release());  // owned by rk now
  return rk;
}

void event_producer::write(sdk::event_span events, sdk::batch_done done) {
  start_once();
  std::unique_lock lock(mu_);
  if (!rk_) {
    lock.unlock();
    done(sdk::status::retry, "the Kafka events producer is being recreated");
    return;
  }
  const uint64_t id = next_id_++;
  call& c = calls_[id];
  c.done = std::move(done);
  c.remaining = events.size();
  for (const isitup_event_v1* e : events) {
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__INVALID_ARG;
    if (e && readable(*e)) {
      const std::string_view key(e->check), value(e->json);
      err = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(key.data(), key.size()),
          // Parenthesised: the macro casts its argument to void* as written.
          RD_KAFKA_V_VALUE((const_cast<char*>(value.data())), value.size()),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(id))), RD_KAFKA_V_END);
    }
    if (err == RD_KAFKA_RESP_ERR__INVALID_ARG) c.refused = true;  // no retry fixes it
    if (err) {
      if (c.error.empty())
        c.error =
            std::string("cannot produce an event to ") + topic_ + ": " + rd_kafka_err2str(err);
      --c.remaining;
    }
  }
  if (c.remaining == 0) finish_locked(lock, id);
}

void event_producer::on_delivery(const rd_kafka_message_t* m) {
  const auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m->_private));
  std::unique_lock lock(mu_);
  const auto it = calls_.find(id);
  if (it == calls_.end()) return;
  call& c = it->second;
  if (m->err && c.error.empty())
    c.error = std::string("event not delivered to ") + topic_ + ": " + rd_kafka_err2str(m->err);
  if (--c.remaining == 0) finish_locked(lock, id);
}

void event_producer::finish_locked(std::unique_lock<std::mutex>& lock, uint64_t id) {
  const auto it = calls_.find(id);
  call c = std::move(it->second);
  calls_.erase(it);
  lock.unlock();
  if (c.error.empty()) {
    c.done(sdk::status::ok);
  } else if (c.refused) {
    host_.counter_add("events_refused", 1);
    c.done(sdk::status::error, c.error);
  } else {
    host_.counter_add("events_not_delivered", 1);
    c.done(sdk::status::retry, c.error);
  }
}

void event_producer::recreate() {
  std::map<uint64_t, call> failed;
  rd_kafka_t* old;
  {
    std::lock_guard lock(mu_);
    old = rk_;
    rk_ = nullptr;
    failed.swap(calls_);  // the old handle's reports no longer count
  }
  char reason[512] = "";
  if (old) {
    rd_kafka_fatal_error(old, reason, sizeof reason);
    retiring_ = old;
    rd_kafka_destroy(old);
    retiring_ = nullptr;
  }
  host_.log(sdk::level::error, std::string("fatal Kafka error on the events producer (") + reason +
                                   "): recreating it; events not confirmed are handed back");
  for (auto& [id, c] : failed) c.done(sdk::status::retry, "the Kafka events producer failed");
  try {
    rd_kafka_t* fresh = create_handle();
    std::lock_guard lock(mu_);
    rk_ = fresh;
  } catch (const std::exception& e) {
    host_.log(sdk::level::error, std::string("cannot recreate the events producer: ") + e.what());
  }
}

void event_producer::run() {
  while (!stopping_) {
    rd_kafka_t* rk;
    {
      std::lock_guard lock(mu_);
      rk = rk_;
    }
    if (!rk) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      recreate();
      continue;
    }
    rd_kafka_poll(rk, 100);
    if (rd_kafka_fatal_error(rk, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) recreate();
  }
}

// The results producer's part: it owns the events producer, with its own librdkafka settings.
void producer_sink::start_events(const std::string& topic) {
  if (topic == topic_)
    throw std::invalid_argument("events_topic: must differ from topic (\"" + topic_ +
                                "\"): readers of results would get events");
  events_ = std::make_unique<event_producer>(host_, topic, fixed_, user_);
}

void producer_sink::write_events(sdk::event_span events, sdk::batch_done done) {
  if (!events_) {
    done(sdk::status::ok);  // no events_topic: this sink takes no events
    return;
  }
  events_->write(events, std::move(done));
}

}  // namespace isitup::kafka
