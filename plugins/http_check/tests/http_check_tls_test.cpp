// http_check's TLS material against the test nginx: CA stores (a ca_file of ~145 certificates,
// the default store pointed elsewhere by SSL_CERT_FILE) loaded once and shared, files that
// change on disk (a new store is used, a broken one is reported and the old one kept), client
// identities, and a `tls` phase that measures the handshake and not the loading of a store.
// Both engines: the lean one (engine: auto) and curl.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "http_fixture.hpp"
#include "scoped_env.hpp"

namespace isitup::http {
namespace {

using namespace testing;  // the fixture's names (http_fixture.hpp)

namespace fs = std::filesystem;

const char* const system_bundle = "/etc/ssl/certs/ca-certificates.crt";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

size_t certificates_in(const std::string& pem) {
  size_t n = 0;
  for (size_t at = pem.find("BEGIN CERTIFICATE"); at != std::string::npos;
       at = pem.find("BEGIN CERTIFICATE", at + 1))
    ++n;
  return n;
}

// Replaces `path` the way a package update does: a new file renamed over the old one.
void replace_file(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".new";
  std::ofstream(tmp, std::ios::binary | std::ios::trunc) << text;
  fs::rename(tmp, path);
}

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

class http_check_tls_test : public testing::http_check_test {
 protected:
  void SetUp() override {
    http_check_test::SetUp();
    ASSERT_TRUE(nginx().ok()) << nginx().error();
    const std::string system = read_all(system_bundle);
    ASSERT_GT(certificates_in(system), 100u) << system_bundle << " (Debian's ca-certificates)";
    // The system bundle plus the test CA: what a site with an internal CA configures.
    bundle_ = dir_.write("bundle.pem", system + read_all(nginx().certs().ca));
    ASSERT_GE(certificates_in(read_all(bundle_)), 140u);
    char err[256] = "";
    ASSERT_EQ(ops_->create(host_.table(), host_.ctx(), &raw_, err, sizeof err), ISITUP_OK) << err;
  }
  void TearDown() override {
    if (raw_) {
      for (void* c : raw_checks_) ops_->release(raw_, c);
      ops_->destroy(raw_);
    }
    http_check_test::TearDown();
  }

  // Checks of https://127.0.0.1:<port>/?n=i (an IP SAN of the test certificate) on this run's
  // engine, all started at once through the raw ABI; returns when every run completed.
  std::vector<observed> wave(int count, option_map options) {
    options.emplace("engine", GetParam());
    std::vector<void*> checks;
    for (int i = 0; i < count; ++i) {
      const std::string url =
          "https://127.0.0.1:" + std::to_string(nginx().https_port) + "/?n=" + std::to_string(i);
      raw_options_.push_back(
          std::make_unique<sdk::testing::fake_options>(ops_->options, ops_->option_count, options));
      const isitup_check_spec_v1 spec{sizeof spec, url.c_str(), url.c_str(),
                                      60000,       10000,       raw_options_.back()->raw()};
      char err[256] = "";
      void* check = nullptr;
      EXPECT_EQ(ops_->prepare(raw_, &spec, &check, err, sizeof err), ISITUP_OK) << err;
      if (!check) return {};
      raw_checks_.push_back(check);
      checks.push_back(check);
    }
    struct collector {
      std::mutex mu;
      std::condition_variable cv;
      std::vector<observed> results;
    } c;
    for (void* check : checks) {
      const isitup_run_v1 run{sizeof run, 0, 10000};
      ops_->start(
          raw_, check, &run,
          [](void* ctx, const isitup_record_v1* v) {
            auto* c = static_cast<collector*>(ctx);
            observed r;
            r.done = true;
            static_cast<sdk::record&>(r) = sdk::record::from(*v);
            std::lock_guard lock(c->mu);
            c->results.push_back(std::move(r));
            c->cv.notify_all();
          },
          &c);
    }
    std::unique_lock lock(c.mu);
    EXPECT_TRUE(c.cv.wait_for(lock, 30s, [&] { return c.results.size() == checks.size(); }));
    return c.results;
  }

  // Every result up (the first one that is not is shown).
  static void expect_all_up(const std::vector<observed>& results, size_t count) {
    EXPECT_EQ(results.size(), count);
    size_t up = 0;
    for (const observed& r : results) up += r.up ? 1 : 0;
    EXPECT_EQ(up, results.size());
    for (const observed& r : results)
      if (!r.up) {
        ADD_FAILURE() << "first down: " << r;
        break;
      }
  }

  static double median_tls(const std::vector<observed>& results) {
    std::vector<double> tls;
    for (const observed& r : results)
      if (r.tls_ms >= 0) tls.push_back(r.tls_ms);
    if (tls.empty()) return 1e9;
    std::sort(tls.begin(), tls.end());
    return tls[tls.size() / 2];
  }

  std::string url(const std::string& path = "/") const {
    return "https://127.0.0.1:" + std::to_string(nginx().https_port) + path;
  }

  test::temp_dir dir_;
  std::string bundle_;
  // A second instance of the plugin for many checks at once through the raw ABI.
  const isitup_check_ops_v1* ops_ = isitup_plugin_entry()->check;
  void* raw_ = nullptr;
  std::vector<void*> raw_checks_;
  std::vector<std::unique_ptr<sdk::testing::fake_options>> raw_options_;
};

TEST_P(http_check_tls_test, ca_file_of_145_certificates_every_check_up_at_low_cpu) {
  // Prepared first: the store is read then, not while checks run.
  expect_all_up(wave(20, {{"ca_file", bundle_}}), 20);
  const double cpu0 = process_cpu_seconds();
  const std::vector<observed> results = wave(200, {{"ca_file", bundle_}});
  const double cpu_ms = (process_cpu_seconds() - cpu0) * 1000.0 / 200.0;
  expect_all_up(results, 200);
  // Parsing the bundle per check costs ~20 ms here; a handshake with a shared store ~1 ms.
  std::printf("CPU per verify-on check (ca_file, %zu CAs): %.2f ms\n",
              certificates_in(read_all(bundle_)), cpu_ms);
  EXPECT_LT(cpu_ms, 5.0);
}

// Four loops verify with the same shared store (each loop has its own SSL_CTX; the store is
// installed per connection), every check up, at the same low CPU per check.
TEST_P(http_check_tls_test, several_loops_share_the_store) {
  const option_map options{{"ca_file", bundle_}, {"loops", "4"}};
  expect_all_up(wave(20, options), 20);
  const double cpu0 = process_cpu_seconds();
  const std::vector<observed> results = wave(200, options);
  const double cpu_ms = (process_cpu_seconds() - cpu0) * 1000.0 / 200.0;
  expect_all_up(results, 200);
  std::printf("CPU per verify-on check on 4 loops: %.2f ms\n", cpu_ms);
  EXPECT_LT(cpu_ms, 5.0);
}

TEST_P(http_check_tls_test, default_store_follows_ssl_cert_file) {
  {
    // The plugin reads SSL_CERT_FILE when it first needs the default store (a check prepared).
    const test::scoped_env env("SSL_CERT_FILE", bundle_);
    // A new plugin instance reads the default store when its first check needs it.
    expect_all_up(wave(20, {}), 20);
    const double cpu0 = process_cpu_seconds();
    const std::vector<observed> results = wave(200, {});
    const double cpu_ms = (process_cpu_seconds() - cpu0) * 1000.0 / 200.0;
    expect_all_up(results, 200);
    std::printf("CPU per verify-on check (default store = SSL_CERT_FILE): %.2f ms\n", cpu_ms);
    EXPECT_LT(cpu_ms, 5.0);
  }
  // Without it the default store is the system's, which does not know the test CA.
  fake_host other;
  sdk::testing::check_under_test plugin(other, isitup_plugin_entry());
  std::string error;
  void* c = plugin.prepare("x", url(), {{"engine", GetParam()}}, error, 60s, 5s);
  ASSERT_NE(c, nullptr) << error;
  bool up = true;
  std::string kind;
  plugin.run(c, [&](const isitup_record_v1& v) {
    up = v.status == ISITUP_UP;
    kind = v.error_kind ? v.error_kind : "";
  });
  EXPECT_FALSE(up);
  EXPECT_EQ(kind, "tls");
}

// 200 verify-on handshakes at once on loopback, in five rounds with a wave of the same checks
// with tls_verify: false beside each (in turn before and after it). Loading the
// 145-certificate store inside the phase costs ~20 ms of CPU per check on the one loop, so the
// handshakes in progress wait for each other's parsing: a median `tls` of hundreds of ms
// against a few without a store. A loaded machine slows both kinds of wave alike, and a burst
// of load slows a wave or two: the medians over the rounds are compared (verify on within 3x
// verify off + 20 ms), never the machine's speed (bench/http measures that).
TEST_P(http_check_tls_test, tls_phase_measures_the_handshake_not_store_loading) {
  const option_map verify{{"ca_file", bundle_}}, no_verify{{"tls_verify", "false"}};
  expect_all_up(wave(20, verify), 20);  // the store is read when these are prepared
  std::vector<double> on, off;
  for (int round = 0; round < 5; ++round) {
    for (const bool verifying : {round % 2 == 0, round % 2 != 0}) {
      const std::vector<observed> results = wave(200, verifying ? verify : no_verify);
      expect_all_up(results, 200);
      (verifying ? on : off).push_back(median_tls(results));
    }
    std::printf("200 concurrent checks: median tls verify on %.2f ms, off %.2f ms\n", on.back(),
                off.back());
  }
  std::sort(on.begin(), on.end());
  std::sort(off.begin(), off.end());
  EXPECT_LT(on[2], 3.0 * off[2] + 20.0)
      << "median over the rounds: verify on " << on[2] << " ms, off " << off[2] << " ms";
}

TEST_P(http_check_tls_test, changed_ca_file_is_used_and_a_broken_one_keeps_the_old_store) {
  const fs::path ca = dir_.path() / "changing.pem";
  replace_file(ca, read_all(system_bundle));  // does not trust the test CA
  std::string error;
  void* c = prepare("changing", url(), {{"ca_file", ca.string()}}, error);
  ASSERT_NE(c, nullptr) << error;
  expect_down(run(c), "tls");

  // Trusted within a second or so of the change.
  replace_file(ca, read_all(bundle_));
  auto eventually_up = [&] {
    const auto until = std::chrono::steady_clock::now() + 5s;
    observed r;
    do {
      r = run(c);
      if (r.up) return r;
      std::this_thread::sleep_for(100ms);
    } while (std::chrono::steady_clock::now() < until);
    return r;
  };
  const observed trusted = eventually_up();
  EXPECT_TRUE(trusted.up) << trusted;

  // A broken file: logged once, naming the file; checks keep the store they had.
  const size_t logged_before = host_.logs().size();
  auto new_lines = [&] {
    std::vector<std::string> lines;
    const auto logs = host_.logs();
    for (size_t i = logged_before; i < logs.size(); ++i)
      if (logs[i].message.find(ca.string()) != std::string::npos) lines.push_back(logs[i].message);
    return lines;
  };
  replace_file(ca, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (new_lines().empty() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(1500ms);  // the file is looked at again: still one line
  const std::vector<std::string> lines = new_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("keeping"), std::string::npos) << lines[0];
  std::printf("logged: %s\n", lines[0].c_str());
  for (int i = 0; i < 3; ++i) {
    const observed r = run(c);
    EXPECT_TRUE(r.up) << r;
  }

  // Untrusting again (a valid file): the next checks are down.
  replace_file(ca, read_all(system_bundle));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  observed r = run(c);
  while (r.up && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    r = run(c);
  }
  expect_down(r, "tls");
}

TEST_P(http_check_tls_test, checks_with_different_stores_each_use_their_own) {
  // In one instance, interleaved on pooled curl handles: the default store (no test CA),
  // the bundle, and the test CA alone.
  for (int round = 0; round < 3; ++round) {
    expect_down(check(url()), "tls");
    EXPECT_TRUE(check(url(), {{"ca_file", bundle_}}).up);
    EXPECT_TRUE(check(url(), {{"ca_file", nginx().certs().ca}}).up);
    expect_down(check(url(), {{"ca_file", system_bundle}}), "tls");
  }
}

TEST_P(http_check_tls_test, unreadable_files_are_clear_tls_errors) {
  const observed missing = check(url(), {{"ca_file", "/nonexistent/ca.pem"}});
  expect_down(missing, "tls");
  EXPECT_NE(missing.error_message.find("/nonexistent/ca.pem"), std::string::npos) << missing;
  const std::string garbage = dir_.write("garbage.pem", "hello\n");
  const observed empty = check(url(), {{"ca_file", garbage}});
  expect_down(empty, "tls");
  EXPECT_NE(empty.error_message.find(garbage), std::string::npos) << empty;

  const auto& certs = nginx().certs();
  const std::string mtls = "https://127.0.0.1:" + std::to_string(nginx().mtls_port) + "/";
  // A key that is not the certificate's.
  const observed mismatch = check(mtls, {{"ca_file", certs.ca},
                                         {"client_cert", certs.client_cert},
                                         {"client_key", certs.server_key}});
  expect_down(mismatch, "tls");
  EXPECT_NE(mismatch.error_message.find("client_key"), std::string::npos) << mismatch;
}

TEST_P(http_check_tls_test, client_identity_is_loaded_once_and_follows_its_files) {
  const auto& certs = nginx().certs();
  const std::string mtls = "https://127.0.0.1:" + std::to_string(nginx().mtls_port) + "/";
  const fs::path cert = dir_.path() / "client.pem", key = dir_.path() / "client.key";
  replace_file(cert, read_all(certs.client_cert));
  replace_file(key, "broken\n");
  std::string error;
  void* c = prepare(
      "mtls", mtls,
      {{"ca_file", certs.ca}, {"client_cert", cert.string()}, {"client_key", key.string()}}, error);
  ASSERT_NE(c, nullptr) << error;
  const observed broken = run(c);
  expect_down(broken, "tls");
  EXPECT_NE(broken.error_message.find(key.string()), std::string::npos) << broken;
  replace_file(key, read_all(certs.client_key));
  const auto until = std::chrono::steady_clock::now() + 5s;
  observed r = run(c);
  while (!r.up && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
    r = run(c);
  }
  EXPECT_TRUE(r.up) << r;
  EXPECT_EQ(r.http_code, 200);
}

INSTANTIATE_TEST_SUITE_P(engines, http_check_tls_test, ::testing::Values("auto", "curl"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace isitup::http
