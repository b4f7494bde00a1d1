// isitup-kafka-dev: a Kafka-protocol broker for development and tests, hosted on librdkafka's
// mock cluster. Starts N brokers on 127.0.0.1, creates topics, prints the bootstrap servers,
// takes fault commands on stdin (one per line, answered with one line) and runs until
// SIGTERM/SIGINT. Data lives in memory only. Not for production.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <strings.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "forwarder.hpp"
#include "tls_front.hpp"

namespace {

volatile std::sig_atomic_t stop_signal = 0;
extern "C" void on_signal(int sig) { stop_signal = sig; }

constexpr const char* commands_help =
    R"(Commands (stdin, one per line; each is answered with one line, "ok ..." or "error: ...";
"help" prints this list after its "ok"; lines starting with # are ignored):
  down <broker|all>                 take broker(s) down: connections closed, new ones dropped
  up <broker|all>                   bring broker(s) back
  rtt <broker|all> <ms>             delay every response of the broker(s) by <ms>
  error <api> <error> [count]       the next <count> (1) requests of <api> to any broker fail
                                    with <error>; _TRANSPORT disconnects the client
  broker-error <broker> <api> <error> <delay_ms> [count]
                                    the same for one broker, answered after <delay_ms>
  clear <api>                       forget errors pushed for <api>
  leader <topic> <partition> <broker>
                                    move a partition's leader (-1: no leader)
  create <topic> <partitions> [replication]
                                    create a topic
  bootstrap                         print the bootstrap servers again
  help                              this text
<api>: a name (Produce, Fetch, ListOffsets, Metadata, OffsetCommit, OffsetFetch,
  FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, ApiVersions, InitProducerId)
  or a number. <error>: a librdkafka error name (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT,
  _TRANSPORT, ...) or a number.)";

struct api_name {
  const char* name;
  int16_t key;
};
constexpr api_name apis[] = {{"Produce", 0},          {"Fetch", 1},        {"ListOffsets", 2},
                             {"Metadata", 3},         {"OffsetCommit", 8}, {"OffsetFetch", 9},
                             {"FindCoordinator", 10}, {"JoinGroup", 11},   {"Heartbeat", 12},
                             {"LeaveGroup", 13},      {"SyncGroup", 14},   {"ApiVersions", 18},
                             {"InitProducerId", 22}};

bool parse_int(const std::string& s, long long& out) {
  try {
    size_t used = 0;
    out = std::stoll(s, &used);
    return used == s.size();
  } catch (...) {
    return false;
  }
}

bool parse_api(const std::string& s, int16_t& key) {
  for (const api_name& a : apis)
    if (strcasecmp(a.name, s.c_str()) == 0) {
      key = a.key;
      return true;
    }
  long long n;
  if (!parse_int(s, n) || n < 0 || n > 100) return false;
  key = static_cast<int16_t>(n);
  return true;
}

bool parse_error(const std::string& s, rd_kafka_resp_err_t& err) {
  long long n;
  if (parse_int(s, n)) {
    err = static_cast<rd_kafka_resp_err_t>(n);
    return true;
  }
  const rd_kafka_err_desc* descs;
  size_t cnt;
  rd_kafka_get_err_descs(&descs, &cnt);
  for (size_t i = 0; i < cnt; ++i)
    if (descs[i].name && strcasecmp(descs[i].name, s.c_str()) == 0) {
      err = descs[i].code;
      return true;
    }
  return false;
}

class dev_cluster {
 public:
  dev_cluster(int brokers) : brokers_(brokers) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk_) throw std::runtime_error(std::string("cannot create the client handle: ") + err);
    mc_ = rd_kafka_mock_cluster_new(rk_, brokers);
    if (!mc_) throw std::runtime_error("cannot create the mock cluster");
  }
  ~dev_cluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  dev_cluster(const dev_cluster&) = delete;
  dev_cluster& operator=(const dev_cluster&) = delete;

  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mc_); }
  rd_kafka_mock_cluster_t* mock() { return mc_; }
  int brokers() const { return brokers_; }

  // Runs one command line; returns the reply line.
  std::string execute(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> w;
    for (std::string s; in >> s;) w.push_back(s);
    if (w.empty()) return "";
    const std::string& cmd = w[0];
    if (cmd == "help") return std::string("ok\n") + commands_help;
    if (cmd == "bootstrap") return "ok " + bootstraps();
    if ((cmd == "down" || cmd == "up") && w.size() == 2) {
      return for_brokers(w[1], [&](int32_t id) {
        return cmd == "down" ? rd_kafka_mock_broker_set_down(mc_, id)
                             : rd_kafka_mock_broker_set_up(mc_, id);
      });
    }
    if (cmd == "rtt" && w.size() == 3) {
      long long ms;
      if (!parse_int(w[2], ms) || ms < 0) return "error: rtt: <ms> must be a number >= 0";
      return for_brokers(w[1], [&](int32_t id) {
        return rd_kafka_mock_broker_set_rtt(mc_, id, static_cast<int>(ms));
      });
    }
    if (cmd == "error" && (w.size() == 3 || w.size() == 4)) {
      int16_t api;
      rd_kafka_resp_err_t err;
      long long count = 1;
      if (!parse_api(w[1], api)) return "error: unknown api " + w[1];
      if (!parse_error(w[2], err)) return "error: unknown error " + w[2];
      if (w.size() == 4 && (!parse_int(w[3], count) || count < 1 || count > 100000))
        return "error: count must be 1..100000";
      std::vector<rd_kafka_resp_err_t> errs(static_cast<size_t>(count), err);
      rd_kafka_mock_push_request_errors_array(mc_, api, errs.size(), errs.data());
      return "ok " + std::to_string(count) + " x " + rd_kafka_err2name(err);
    }
    if (cmd == "broker-error" && (w.size() == 5 || w.size() == 6)) {
      long long broker, delay, count = 1;
      int16_t api;
      rd_kafka_resp_err_t err;
      if (!parse_int(w[1], broker)) return "error: bad broker id " + w[1];
      if (!parse_api(w[2], api)) return "error: unknown api " + w[2];
      if (!parse_error(w[3], err)) return "error: unknown error " + w[3];
      if (!parse_int(w[4], delay) || delay < 0) return "error: delay_ms must be >= 0";
      if (w.size() == 6 && (!parse_int(w[5], count) || count < 1 || count > 1000))
        return "error: count must be 1..1000";
      for (long long i = 0; i < count; ++i) {
        const rd_kafka_resp_err_t r = rd_kafka_mock_broker_push_request_error_rtts(
            mc_, static_cast<int32_t>(broker), api, 1, err, static_cast<int>(delay));
        if (r) return std::string("error: ") + rd_kafka_err2str(r);
      }
      return "ok";
    }
    if (cmd == "clear" && w.size() == 2) {
      int16_t api;
      if (!parse_api(w[1], api)) return "error: unknown api " + w[1];
      rd_kafka_mock_clear_request_errors(mc_, api);
      return "ok";
    }
    if (cmd == "leader" && w.size() == 4) {
      long long part, broker;
      if (!parse_int(w[2], part) || !parse_int(w[3], broker))
        return "error: leader <topic> <partition> <broker>";
      return result(rd_kafka_mock_partition_set_leader(
          mc_, w[1].c_str(), static_cast<int32_t>(part), static_cast<int32_t>(broker)));
    }
    if (cmd == "create" && (w.size() == 3 || w.size() == 4)) {
      long long parts, repl = std::min(brokers_, 3);
      if (!parse_int(w[2], parts) || parts < 1) return "error: partitions must be >= 1";
      if (w.size() == 4 && (!parse_int(w[3], repl) || repl < 1 || repl > brokers_))
        return "error: replication must be 1.." + std::to_string(brokers_);
      return create_topic(w[1], static_cast<int>(parts), static_cast<int>(repl));
    }
    return "error: unknown or malformed command: " + line + " (try: help)";
  }

  std::string create_topic(const std::string& name, int partitions, int replication) {
    return result(rd_kafka_mock_topic_create(mc_, name.c_str(), partitions, replication));
  }

 private:
  static std::string result(rd_kafka_resp_err_t err) {
    return err ? std::string("error: ") + rd_kafka_err2str(err) : "ok";
  }
  template <class F>
  std::string for_brokers(const std::string& which, F f) {
    if (which == "all") {
      for (int32_t id = 1; id <= brokers_; ++id)
        if (rd_kafka_resp_err_t e = f(id)) return result(e);
      return "ok";
    }
    long long id;
    if (!parse_int(which, id) || id < 1 || id > brokers_)
      return "error: broker must be 1.." + std::to_string(brokers_) + " or all";
    return result(f(static_cast<int32_t>(id)));
  }

  int brokers_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
};

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << '\n';
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

void say(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int dev_main(int argc, char** argv) {
  CLI::App app{
      "isitup-kafka-dev: a Kafka-protocol broker for DEVELOPMENT AND TESTS ONLY, NOT FOR "
      "PRODUCTION.\n"
      "It runs librdkafka's mock cluster: data is kept in memory only (about 5 MB per "
      "partition, older messages are dropped), no SASL and no admin API; with --tls every "
      "broker is reached over TLS only;\n"
      "topics are auto-created with 4 partitions. Brokers listen on 127.0.0.1 (random ports). "
      "The first line on stdout is the bootstrap servers list.\n\n" +
      std::string(commands_help)};
  int brokers = 1;
  int port = 0;
  int partitions = 4;
  std::vector<std::string> topics;
  std::string bootstrap_file;
  app.add_option("-b,--brokers", brokers, "Number of brokers (ids 1..N)")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  app.add_option("-t,--topic", topics,
                 "Create a topic at start: NAME or NAME:PARTITIONS (repeatable)");
  app.add_option("--partitions", partitions, "Partitions of --topic entries without a count")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--port", port,
                 "Also accept bootstrap connections on 127.0.0.1:PORT (forwarded to broker 1), "
                 "so clients can be configured before the broker starts; printed as the "
                 "bootstrap list")
      ->check(CLI::Range(0, 65535));
  std::vector<std::string> tls_files;
  std::string client_ca;
  app.add_option("--tls", tls_files,
                 "Serve the Kafka protocol over TLS only: CERT (PEM, with its chain) and KEY "
                 "(PEM, unencrypted) of the brokers; each broker gets a TLS port and Metadata "
                 "names only those")
      ->expected(2)
      ->type_name("CERT KEY");
  app.add_option("--client-ca", client_ca,
                 "With --tls: require a client certificate issued by this CA (PEM)")
      ->needs("--tls");
  std::string sasl;
  app.add_option("--sasl-plain", sasl,
                 "With --tls: clients must authenticate with SASL/PLAIN as USER:PASSWORD "
                 "(security.protocol=sasl_ssl)")
      ->needs("--tls")
      ->type_name("USER:PASSWORD");
  app.add_option("--bootstrap-file", bootstrap_file,
                 "Also write the bootstrap servers list to this file (atomically)");
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  try {
    dev_cluster cluster(brokers);
    for (const std::string& t : topics) {
      std::string name = t;
      int parts = partitions;
      if (const auto colon = t.rfind(':'); colon != std::string::npos) {
        name = t.substr(0, colon);
        long long n;
        if (!parse_int(t.substr(colon + 1), n) || n < 1 || n > 1000)
          throw std::runtime_error("--topic " + t + ": partitions must be 1..1000");
        parts = static_cast<int>(n);
      }
      const std::string r = cluster.create_topic(name, parts, std::min(brokers, 3));
      if (r != "ok") throw std::runtime_error("--topic " + t + ": " + r);
    }
    std::unique_ptr<isitup::kafka_dev::forwarder> fwd;
    std::unique_ptr<isitup::kafka_dev::tls_context> tls;
    std::vector<std::unique_ptr<isitup::kafka_dev::tls_front>> fronts;
    isitup::kafka_dev::port_map tls_ports;
    std::string bootstrap = cluster.bootstraps();
    if (!tls_files.empty()) {
      tls = std::make_unique<isitup::kafka_dev::tls_context>(tls_files[0], tls_files[1], client_ca);
      if (!sasl.empty()) {
        const auto colon = sasl.find(':');
        if (colon == 0 || colon == std::string::npos)
          throw std::runtime_error("--sasl-plain: expected USER:PASSWORD");
        tls->require_sasl_plain({sasl.substr(0, colon), sasl.substr(colon + 1)});
      }
      std::string list;
      for (std::istringstream in(bootstrap); std::getline(in, list, ',');) {
        const int upstream = std::stoi(list.substr(list.rfind(':') + 1));
        fronts.push_back(std::make_unique<isitup::kafka_dev::tls_front>(fronts.empty() ? port : 0,
                                                                        upstream, *tls));
        tls_ports[upstream] = fronts.back()->port();
      }
      bootstrap.clear();
      for (const auto& f : fronts) {
        f->start(tls_ports);
        bootstrap +=
            (bootstrap.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(f->port());
      }
    } else if (port > 0) {
      const std::string first = bootstrap.substr(0, bootstrap.find(','));
      const int upstream = std::stoi(first.substr(first.rfind(':') + 1));
      fwd = std::make_unique<isitup::kafka_dev::forwarder>(port, upstream);
      bootstrap = "127.0.0.1:" + std::to_string(port);
    }
    if (!bootstrap_file.empty()) write_file_atomically(bootstrap_file, bootstrap);
    say(bootstrap);
    std::fprintf(stderr,
                 "isitup-kafka-dev: %d broker(s) at %s%s%s (development and tests only); "
                 "commands on stdin, 'help' lists them; SIGTERM stops\n",
                 brokers, cluster.bootstraps().c_str(), tls ? ", over TLS at " : "",
                 tls ? bootstrap.c_str() : "");

    bool stdin_open = true;
    std::string pending;
    while (!stop_signal) {
      if (!stdin_open) {
        poll(nullptr, 0, 200);
        continue;
      }
      pollfd p{STDIN_FILENO, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = false;  // no more commands; keep serving until a signal
        continue;
      }
      pending.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
        const std::string reply = cluster.execute(line);
        say(reply);
        std::fprintf(stderr, "isitup-kafka-dev: %s -> %s\n", line.c_str(),
                     reply.substr(0, reply.find('\n')).c_str());
      }
    }
    std::fprintf(stderr, "isitup-kafka-dev: stopping (%s)\n", sigdescr_np(stop_signal));
    fwd.reset();
    fronts.clear();
    if (!bootstrap_file.empty()) std::filesystem::remove(bootstrap_file);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isitup-kafka-dev: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return dev_main(argc, argv);
  } catch (const std::exception& e) {  // before the cluster starts: building the options
    std::fprintf(stderr, "isitup-kafka-dev: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "isitup-kafka-dev: unknown error\n");
  }
  return 1;
}
