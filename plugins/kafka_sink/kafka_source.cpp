#include "kafka_source.hpp"
#include "kafka_tls_files.hpp"

#include <isitup/config_map.hpp>
#include <isitup/util/backoff.hpp>
#include <isitup/util/clock.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace isitup::kafka {
namespace {

// On revoke, wait this long for pending acks: the next owner of the partitions then starts
// from their committed rows and alert state (a batch committed after it is replayed, not lost).
constexpr int64_t revoke_wait_ms = 10000;
// How long an assignment may wait for the claim of its partitions (the sink retries until
// then; a previous owner's transaction in progress ends within its statement timeout).
constexpr int64_t claim_timeout_ms = 45000;
// How long an assignment waits for the group's committed offsets of partitions not claimed.
constexpr int committed_timeout_ms = 10000;

std::string where(const rd_kafka_message_t* m) {
  return std::string(m->rkt ? rd_kafka_topic_name(m->rkt) : "?") + "[" +
         std::to_string(m->partition) + "] offset " + std::to_string(m->offset);
}

struct list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, list_deleter>;

}  // namespace

namespace {

// An open batch is handed over when no message came for this long (see run()).
constexpr int idle_seal_ms = 10;

// The source's options, declared once (sdk::config_map).
struct source_settings {
  std::string brokers, topic, group, start_from, dead_letter_topic;
  std::vector<std::pair<std::string, std::string>> properties;
  int64_t batch_size = 0;
  std::chrono::milliseconds batch_delay{0};
};

const sdk::config_map<source_settings>& source_map() {
  using s = source_settings;
  static const auto map =
      sdk::config_map<s>()
          .string("brokers", &s::brokers, nullptr, "bootstrap servers, host:port[,host:port...]")
          .required()
          .non_empty()
          .string("topic", &s::topic, "isitup.results", "topic the results are read from")
          .non_empty()
          .string("group", &s::group, "isitup-writers",
                  "consumer group: writer agents in one group share the partitions")
          .non_empty()
          .map("properties", &s::properties, nullptr,
               "librdkafka properties passed through (TLS, SASL, security.protocol, "
               "session and fetch tuning) from an allowlist; ones that load code or run commands "
               "are refused")
          .string("start_from", &s::start_from, "earliest",
                  "where a group without committed offsets starts: earliest or latest")
          .one_of({"earliest", "latest"})
          .integer("batch_size", &s::batch_size, "500",
                   "records handed to the agent at once, at most", 1, 100'000)
          .duration("batch_delay", &s::batch_delay, "100ms",
                    "how long a batch waits to fill before it is handed over (at once when no "
                    "message came for 10 ms)",
                    std::chrono::milliseconds(0), std::chrono::hours(1))
          .string("dead_letter_topic", &s::dead_letter_topic, nullptr,
                  "produce messages that are not valid v1 records here (with the reason in "
                  "header isitup.error); unset: they are only counted, logged and skipped");
  return map;
}

}  // namespace

std::vector<sdk::option> source_options() { return source_map().options(); }

consumer_source::consumer_source(const sdk::host& host, const sdk::options_view& options)
    : host_(host), cb_ctx_{host, this, {}, {}} {
  const source_settings settings = source_map().read(options);
  brokers_ = settings.brokers;
  topic_ = settings.topic;
  group_ = settings.group;
  dead_letter_topic_ = settings.dead_letter_topic;
  const std::string& start = settings.start_from;
  start_offset_ = start == "latest" ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
  batch_size_ = static_cast<size_t>(settings.batch_size);
  batch_delay_ms_ = settings.batch_delay.count();

  property_list user = settings.properties;
  set_default(user, "client.id", "isitup-kafka-source");
  // librdkafka stops pre-fetching at 100,000 queued messages and, in 2.0, looks at the queue
  // again only once a second: a writer catching up a backlog reads that many in under a second
  // and then waited for the rest of it (a stall every ~100,000 messages). The bound that stays
  // is queued.max.messages.kbytes (64 MiB): ~1.4 s of reading at 125k results/s of ~370 bytes.
  set_default(user, "queued.min.messages", "1000000");
  check_tls_files(user);
  conf_ptr conf = make_conf({{"bootstrap.servers", brokers_},
                             {"group.id", group_},
                             {"enable.auto.commit", "false"},
                             {"enable.auto.offset.store", "false"},
                             {"enable.partition.eof", "false"},
                             {"auto.offset.reset", start}},
                            user);
  route_logs(conf.get(), &cb_ctx_);
  rd_kafka_conf_set_rebalance_cb(
      conf.get(), [](rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                     void* opaque) {
        static_cast<consumer_source*>(static_cast<callback_context*>(opaque)->owner)
            ->on_rebalance(err, parts);
      });
  rd_kafka_conf_set_offset_commit_cb(
      conf.get(), [](rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                     void* opaque) {
        auto* self = static_cast<consumer_source*>(static_cast<callback_context*>(opaque)->owner);
        bool failed = err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET;
        for (int i = 0; offsets && i < offsets->cnt; ++i) failed |= offsets->elems[i].err != 0;
        if (failed) {
          self->host_.counter_add("commit_errors", 1);
          self->host_.log(sdk::level::warn, std::string("offset commit failed: ") +
                                                rd_kafka_err2str(err) +
                                                " (the messages will be read again: duplicates, "
                                                "not loss)");
        }
      });
  rd_kafka_conf_set_error_cb(
      conf.get(), [](rd_kafka_t*, int err, const char* reason, void* opaque) {
        auto* self = static_cast<consumer_source*>(static_cast<callback_context*>(opaque)->owner);
        const auto e = static_cast<rd_kafka_resp_err_t>(err);
        if (const std::string tls = tls_failure(reason ? reason : "", self->cb_ctx_.verify_error());
            !tls.empty()) {
          if (self->tls_warnings_.due(tls))
            self->host_.log(sdk::level::warn, tls + "; nothing is read until it connects");
          return;
        }
        self->host_.log(e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || e == RD_KAFKA_RESP_ERR__FATAL
                            ? sdk::level::warn
                            : sdk::level::debug,
                        std::string("Kafka: ") + (reason ? reason : rd_kafka_err2str(e)));
      });
  conf_ = std::move(conf);

  if (!dead_letter_topic_.empty()) {
    conf_ptr dconf = make_conf({{"bootstrap.servers", brokers_},
                                {"enable.idempotence", "true"},
                                {"acks", "all"},
                                {"linger.ms", "5"}},
                               settings.properties);
    route_logs(dconf.get(), &cb_ctx_);
    rd_kafka_conf_set_dr_msg_cb(
        dconf.get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
          auto* self = static_cast<consumer_source*>(static_cast<callback_context*>(opaque)->owner);
          if (m->err) {
            self->host_.counter_add("dead_letter_errors", 1);
            self->host_.log(sdk::level::error, std::string("dead-letter produce failed: ") +
                                                   rd_kafka_err2str(m->err) +
                                                   "; the message is skipped anyway");
          } else {
            self->host_.counter_add("dead_lettered", 1);
          }
          const auto token = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m->_private));
          if (batch* b = self->find(token)) --b->dead_letters_pending;
        });
    dead_letter_conf_ = std::move(dconf);
  }
}

// A consumer with a group contacts the brokers as soon as it exists, so it is made here, when
// the agent runs, and never while `--check-config` creates and destroys the source.
void consumer_source::connect() {
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf_.get(), err, sizeof err);
  if (!rk_) throw std::runtime_error(std::string("cannot create the Kafka consumer: ") + err);
  static_cast<void>(conf_.release());  // owned by rk_ now
  rd_kafka_poll_set_consumer(rk_);
  msgq_ = rd_kafka_queue_new(rk_);
  if (dead_letter_conf_) {
    dlq_ = rd_kafka_new(RD_KAFKA_PRODUCER, dead_letter_conf_.get(), err, sizeof err);
    if (!dlq_)
      throw std::runtime_error(std::string("cannot create the dead-letter producer: ") + err);
    static_cast<void>(dead_letter_conf_.release());  // owned by dlq_ now
  }
}

consumer_source::~consumer_source() {
  stopped_ = true;
  quit_ = true;
  if (thread_.joinable()) thread_.join();
  if (rk_) {
    apply_acks();
    if (dlq_) rd_kafka_flush(dlq_, 2000);
    if (dlq_) rd_kafka_poll(dlq_, 0);
    commit_done(true);
    rd_kafka_consumer_close(rk_);  // revokes (committing again) and leaves the group
    rd_kafka_queue_destroy(msgq_);
    rd_kafka_destroy(rk_);
  }
  if (dlq_) rd_kafka_destroy(dlq_);
  for (auto& b : batches_)
    for (isitup_parsed_record* p : b->records) host_.raw()->record_free(p);
}

void consumer_source::start() {
  connect();
  list_ptr topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic_.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, topics.get()))
    throw std::runtime_error(std::string("cannot subscribe to ") + topic_ + ": " +
                             rd_kafka_err2str(e));
  host_.log(sdk::level::info, "consuming " + topic_ + " at " + brokers_ + " in group " + group_);
  host_.source_partitions(ISITUP_PARTITIONS_JOINING, nullptr, 0);
  thread_ = std::thread([this] { run(); });
}

void consumer_source::stop() { stopped_ = true; }

void consumer_source::ack(uint64_t token, sdk::status s) {
  std::lock_guard lock(ack_mu_);
  acks_.emplace_back(token, s);
}

consumer_source::batch* consumer_source::find(uint64_t token) {
  for (auto& b : batches_)
    if (b->token == token) return b.get();
  return nullptr;
}

void consumer_source::run() {
  bool stop_seen = false;
  std::vector<rd_kafka_message_t*> msgs(256);
  while (!quit_) {
    if (stopped_ && !stop_seen) {
      stop_seen = true;
      pause_all();  // nothing more is read; acks and commits go on until destroy
    }
    // The consumer queue carries the group's events (rebalance callbacks run in this poll);
    // messages come from msgq_, read only while the pipeline takes batches.
    const bool reading = !stop_seen && !full_;
    const int wait_ms =
        reading ? 0
        : stop_seen
            ? 50
            : static_cast<int>(std::clamp<int64_t>(next_submit_ms_ - sdk::monotonic_ms(), 1, 50));
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, wait_ms)) {
      handle(m, stop_seen);  // none expected: partitions are forwarded to msgq_ when assigned
      rd_kafka_message_destroy(m);
    }
    if (reading) {
      // An open batch waits for more (up to batch_delay) only while messages come: when none
      // came for idle_seal_ms, the partitions are read to their end and it is handed over at
      // once. Catching up, the queue never runs dry and batches stay full.
      const bool open = !batches_.empty() && !batches_.back()->sealed;
      const ssize_t n =
          rd_kafka_consume_batch_queue(msgq_, open ? idle_seal_ms : 50, msgs.data(), msgs.size());
      for (ssize_t i = 0; i < n; ++i) {
        handle(msgs[i], stop_seen);
        rd_kafka_message_destroy(msgs[i]);
      }
      if (n == 0 && open) seal_if_due(true);
    }
    if (dlq_) rd_kafka_poll(dlq_, 0);
    seal_if_due(false);
    if (!stop_seen) submit_ready();
    apply_acks();
    commit_done(false);
  }
}

void consumer_source::handle(const rd_kafka_message_t* m, bool stop_seen) {
  if (m->err)
    host_.log(sdk::level::debug, std::string("consumer: ") + rd_kafka_message_errstr(m));
  else if (!stop_seen)
    take(m);
}

void consumer_source::take(const rd_kafka_message_t* m) {
  if (batches_.empty() || batches_.back()->sealed) {
    batches_.push_back(std::make_unique<batch>());
    batches_.back()->token = next_token_++;
    batches_.back()->opened_ms = sdk::monotonic_ms();
  }
  batch& b = *batches_.back();
  b.next_offsets[{rd_kafka_topic_name(m->rkt), m->partition}] = m->offset + 1;
  read_point& at = read_points_[m->partition];
  if (at.next > m->offset) {
    // Never expected (a partition's messages come through one queue, in order): counted and
    // said, since a batch's positions assume its partition was read in order.
    host_.counter_add("out_of_order", 1);
    if (out_of_order_log_.take(sdk::monotonic_ms()))
      host_.log(sdk::level::warn, "a message of " + where(m) + " came after offset " +
                                      std::to_string(at.next - 1) + " had been read");
  }
  auto [pos, first_of_partition] = b.positions.try_emplace(m->partition);
  if (first_of_partition) {
    pos->second.struct_size = sizeof(isitup_position_v1);
    pos->second.partition = m->partition;
    pos->second.first_offset = at.next >= 0 && at.next <= m->offset ? at.next : m->offset;
    pos->second.epoch = at.epoch;
  }
  pos->second.next_offset = m->offset + 1;
  at.next = m->offset + 1;
  host_.counter_add("messages", 1);
  char err[256] = "";
  isitup_parsed_record* p =
      m->payload
          ? host_.raw()->record_parse(static_cast<const char*>(m->payload), m->len, err, sizeof err)
          : nullptr;
  if (!p) {
    const std::string why = m->payload ? err : "empty message";
    host_.counter_add("invalid_messages", 1);
    log_poison(m, why);
    if (dlq_) dead_letter(m, why, b);
  } else {
    b.records.push_back(p);
  }
  if (b.records.size() >= batch_size_) b.sealed = true;
}

void consumer_source::log_poison(const rd_kafka_message_t* m, const std::string& why) {
  if (!poison_log_.take(sdk::monotonic_ms())) return;
  const uint64_t left_out = poison_log_.refused_since_last();
  host_.log(sdk::level::warn,
            "skipped an invalid message at " + where(m) + ": " + why +
                (dlq_ ? " (sent to " + dead_letter_topic_ + ")" : "") +
                (left_out ? " (" + std::to_string(left_out) +
                                " more invalid messages were not logged; see counter "
                                "invalid_messages)"
                          : ""));
}

void consumer_source::dead_letter(const rd_kafka_message_t* m, const std::string& why, batch& b) {
  const std::string origin = where(m);
  const rd_kafka_resp_err_t e = rd_kafka_producev(
      dlq_, RD_KAFKA_V_TOPIC(dead_letter_topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
      RD_KAFKA_V_HEADER("isitup.error", why.data(), static_cast<ssize_t>(why.size())),
      RD_KAFKA_V_HEADER("isitup.origin", origin.data(), static_cast<ssize_t>(origin.size())),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(b.token))), RD_KAFKA_V_END);
  if (e) {
    host_.counter_add("dead_letter_errors", 1);
    host_.log(sdk::level::error, std::string("dead-letter produce failed: ") + rd_kafka_err2str(e));
  } else {
    ++b.dead_letters_pending;
  }
}

void consumer_source::seal_if_due(bool force) {
  if (batches_.empty() || batches_.back()->sealed) return;
  batch& b = *batches_.back();
  if (force || sdk::monotonic_ms() - b.opened_ms >= batch_delay_ms_) b.sealed = true;
}

void consumer_source::submit_ready() {
  const int64_t now = sdk::monotonic_ms();
  // Catching up a backlog fills the pipeline for moments all the time: only a stall is news.
  if (full_ && !full_logged_ && now - full_since_ms_ >= 1000) {
    full_logged_ = true;
    host_.log(sdk::level::warn,
              "the agent's pipeline has been full for 1 s: reading paused until the sinks catch "
              "up");
  }
  for (auto& bp : batches_) {
    batch& b = *bp;
    if (b.submitted) continue;
    if (!b.sealed) break;
    if (b.records.empty()) {  // only invalid messages: nothing to hand over
      // Their offsets go with the next batch handed over, whose positions then follow on.
      for (const auto& [partition, p] : b.positions) {
        auto [it, added] = carry_.try_emplace(partition, p);
        if (!added) it->second.next_offset = p.next_offset;
      }
      b.submitted = b.acked = true;
      continue;
    }
    if (now < next_submit_ms_) return;
    for (const auto& [partition, c] : carry_) {
      auto [it, added] = b.positions.try_emplace(partition, c);
      if (!added) it->second.first_offset = std::min(it->second.first_offset, c.first_offset);
    }
    carry_.clear();
    std::vector<isitup_position_v1> items;
    items.reserve(b.positions.size());
    for (const auto& [partition, p] : b.positions) items.push_back(p);
    const isitup_positions_v1 where{sizeof(isitup_positions_v1), group_.c_str(), topic_.c_str(),
                                    items.data(), items.size()};
    // Decoded and validated by record_parse: the host takes them as they are.
    const sdk::status s = host_.submit_parsed(b.records.data(), b.records.size(), b.token, &where);
    if (s == sdk::status::retry) {
      if (!full_) {
        full_ = true;
        full_since_ms_ = now;
        host_.counter_add("paused", 1);
      }
      // Short: the pipeline has room again as soon as a sink commits, and a refused offer
      // costs the host one look at its queue. Nothing is decoded meanwhile, so a longer wait
      // (it was 20 ms doubling to 200) left the sink with no next transaction ready after
      // the one it had queued.
      next_submit_ms_ = now + sdk::backoff_ms(submit_failures_++, 2, 10);
      return;
    }
    if (s != sdk::status::ok)  // refused: still the source's
      for (isitup_parsed_record* p : b.records) host_.raw()->record_free(p);
    b.records.clear();
    b.submitted = true;
    if (s != sdk::status::ok) b.acked = true;  // refused at once: skipped like an error ack
  }
  submit_failures_ = 0;
  if (full_ && full_logged_)
    host_.log(sdk::level::info, "the pipeline has room again after " +
                                    std::to_string(now - full_since_ms_) + " ms: reading resumed");
  full_ = full_logged_ = false;
}

void consumer_source::apply_acks() {
  std::vector<std::pair<uint64_t, sdk::status>> acks;
  {
    std::lock_guard lock(ack_mu_);
    acks.swap(acks_);
  }
  for (const auto& [token, s] : acks) {
    batch* b = find(token);
    if (!b) continue;
    b->acked = true;
    if (s != sdk::status::ok) {
      host_.counter_add("failed_batches", 1);
      host_.log(sdk::level::error,
                "a sink refused a batch for good; its offsets are committed (the agent counted "
                "the records as lost)");
    }
  }
}

void consumer_source::commit_done(bool sync) {
  std::map<partition_key, int64_t> offsets;
  while (!batches_.empty()) {
    batch& b = *batches_.front();
    if (!b.acked || b.dead_letters_pending > 0) break;
    for (const auto& [k, next] : b.next_offsets) offsets[k] = std::max(offsets[k], next);
    batches_.pop_front();
  }
  list_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [k, next] : offsets) {
    // A partition that moved on: its new owner reads from the positions it claimed; committing
    // here could move the group's offset under it.
    if (assigned_.count(k) == 0) continue;
    int64_t& done = committed_[k];
    if (next <= done) continue;
    done = next;
    rd_kafka_topic_partition_list_add(list.get(), k.first.c_str(), k.second)->offset = next;
  }
  if (list->cnt == 0) return;
  const rd_kafka_resp_err_t e = rd_kafka_commit(rk_, list.get(), sync ? 0 : 1);
  host_.counter_add("commits", 1);
  if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    host_.counter_add("commit_errors", 1);
    host_.log(sdk::level::warn, std::string("offset commit failed: ") + rd_kafka_err2str(e));
  }
}

void consumer_source::pause_all() {
  rd_kafka_topic_partition_list_t* parts = nullptr;
  if (rd_kafka_assignment(rk_, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
    rd_kafka_pause_partitions(rk_, parts);
    rd_kafka_topic_partition_list_destroy(parts);
  }
}

void consumer_source::on_rebalance(rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t* parts) {
  std::string names;
  std::vector<int32_t> numbers;
  for (int i = 0; i < parts->cnt; ++i) {
    names += (i ? "," : "") + std::to_string(parts->elems[i].partition);
    numbers.push_back(parts->elems[i].partition);
  }
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    host_.log(sdk::level::info, "assigned partitions [" + names + "] of " + topic_);
    claim(parts);
    // Before any message of them is read and after the claim (a previous owner's last batch
    // is committed or refused by then): the host reloads the state their checks left.
    host_.source_partitions(ISITUP_PARTITIONS_ASSIGNED, numbers.data(), numbers.size());
    for (int i = 0; i < parts->cnt; ++i) {
      committed_.erase({parts->elems[i].topic, parts->elems[i].partition});
      assigned_.insert({parts->elems[i].topic, parts->elems[i].partition});
      // Before the assignment: a partition's messages must all come through msgq_, in order.
      // Forwarded after it, the first fetched messages could land in the consumer queue while
      // later ones went to msgq_, and a batch's positions would then claim offsets it did not
      // hold (a writer killed then lost them). librdkafka keeps a forwarding the application
      // set before the fetch starts.
      if (rd_kafka_queue_t* q =
              rd_kafka_queue_get_partition(rk_, parts->elems[i].topic, parts->elems[i].partition)) {
        rd_kafka_queue_forward(q, msgq_);
        rd_kafka_queue_destroy(q);
      }
    }
    rd_kafka_assign(rk_, parts);  // at the claimed offsets, else the committed ones
    if (stopped_) rd_kafka_pause_partitions(rk_, parts);
    return;
  }
  host_.log(sdk::level::info, "partitions [" + names + "] of " + topic_ + " revoked");
  // Give batches already handed over a moment to be acknowledged, so that their offsets are
  // committed before the partitions move (fewer duplicates for the next owner). Bounded.
  const int64_t until = sdk::monotonic_ms() + (stopped_ ? 2000 : revoke_wait_ms);
  for (apply_acks(); sdk::monotonic_ms() < until; apply_acks()) {
    const bool waiting = std::any_of(batches_.begin(), batches_.end(),
                                     [](const auto& b) { return b->submitted && !b->acked; });
    if (!waiting) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  commit_done(true);
  // Batches not yet handed over are dropped: the partitions' next owner reads them again from
  // the committed offsets. Batches handed over are acknowledged later and committed if this
  // consumer owns the partition again; otherwise they are read twice (duplicates, not loss).
  while (!batches_.empty() && !batches_.back()->submitted) {
    for (isitup_parsed_record* p : batches_.back()->records) host_.raw()->record_free(p);
    batches_.pop_back();
  }
  rd_kafka_assign(rk_, nullptr);
  for (int i = 0; i < parts->cnt; ++i) {
    assigned_.erase({parts->elems[i].topic, parts->elems[i].partition});
    read_points_.erase(parts->elems[i].partition);
    carry_.erase(parts->elems[i].partition);
  }
  host_.source_partitions(ISITUP_PARTITIONS_REVOKED, numbers.data(), numbers.size());
}

void consumer_source::claim(rd_kafka_topic_partition_list_t* parts) {
  std::vector<isitup_position_v1> items;
  for (int i = 0; i < parts->cnt; ++i)
    if (topic_ == parts->elems[i].topic)
      items.push_back(
          isitup_position_v1{sizeof(isitup_position_v1), parts->elems[i].partition, -1, -1, 0});
  isitup_positions_v1 c{sizeof(isitup_positions_v1), group_.c_str(), topic_.c_str(), items.data(),
                        items.size()};
  std::string why;
  if (host_.claim_positions(c, claim_timeout_ms, why) != sdk::status::ok) {
    host_.counter_add("claim_failures", 1);
    host_.log(sdk::level::warn,
              "partitions not claimed, read from Kafka's committed offsets "
              "without fencing: " +
                  why);
    for (isitup_position_v1& p : items) p.next_offset = -1, p.epoch = 0;
  }
  std::string seeks;
  for (const isitup_position_v1& p : items) {
    read_points_[p.partition] = read_point{p.next_offset, p.epoch};
    if (p.next_offset < 0) continue;
    set_start(parts, topic_.c_str(), p.partition, p.next_offset);
    seeks += (seeks.empty() ? "" : ", ") + std::to_string(p.partition) + "@" +
             std::to_string(p.next_offset) + " epoch " + std::to_string(p.epoch);
  }
  if (!seeks.empty()) host_.log(sdk::level::info, "reading from the stored positions: " + seeks);
  start_unclaimed(parts);
}

// Left to librdkafka, a partition without a committed offset waits a fixed 100 ms before its
// reset (auto.offset.reset) is even asked for; asking for the committed offsets here, in one
// request, starts every partition at once: at its committed offset, else at start_from.
// start_from is then resolved to an offset too (one ListOffsets request per leader): a logical
// offset is resolved by librdkafka after the assignment, and when the partition has no leader
// broker yet at that moment (a new consumer usually), librdkafka retries only after a fixed
// 500 ms, so a new writer's partitions started half a second late about one time in three.
void consumer_source::start_unclaimed(rd_kafka_topic_partition_list_t* parts) {
  list_ptr ask(rd_kafka_topic_partition_list_new(parts->cnt));
  for (int i = 0; i < parts->cnt; ++i)
    if (parts->elems[i].offset == RD_KAFKA_OFFSET_INVALID)
      rd_kafka_topic_partition_list_add(ask.get(), parts->elems[i].topic,
                                        parts->elems[i].partition);
  if (ask->cnt == 0) return;
  if (const rd_kafka_resp_err_t e = rd_kafka_committed(rk_, ask.get(), committed_timeout_ms)) {
    // librdkafka asks again itself when the partitions are assigned without an offset.
    host_.log(sdk::level::debug,
              std::string("reading the committed offsets: ") + rd_kafka_err2str(e));
    return;
  }
  list_ptr fresh(rd_kafka_topic_partition_list_new(ask->cnt));
  for (int i = 0; i < ask->cnt; ++i) {
    const rd_kafka_topic_partition_t& got = ask->elems[i];
    if (got.err) continue;
    if (got.offset < 0)  // ListOffsets reads -2 as the log start and -1 as its end
      rd_kafka_topic_partition_list_add(fresh.get(), got.topic, got.partition)->offset =
          start_offset_;
    set_start(parts, got.topic, got.partition, got.offset >= 0 ? got.offset : start_offset_);
  }
  if (fresh->cnt == 0) return;
  if (const rd_kafka_resp_err_t e =
          rd_kafka_offsets_for_times(rk_, fresh.get(), committed_timeout_ms)) {
    // The logical offset stays: librdkafka resolves it after the assignment.
    host_.log(sdk::level::debug,
              std::string("resolving start_from to offsets: ") + rd_kafka_err2str(e));
    return;
  }
  std::string starts;
  for (int i = 0; i < fresh->cnt; ++i) {
    const rd_kafka_topic_partition_t& got = fresh->elems[i];
    if (got.err || got.offset < 0) continue;
    set_start(parts, got.topic, got.partition, got.offset);
    starts += (starts.empty() ? "" : ", ") + std::to_string(got.partition) + "@" +
              std::to_string(got.offset);
  }
  if (!starts.empty())
    host_.log(sdk::level::info, std::string("no committed offsets: reading from the ") +
                                    (start_offset_ == RD_KAFKA_OFFSET_END ? "end" : "start") +
                                    " (start_from): " + starts);
}

void consumer_source::set_start(rd_kafka_topic_partition_list_t* parts, const char* topic,
                                int32_t partition, int64_t offset) {
  for (int k = 0; k < parts->cnt; ++k)
    if (parts->elems[k].partition == partition && std::string_view(parts->elems[k].topic) == topic)
      parts->elems[k].offset = offset;
}

}  // namespace isitup::kafka
