#include "kafka_catalog.hpp"

#include <pthread.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <map>
#include <stdexcept>

#include "kafka_tls_files.hpp"

#include <isitup/config_map.hpp>
#include <isitup/util/clock.hpp>

namespace isitup::kafka {
namespace {

constexpr int poll_ms = 100;

struct handle_deleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using handle_ptr = std::unique_ptr<rd_kafka_t, handle_deleter>;

struct list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, list_deleter>;

std::string join(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

handle_ptr new_handle(rd_kafka_type_t type, conf_ptr conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (!rk) throw std::runtime_error(std::string("cannot create a Kafka client: ") + err);
  static_cast<void>(conf.release());  // owned by rk now
  return handle_ptr(rk);
}

// The delivery reports of one publish() call.
struct delivery_state {
  size_t done = 0, failed = 0;
  std::string first_error;
};

}  // namespace

namespace {

// The catalog's options, declared once (sdk::config_map).
struct catalog_settings {
  std::string brokers, topic, group;
  std::vector<std::pair<std::string, std::string>> properties;
  std::chrono::milliseconds read_timeout{0};
};

const sdk::config_map<catalog_settings>& catalog_map() {
  using s = catalog_settings;
  static const auto map =
      sdk::config_map<s>()
          .string("brokers", &s::brokers, nullptr, "bootstrap servers, host:port[,host:port...]")
          .required()
          .non_empty()
          .string("topic", &s::topic, "isitup.checks",
                  "the catalog topic: key = check name, value = its definition, empty = deleted")
          .non_empty()
          .string("group", &s::group, nullptr,
                  "consumer group of the probes of one location (probes-eu-west); every location "
                  "has its own; needed to run in catalog mode, not to publish")
          .map("properties", &s::properties, nullptr,
               "librdkafka properties passed through from kafka_sink's allowlist (TLS, SASL, "
               "session.timeout.ms (default 10000), heartbeat.interval.ms (default 1000), ...)")
          .duration("read_timeout", &s::read_timeout, "30s",
                    "--publish-checks: how long reading the current catalog or publishing may "
                    "take",
                    std::chrono::milliseconds(1), std::chrono::hours(24));
  return map;
}

}  // namespace

std::vector<sdk::option> catalog_options() { return catalog_map().options(); }

kafka_catalog::kafka_catalog(const sdk::host& host, const sdk::options_view& options)
    : host_(host), cb_ctx_{host, this, {}, {}} {
  const catalog_settings settings = catalog_map().read(options);
  brokers_ = settings.brokers;
  topic_ = settings.topic;
  group_ = settings.group;
  read_timeout_ms_ = settings.read_timeout.count();
  user_ = settings.properties;
  check_tls_files(user_);
  make_conf({}, user_properties(true));  // refuses a bad property now, not at start()
}

kafka_catalog::~kafka_catalog() { stop(); }

property_list kafka_catalog::user_properties(bool group_member) const {
  property_list out = user_;
  set_default(out, "client.id", "isitup-catalog");
  if (group_member) {
    set_default(out, "session.timeout.ms", "10000");
    set_default(out, "heartbeat.interval.ms", "1000");
    set_default(out, "partition.assignment.strategy", "cooperative-sticky");
    // A catalog is small and quiet: read new partitions and changes at once, not after the
    // default 500 ms a fetch may wait for data.
    set_default(out, "fetch.wait.max.ms", "100");
  }
  return out;
}

int64_t kafka_catalog::session_timeout_ms() const {
  for (const auto& [name, value] : user_properties(true)) {
    if (name != "session.timeout.ms") continue;
    int64_t ms = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    return ec == std::errc() && end == value.data() + value.size() && ms > 0 ? ms : 0;
  }
  return 0;
}

void kafka_catalog::deliver(const rd_kafka_message_t* m, isitup_catalog_entry_fn fn, void* fn_ctx) {
  const std::string where = topic_ + " partition " + std::to_string(m->partition) + " offset " +
                            std::to_string(m->offset);
  if (!m->key || m->key_len == 0) {
    host_.counter_add("catalog_messages_without_key", 1);
    host_.log(sdk::level::warn, where + ": a catalog message without a key; skipped");
    return;
  }
  isitup_catalog_entry_v1 e{};
  e.struct_size = sizeof e;
  e.key = static_cast<const char*>(m->key);
  e.key_len = m->key_len;
  e.value = m->payload ? static_cast<const char*>(m->payload) : nullptr;
  e.value_len = m->payload ? m->len : 0;
  e.partition = m->partition;
  e.offset = m->offset;
  fn(fn_ctx, &e);
}

void kafka_catalog::read_all(isitup_catalog_entry_fn fn, void* fn_ctx) {
  conf_ptr conf = make_conf({{"bootstrap.servers", brokers_},
                             {"group.id", "isitup-catalog-reader"},
                             {"enable.auto.commit", "false"},
                             {"enable.partition.eof", "false"}},
                            user_properties(false));
  route_logs(conf.get(), &cb_ctx_);
  handle_ptr rk = new_handle(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(rk.get());
  const int64_t deadline = sdk::monotonic_ms() + read_timeout_ms_;
  const auto left = [&] {
    return static_cast<int>(std::max<int64_t>(1, deadline - sdk::monotonic_ms()));
  };

  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), topic_.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk.get(), 0, rkt, &md, left());
  rd_kafka_topic_destroy(rkt);
  if (err)
    throw std::runtime_error("cannot read the catalog's metadata: " +
                             std::string(rd_kafka_err2str(err)));
  std::vector<int32_t> partitions;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int t = 0; t < md->topic_cnt; ++t) {
    if (topic_ != md->topics[t].topic) continue;
    topic_err = md->topics[t].err;
    for (int p = 0; p < md->topics[t].partition_cnt; ++p)
      partitions.push_back(md->topics[t].partitions[p].id);
  }
  rd_kafka_metadata_destroy(md);
  if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return;  // no catalog yet: empty
  if (topic_err)
    throw std::runtime_error("catalog topic " + topic_ + ": " + rd_kafka_err2str(topic_err));

  std::map<int32_t, int64_t> end;  // partition -> high watermark still to reach
  list_ptr assign(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (int32_t p : partitions) {
    int64_t lo = 0, hi = 0;
    err = rd_kafka_query_watermark_offsets(rk.get(), topic_.c_str(), p, &lo, &hi, left());
    if (err)
      throw std::runtime_error("cannot read the end of catalog partition " + std::to_string(p) +
                               ": " + rd_kafka_err2str(err));
    if (hi <= lo) continue;
    end[p] = hi;
    rd_kafka_topic_partition_list_add(assign.get(), topic_.c_str(), p)->offset = lo;
  }
  if (end.empty()) return;
  if ((err = rd_kafka_assign(rk.get(), assign.get())))
    throw std::runtime_error(std::string("cannot read the catalog: ") + rd_kafka_err2str(err));
  while (!end.empty()) {
    if (sdk::monotonic_ms() >= deadline)
      throw std::runtime_error("reading the catalog took longer than read_timeout (" +
                               std::to_string(end.size()) + " partitions not read to their end)");
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), poll_ms);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const auto it = end.find(m->partition);
      if (it != end.end()) {
        deliver(m, fn, fn_ctx);
        if (m->offset + 1 >= it->second) end.erase(it);
      }
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      host_.log(sdk::level::debug, std::string("catalog read: ") + rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk.get());
}

void kafka_catalog::publish(const isitup_catalog_entry_v1* const* entries, size_t count) {
  if (count == 0) return;
  conf_ptr conf = make_conf({{"bootstrap.servers", brokers_},
                             {"enable.idempotence", "true"},
                             {"acks", "all"},
                             {"linger.ms", "5"}},
                            user_properties(false));
  route_logs(conf.get(), &cb_ctx_);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    auto* st = static_cast<delivery_state*>(m->_private);
    ++st->done;
    if (m->err) {
      if (st->failed++ == 0) st->first_error = rd_kafka_err2str(m->err);
    }
  });
  handle_ptr rk = new_handle(RD_KAFKA_PRODUCER, std::move(conf));
  delivery_state st;
  const int64_t deadline = sdk::monotonic_ms() + read_timeout_ms_;
  for (size_t i = 0; i < count; ++i) {
    const isitup_catalog_entry_v1& e = *entries[i];
    for (;;) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          rk.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
          RD_KAFKA_V_KEY(const_cast<char*>(e.key), e.key_len),
          RD_KAFKA_V_VALUE(const_cast<char*>(e.value), e.value ? e.value_len : 0),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&st), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || sdk::monotonic_ms() >= deadline)
        throw std::runtime_error(std::string("cannot publish to the catalog: ") +
                                 rd_kafka_err2str(err));
      rd_kafka_poll(rk.get(), poll_ms);
    }
  }
  rd_kafka_flush(rk.get(), static_cast<int>(std::max<int64_t>(1, deadline - sdk::monotonic_ms())));
  if (st.done < count)
    throw std::runtime_error(std::to_string(count - st.done) + " of " + std::to_string(count) +
                             " catalog messages not acknowledged within read_timeout");
  if (st.failed > 0)
    throw std::runtime_error(std::to_string(st.failed) + " of " + std::to_string(count) +
                             " catalog messages failed: " + st.first_error);
}

void kafka_catalog::start(const isitup_catalog_events_v1& events) {
  if (group_.empty())
    throw std::invalid_argument("group: catalog mode needs the probes' consumer group");
  if (rk_) throw std::logic_error("the catalog is already started");
  events_ = events;
  conf_ptr conf = make_conf({{"bootstrap.servers", brokers_},
                             {"group.id", group_},
                             {"enable.auto.commit", "false"},
                             {"enable.auto.offset.store", "false"},
                             {"enable.partition.eof", "false"},
                             {"auto.offset.reset", "earliest"}},
                            user_properties(true));
  route_logs(conf.get(), &cb_ctx_);
  rd_kafka_conf_set_rebalance_cb(
      conf.get(), [](rd_kafka_t* rk, rd_kafka_resp_err_t err,
                     rd_kafka_topic_partition_list_t* parts, void* opaque) {
        static_cast<kafka_catalog*>(static_cast<callback_context*>(opaque)->owner)
            ->on_rebalance(rk, err, parts);
      });
  // Served by rd_kafka_consumer_poll, on the plugin's thread (as the rebalances are).
  rd_kafka_conf_set_error_cb(conf.get(), [](rd_kafka_t*, int err, const char* reason,
                                            void* opaque) {
    auto* self = static_cast<kafka_catalog*>(static_cast<callback_context*>(opaque)->owner);
    const auto e = static_cast<rd_kafka_resp_err_t>(err);
    if (e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
        e == RD_KAFKA_RESP_ERR__RESOLVE)
      self->unreachable_ = true;
    const std::string text = std::string("catalog: ") + (reason ? reason : rd_kafka_err2str(e));
    if (self->errors_.due(text))
      self->host_.log(
          e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ? sdk::level::warn : sdk::level::debug, text);
  });
  rk_ = new_handle(RD_KAFKA_CONSUMER, std::move(conf)).release();
  rd_kafka_poll_set_consumer(rk_);
  topic_handle_ = rd_kafka_topic_new(rk_, topic_.c_str(), nullptr);
  list_ptr topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic_.c_str(), RD_KAFKA_PARTITION_UA);
  if (const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, topics.get())) {
    if (topic_handle_) rd_kafka_topic_destroy(topic_handle_);
    topic_handle_ = nullptr;
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    throw std::runtime_error(std::string("cannot join the catalog group: ") +
                             rd_kafka_err2str(err));
  }
  host_.log(sdk::level::info, "joining group " + group_ + " on catalog " + topic_);
  quit_ = false;
  thread_ = std::thread([this] { run(); });
}

void kafka_catalog::run() {
  // Named for ps/top and the fleet benchmark, which reads this thread's CPU (messages read).
  pthread_setname_np(pthread_self(), thread_name);
  while (!quit_) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, poll_ms);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      unreachable_ = false;
      deliver(m, events_.entry, events_.ctx);
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      const std::string text = std::string("catalog: ") + rd_kafka_message_errstr(m);
      if (errors_.due(text)) host_.log(sdk::level::warn, text);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk_);  // revokes (through on_rebalance) and leaves the group
}

void kafka_catalog::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* parts) {
  std::vector<int32_t> ids;
  for (int i = 0; parts && i < parts->cnt; ++i) ids.push_back(parts->elems[i].partition);
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    unreachable_ = false;
    for (int i = 0; i < parts->cnt; ++i) parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    host_.log(sdk::level::info, "assigned catalog partitions [" + join(ids) + "]");
    events_.assigned(events_.ctx, ids.data(), ids.size());
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts)) {
        host_.log(sdk::level::error,
                  std::string("cannot take catalog partitions: ") + rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk, parts);
    }
    return;
  }
  const bool lost = rd_kafka_assignment_lost(rk);
  if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
    host_.log(sdk::level::error, std::string("catalog rebalance failed: ") + rd_kafka_err2str(err));
  // Lost while the brokers could not be reached (an outage: no member can heartbeat, so no
  // other member takes them over): the host keeps the checks running until the next
  // assignment. Lost while the brokers answered (this process stalled past the session
  // timeout: the group gave them to others), or revoked: their checks stop first.
  const bool keep = lost && unreachable_;
  host_.log(sdk::level::info, std::string(keep   ? "lost (brokers unreachable)"
                                          : lost ? "lost (session expired)"
                                                 : "revoked") +
                                  " catalog partitions [" + join(ids) + "]");
  const bool has_lost = events_.struct_size >= offsetof(isitup_catalog_events_v1, lost) +
                                                   sizeof(isitup_catalog_partitions_fn) &&
                        events_.lost;
  (keep && has_lost ? events_.lost : events_.revoked)(events_.ctx, ids.data(), ids.size());
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts)) rd_kafka_error_destroy(e);
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

void kafka_catalog::stop() {
  quit_ = true;
  if (thread_.joinable()) thread_.join();
  if (topic_handle_) rd_kafka_topic_destroy(topic_handle_);
  topic_handle_ = nullptr;
  if (rk_) rd_kafka_destroy(rk_);
  rk_ = nullptr;
}

}  // namespace isitup::kafka
