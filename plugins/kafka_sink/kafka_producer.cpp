#include "kafka_producer.hpp"
#include "kafka_tls_files.hpp"

#include <isitup/config_map.hpp>
#include <isitup/util/backoff.hpp>
#include <isitup/util/clock.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>

namespace isitup::kafka {
namespace {

int64_t backoff_ms(int attempts) { return sdk::backoff_ms(attempts, 250, 5000); }

// A message that can never be written however often it is sent.
bool permanent(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

std::string to_string_size(size_t n) { return std::to_string(n); }

}  // namespace

namespace {

// The sink's options, declared once (sdk::config_map): the host's validation,
// --describe-plugin, this struct and its ranges.
struct producer_settings {
  std::string brokers, topic, compression;
  std::optional<std::string> events_topic;  // unset: the sink takes no events
  std::vector<std::pair<std::string, std::string>> properties;
  int64_t buffer_messages = 0, buffer_bytes = 0;
  std::chrono::milliseconds delivery_timeout{0}, linger{0};
  bool validate = true;
};

const sdk::config_map<producer_settings>& producer_map() {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  using std::chrono::minutes;
  using std::chrono::seconds;
  using s = producer_settings;
  static const auto map =
      sdk::config_map<s>()
          .string("brokers", &s::brokers, nullptr, "bootstrap servers, host:port[,host:port...]")
          .required()
          .non_empty()
          .string("topic", &s::topic, "isitup.results", "topic the results are produced to")
          .non_empty()
          .map("properties", &s::properties, nullptr,
               "librdkafka properties passed through (TLS, SASL, security.protocol, client "
               "and socket tuning) from an allowlist; ones that load code or run commands are "
               "refused")
          .string("compression", &s::compression, "lz4", "lz4, zstd, gzip, snappy or none")
          .one_of({"lz4", "zstd", "gzip", "snappy", "none"})
          .integer("buffer_messages", &s::buffer_messages, "120000",
                   "results held until Kafka confirms them, at most (default: 2 minutes at 1k "
                   "results/s); when full, batches are refused and the pipeline applies "
                   "backpressure",
                   1, 10'000'000)
          .integer("buffer_bytes", &s::buffer_bytes, "134217728",
                   "bytes of encoded results held until Kafka confirms them, at most (default "
                   "128 MiB)",
                   1024, int64_t{1} << 40)
          .duration("delivery_timeout", &s::delivery_timeout, "5m",
                    "how long librdkafka tries one message; past it the sink logs and produces "
                    "it again",
                    seconds(1), hours(24 * 24))
          .duration("linger", &s::linger, "10ms", "how long librdkafka waits to fill a request",
                    milliseconds(0), minutes(15))
          .boolean("validate", &s::validate, "true",
                   "decode every encoded record with the v1 schema before producing it; invalid "
                   "ones are counted, logged and not produced")
          .string("events_topic", &s::events_topic, nullptr,
                  "topic the incident events (opened, resolved, reminder) are produced to, key = "
                  "check name, value = the event JSON; unset: the sink takes no events")
          .non_empty("leave it out for no events");
  return map;
}

}  // namespace

std::vector<sdk::option> producer_options() { return producer_map().options(); }

producer_sink::producer_sink(const sdk::host& host, const sdk::options_view& options)
    : host_(host), cb_ctx_{host, this, {}, {}} {
  const producer_settings settings = producer_map().read(options);
  brokers_ = settings.brokers;
  topic_ = settings.topic;
  const int64_t messages = settings.buffer_messages;
  const int64_t bytes = settings.buffer_bytes;
  buffer_messages_ = static_cast<size_t>(messages);
  buffer_bytes_ = static_cast<size_t>(bytes);
  const int64_t timeout = settings.delivery_timeout.count();
  validate_ = settings.validate;

  user_ = settings.properties;
  if (std::none_of(user_.begin(), user_.end(),
                   [](const auto& p) { return p.first == "client.id"; }))
    user_.insert(user_.begin(), {"client.id", "isitup-kafka-sink"});
  check_tls_files(user_);
  // librdkafka's own queue is larger than the sink's bound: the sink refuses batches first,
  // so a produce call never meets a full queue in normal operation.
  const int64_t rk_messages = std::min<int64_t>(2 * messages + 10000, 10'000'000);
  const int64_t rk_kbytes = std::min<int64_t>(2 * bytes / 1024 + 1024, 2'000'000'000);
  fixed_ = {{"bootstrap.servers", brokers_},
            {"enable.idempotence", "true"},
            {"acks", "all"},
            {"compression.type", settings.compression},
            {"message.timeout.ms", std::to_string(timeout)},
            {"linger.ms", std::to_string(settings.linger.count())},
            {"queue.buffering.max.messages", std::to_string(rk_messages)},
            {"queue.buffering.max.kbytes", std::to_string(rk_kbytes)}};
  // Before the results handle: a refusal thrown after it would leak the handle, whose threads
  // then call back into this object after it is gone.
  if (settings.events_topic) start_events(*settings.events_topic);
  check_client_config(RD_KAFKA_PRODUCER, fixed_, user_, "the Kafka producer");
}

// The handle and its thread come with the first batch: creating the sink (--check-config does
// so) connects nowhere.
void producer_sink::start_once() {
  std::call_once(started_, [this] {
    rd_kafka_t* rk = create_handle();  // checked in the constructor; throws if that changed
    {
      std::lock_guard lock(mu_);
      rk_ = rk;
    }
    worker_ = std::thread([this] { run(); });
  });
}

producer_sink::~producer_sink() {
  stopping_ = true;
  if (worker_.joinable()) worker_.join();
  std::lock_guard lock(mu_);
  if (rk_) {
    retiring_ = rk_;
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }
}

rd_kafka_t* producer_sink::create_handle() {
  conf_ptr conf = make_conf(fixed_, user_);
  route_logs(conf.get(), &cb_ctx_);
  rd_kafka_conf_set_dr_msg_cb(
      conf.get(), [](rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
        auto* self = static_cast<producer_sink*>(static_cast<callback_context*>(opaque)->owner);
        if (rk != self->retiring_.load()) self->on_delivery(m);
      });
  rd_kafka_conf_set_error_cb(
      conf.get(), [](rd_kafka_t* rk, int err, const char* reason, void* opaque) {
        auto* self = static_cast<producer_sink*>(static_cast<callback_context*>(opaque)->owner);
        if (rk != self->retiring_.load()) self->on_error(err, reason);
      });
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (!rk) throw std::invalid_argument(std::string("cannot create the Kafka producer: ") + err);
  static_cast<void>(conf.release());  // owned by rk now
  return rk;
}

size_t producer_sink::encode_into(batch_state& b, const isitup_record_v1& r) {
  // Room for a typical record (~0.5 KB) and then some; a larger one is written again.
  const size_t at = b.values.size();
  size_t room = 1024;
  for (;;) {
    b.values.resize(at + room);
    const size_t n = host_.raw()->record_to_json(&r, b.values.data() + at, room);
    if (n < room) {
      b.values.resize(at + n);
      return n;
    }
    room = n + 1;
  }
}

void producer_sink::write(const sdk::batch_view& batch, sdk::batch_done done) {
  start_once();
  auto b = std::make_unique<batch_state>();
  b->messages.reserve(batch.size());
  b->values.reserve(batch.size() * 640);
  size_t invalid = 0;
  char err[256];
  for (size_t i = 0; i < batch.size(); ++i) {
    const isitup_record_v1& r = batch[i];
    const size_t at = b->values.size();
    const size_t n = encode_into(*b, r);
    if (validate_) {
      // The bytes about to be produced, decoded and checked by the host's v1 codec.
      isitup_parsed_record* p =
          host_.raw()->record_parse(b->values.data() + at, n, err, sizeof err);
      if (!p) {
        ++invalid;
        b->values.resize(at);
        host_.log(sdk::level::error, std::string("record of check '") + (r.check ? r.check : "") +
                                         "' fails v1 validation, not produced: " + err);
        continue;
      }
      host_.raw()->record_free(p);
    }
    b->bytes += n;
    b->messages.push_back(message{r.check ? r.check : "", at, n});
  }
  if (invalid) host_.counter_add("invalid_records", static_cast<int64_t>(invalid));
  if (b->messages.empty()) {
    if (invalid)
      done(sdk::status::error, std::to_string(invalid) + " records failed v1 validation");
    else
      done(sdk::status::ok);
    return;
  }
  std::unique_lock lock(mu_);
  const size_t n = b->messages.size();
  if (held_messages_ > 0 &&
      (held_messages_ + n > buffer_messages_ || held_bytes_ + b->bytes > buffer_bytes_)) {
    const std::string why = "kafka_sink buffer full: " + to_string_size(held_messages_) +
                            " results (" + to_string_size(held_bytes_) +
                            " bytes) wait for Kafka to confirm them (bound " +
                            to_string_size(buffer_messages_) + " results / " +
                            to_string_size(buffer_bytes_) + " bytes)";
    lock.unlock();
    host_.counter_add("buffer_full", 1);
    done(sdk::status::retry, why);
    return;
  }
  b->id = next_batch_++;
  b->done = std::move(done);
  b->remaining = n;
  held_messages_ += n;
  held_bytes_ += b->bytes;
  batch_state& ref = *b;
  batches_.emplace(ref.id, std::move(b));
  for (size_t i = 0; i < n; ++i) produce_locked(ref, i);
}

void producer_sink::produce_locked(batch_state& b, size_t index) {
  message& m = b.messages[index];
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__STATE;
  if (rk_) {
    const uint64_t attempt = next_attempt_++;
    err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(m.key.data(), m.key.size()),
        // Parenthesised: the macro casts its argument to void* as written.
        RD_KAFKA_V_VALUE((b.values.data() + m.value_at), m.value_size),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(attempt))),
        RD_KAFKA_V_END);
    if (!err) {
      attempts_.emplace(attempt, std::make_pair(b.id, index));
      ++m.attempts;
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) fatal_ = true;
  }
  m.queued_for_retry = true;
  retries_.push_back({b.id, index, sdk::monotonic_ms() + backoff_ms(m.attempts)});
}

void producer_sink::on_delivery(const rd_kafka_message_t* km) {
  const auto attempt = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(km->_private));
  std::unique_lock lock(mu_);
  const auto a = attempts_.find(attempt);
  if (a == attempts_.end()) return;  // purged at shutdown or from a replaced producer
  const auto [batch_id, index] = a->second;
  attempts_.erase(a);
  const auto it = batches_.find(batch_id);
  if (it == batches_.end()) return;
  batch_state& b = *it->second;
  message& m = b.messages[index];
  if (m.delivered) return;
  if (!km->err) {
    m.delivered = true;
    set_state(link_state::up, "");
  } else if (permanent(km->err)) {
    m.delivered = true;  // final: reported with the batch
    b.error = std::string("Kafka refused a record of check '") + m.key +
              "': " + rd_kafka_err2str(km->err);
  } else {
    if (km->err == RD_KAFKA_RESP_ERR__FATAL) fatal_ = true;
    const int64_t wait = backoff_ms(m.attempts);
    host_.counter_add("redeliveries", 1);
    host_.log(sdk::level::warn, std::string("delivery failed (") + rd_kafka_err2name(km->err) +
                                    ": " + rd_kafka_err2str(km->err) +
                                    "); producing the record again");
    m.queued_for_retry = true;
    retries_.push_back({b.id, index, sdk::monotonic_ms() + wait});
    return;
  }
  if (--b.remaining == 0) finish_locked(lock, batch_id);
}

void producer_sink::finish_locked(std::unique_lock<std::mutex>& lock, uint64_t batch_id) {
  const auto it = batches_.find(batch_id);
  std::unique_ptr<batch_state> b = std::move(it->second);
  batches_.erase(it);
  held_messages_ -= b->messages.size();
  held_bytes_ -= b->bytes;
  lock.unlock();
  if (b->error.empty()) {
    host_.counter_add("delivered", static_cast<int64_t>(b->messages.size()));
    b->done(sdk::status::ok);
  } else {
    b->done(sdk::status::error, b->error);
  }
  idle_cv_.notify_all();
}

void producer_sink::on_error(int err, const char* reason) {
  const auto e = static_cast<rd_kafka_resp_err_t>(err);
  if (e == RD_KAFKA_RESP_ERR__FATAL) {
    fatal_ = true;
  } else if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    set_state(link_state::down, reason ? reason : "all brokers down");
  } else if (const std::string tls = tls_failure(reason ? reason : "", cb_ctx_.verify_error());
             !tls.empty()) {
    if (tls_warnings_.due(tls)) host_.log(sdk::level::warn, tls + "; results are kept and retried");
  } else if (e == RD_KAFKA_RESP_ERR__AUTHENTICATION || e == RD_KAFKA_RESP_ERR__SSL ||
             e == RD_KAFKA_RESP_ERR__RESOLVE) {
    host_.log(sdk::level::warn, std::string("Kafka: ") + (reason ? reason : rd_kafka_err2str(e)));
  } else {
    host_.log(sdk::level::debug, std::string("Kafka: ") + (reason ? reason : rd_kafka_err2str(e)));
  }
}

void producer_sink::set_state(link_state s, const std::string& why) {
  if (s == state_) return;
  const link_state before = state_;
  state_ = s;
  if (s == link_state::up) {
    host_.log(sdk::level::info, std::string(before == link_state::down ? "Kafka reachable again"
                                                                       : "connected to Kafka") +
                                    " at " + brokers_ + ": producing to topic " + topic_);
  } else if (s == link_state::down) {
    host_.log(sdk::level::warn,
              "Kafka unreachable at " + brokers_ + " (" + why + "): results are kept (up to " +
                  to_string_size(buffer_messages_) + ") and delivered when it is back");
  }
}

void producer_sink::probe_connection() {
  if (state_ == link_state::up) return;
  const int64_t now = sdk::monotonic_ms();
  if (now < next_probe_ms_) return;
  next_probe_ms_ = now + 2000;
  rd_kafka_t* rk;
  {
    std::lock_guard lock(mu_);
    rk = rk_;
  }
  if (!rk) return;
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 0, nullptr, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(md);
    std::lock_guard lock(mu_);
    set_state(link_state::up, "");
  }
}

void producer_sink::produce_due_retries() {
  std::lock_guard lock(mu_);
  if (retries_.empty()) return;
  const int64_t now = sdk::monotonic_ms();
  std::deque<retry_entry> due, later;
  for (const retry_entry& r : retries_) (r.due_ms <= now ? due : later).push_back(r);
  retries_.swap(later);
  for (const retry_entry& r : due) {
    const auto it = batches_.find(r.batch);
    if (it == batches_.end()) continue;
    message& m = it->second->messages[r.index];
    if (m.delivered || !m.queued_for_retry) continue;
    m.queued_for_retry = false;
    produce_locked(*it->second, r.index);
  }
}

void producer_sink::recreate() {
  char reason[512] = "";
  rd_kafka_t* old;
  {
    std::lock_guard lock(mu_);
    old = rk_;
    rk_ = nullptr;
    attempts_.clear();  // the old handle's reports no longer count
  }
  if (old) {
    const rd_kafka_resp_err_t code = rd_kafka_fatal_error(old, reason, sizeof reason);
    if (!reason[0]) std::snprintf(reason, sizeof reason, "%s", rd_kafka_err2str(code));
    retiring_ = old;
    rd_kafka_destroy(old);
    retiring_ = nullptr;
  }
  rd_kafka_t* fresh = nullptr;
  try {
    fresh = create_handle();
  } catch (const std::exception& e) {
    host_.log(sdk::level::error, std::string("cannot recreate the producer: ") + e.what());
    return;  // fatal_ stays set: the worker tries again
  }
  size_t resent = 0;
  {
    std::lock_guard lock(mu_);
    rk_ = fresh;
    fatal_ = false;
    for (auto& [id, b] : batches_)
      for (size_t i = 0; i < b->messages.size(); ++i) {
        message& m = b->messages[i];
        if (m.delivered || m.queued_for_retry) continue;
        produce_locked(*b, i);
        ++resent;
      }
    for (retry_entry& r : retries_) r.due_ms = 0;
  }
  recreations_.fetch_add(1);
  host_.counter_add("producer_recreated", 1);
  host_.log(sdk::level::error, std::string("fatal Kafka producer error (") + reason +
                                   "): recreated the producer and sent the " +
                                   to_string_size(resent) + " unconfirmed results again");
}

void producer_sink::run() {
  while (!stopping_) {
    rd_kafka_t* rk;
    {
      std::lock_guard lock(mu_);
      rk = rk_;
    }
    if (rk) {
      rd_kafka_poll(rk, 100);
      if (rd_kafka_fatal_error(rk, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) fatal_ = true;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (fatal_ || !rk) {
      recreate();
      if (fatal_) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    produce_due_retries();
    probe_connection();
  }
}

sdk::status producer_sink::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  idle_cv_.wait_for(lock, timeout, [&] { return batches_.empty(); });
  if (batches_.empty()) return sdk::status::ok;
  auto pending = std::move(batches_);
  batches_.clear();
  attempts_.clear();
  retries_.clear();
  const size_t left = held_messages_;
  held_messages_ = held_bytes_ = 0;
  lock.unlock();
  host_.log(sdk::level::error,
            to_string_size(left) + " results were not confirmed by Kafka before shutdown");
  for (auto& [id, b] : pending)
    b->done(sdk::status::error, "not confirmed by Kafka before shutdown");
  return sdk::status::error;
}

void producer_sink::inject_fatal_error(const char* reason) {
  std::lock_guard lock(mu_);
  if (rk_) rd_kafka_test_fatal_error(rk_, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason);
}

}  // namespace isitup::kafka
