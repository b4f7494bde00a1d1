// What a receiver sees from the outside: the README's Python verification recipe accepts the
// sink's signature (and refuses a wrong key or a changed body), and TLS is verified against
// the system store or ca_file (a test CA made here with the openssl command).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "process.hpp"
#include "webhook_receiver.hpp"
#include "webhook_test_util.hpp"

namespace isitup::test {
namespace {

using namespace std::chrono_literals;
using sdk::testing::fake_host;

// The first ```python block of the README.
std::string readme_recipe() {
  std::ifstream in(std::string(ISITUP_SOURCE_DIR) + "/plugins/webhook_sink/README.md");
  std::stringstream s;
  s << in.rdbuf();
  const std::string text = s.str();
  const size_t from = text.find("```python\n");
  if (from == std::string::npos) return {};
  const size_t to = text.find("```", from + 10);
  return text.substr(from + 10, to - from - 10);
}

// Runs the recipe's verify(secret, body, header); true when it returned True.
bool python_verifies(const temp_dir& dir, const std::string& secret, const std::string& body,
                     const std::string& header) {
  const std::string script = dir.write(
      "verify.py", readme_recipe() +
                       "\nimport os, sys\n"
                       "body = open(os.environ['BODY_FILE'], 'rb').read()\n"
                       "ok = verify(os.environ['SECRET'].encode(), body, os.environ['SIG'])\n"
                       "sys.exit(0 if ok is True else 1)\n");
  const std::string body_file = dir.write("body", body);
  const run_result r = run({"/usr/bin/python3", script}, 20s,
                           {"BODY_FILE=" + body_file, "SECRET=" + secret, "SIG=" + header});
  EXPECT_TRUE(r.code == 0 || r.code == 1) << r.err;
  return r.code == 0;
}

TEST(webhook_verify, the_readme_recipe_accepts_the_signature_and_nothing_else) {
  ASSERT_NE(readme_recipe().find("def verify("), std::string::npos);
  fake_host host;
  webhook_receiver rx;
  notifier sink(host, {{"url", rx.url()}, {"secret", "whsec-recipe-1"}});
  ASSERT_TRUE(sink.send({make_event("shop", "incident_opened", 1)})->wait());
  ASSERT_EQ(rx.requests().size(), 1u);
  const auto req = rx.requests()[0];
  const std::string sig = req.header("x-isitup-signature");
  temp_dir dir;
  EXPECT_TRUE(python_verifies(dir, "whsec-recipe-1", req.body, sig)) << sig;
  EXPECT_FALSE(python_verifies(dir, "whsec-recipe-2", req.body, sig));
  EXPECT_FALSE(python_verifies(dir, "whsec-recipe-1", req.body + " ", sig));
  // An old timestamp is refused even with a correct MAC for it.
  EXPECT_FALSE(python_verifies(dir, "whsec-recipe-1", req.body,
                               webhook::signature("whsec-recipe-1", 1'000'000'000, req.body)));
}

// A CA and a server certificate for 127.0.0.1 signed by it (EC keys: fast to make).
struct test_pki {
  explicit test_pki(const temp_dir& dir)
      : ca((dir / "ca.pem").string()),
        cert((dir / "server.pem").string()),
        key((dir / "server.key").string()) {
    const std::string ca_key = (dir / "ca.key").string(), csr = (dir / "server.csr").string();
    const std::string ext = dir.write("ext.cnf", "subjectAltName=IP:127.0.0.1\n");
    const std::vector<std::vector<std::string>> steps = {
        {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=isitup webhook test CA"},
        {"/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"},
        {"/usr/bin/openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext}};
    for (const auto& argv : steps) {
      const run_result r = run(argv, 30s);
      if (r.code != 0) throw std::runtime_error("openssl failed: " + r.err);
    }
  }
  std::string ca, cert, key;
};

TEST(webhook_verify, tls_is_verified_against_the_system_store_or_ca_file) {
  temp_dir dir;
  const test_pki pki(dir);
  webhook_receiver rx(0, {}, {pki.cert, pki.key});
  ASSERT_EQ(rx.url().rfind("https://", 0), 0u);
  {
    fake_host host;  // the test CA is in no system store: refused, retried, handed back
    notifier sink(host, {{"url", rx.url()}, {"retry_for", "0s"}});
    auto p = sink.send({make_event("shop", "incident_opened", 1)});
    ASSERT_TRUE(p->wait());
    EXPECT_EQ(p->status(), ISITUP_RETRY);
    EXPECT_NE(p->message().find("certificate"), std::string::npos) << p->message();
  }
  EXPECT_TRUE(rx.requests().empty());
  {
    fake_host host;
    notifier sink(host, {{"url", rx.url()}, {"ca_file", pki.ca}});
    auto p = sink.send({make_event("shop", "incident_opened", 2)});
    ASSERT_TRUE(p->wait());
    EXPECT_EQ(p->status(), ISITUP_OK) << p->message();
  }
  EXPECT_EQ(rx.requests().size(), 1u);
  {
    fake_host host;
    notifier sink(host, {{"url", rx.url()}, {"tls_verify", "false"}});
    EXPECT_TRUE(host.logged("tls_verify is off"));
    auto p = sink.send({make_event("shop", "incident_opened", 3)});
    ASSERT_TRUE(p->wait());
    EXPECT_EQ(p->status(), ISITUP_OK) << p->message();
  }
  EXPECT_EQ(rx.requests().size(), 2u);
}

}  // namespace
}  // namespace isitup::test
