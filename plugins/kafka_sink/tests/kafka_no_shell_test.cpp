// No kafka_sink config value can reach a shell. librdkafka renders sasl.kerberos.keytab and
// sasl.kerberos.principal into its default sasl.kerberos.kinit.cmd and runs it with system()
// as soon as a GSSAPI handle exists (so even `--check-config` would run it). These tests run
// whole agent processes, with hostile values under --check-config and under a real start
// against the development broker, and a fake `kinit` first on PATH: no file a command would
// create may ever appear.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <thread>

#include "kafka_broker.hpp"
#include "listener.hpp"
#include "process.hpp"
#include "scoped_env.hpp"

using namespace std::chrono_literals;

namespace {

using isitup::test::child_process;
using isitup::test::kafka_broker;
using isitup::test::temp_dir;

const std::string agent_bin = std::string(ISITUP_BINARY_DIR) + "/bin/isitup-agent";
const std::string plugin_dir = ISITUP_PLUGIN_DIR;

// A config with one kafka_sink sink (or source) whose `properties` are `props` (YAML flow
// map entries), and one tcp_check against a closed port.
std::string config(const temp_dir& dir, const std::string& brokers, const std::string& props,
                   bool source) {
  const std::string kafka = "  - plugin: kafka_sink\n    options: {brokers: \"" + brokers +
                            "\", topic: no-shell" + (source ? ", group: g" : "") +
                            ", properties: {reconnect.backoff.max.ms: \"500\", " + props + "}}\n";
  std::string cfg = "agent: {id: probe-1}\ndefaults: {interval: 100ms, timeout: 90ms}\n";
  cfg += "checks:\n  - {name: c0, plugin: tcp_check, target: \"127.0.0.1:" +
         std::to_string(isitup::test::unused_port()) + "\"}\n";
  if (source)
    cfg += "sources:\n" + kafka + "sinks:\n  - plugin: stdout_sink\n    options: {output: \"" +
           (dir / "out.jsonl").string() + "\"}\n";
  else
    cfg += "sinks:\n" + kafka;
  return dir.write(source ? "source.yml" : "sink.yml", cfg);
}

// `kinit` first on PATH, for this process and the agents it starts: a script that records
// each call in `marker`. Restores PATH when destroyed.
class fake_kinit {
 public:
  explicit fake_kinit(const temp_dir& dir)
      : marker_((dir / "kinit-ran").string()), path_("PATH", install(dir, marker_)) {}
  const std::string& marker() const { return marker_; }

 private:
  // Writes dir/bin/kinit; returns PATH with dir/bin first.
  static std::string install(const temp_dir& dir, const std::string& marker) {
    const std::string bin = (dir / "bin").string();
    std::filesystem::create_directories(bin);
    const std::string script = dir.write("bin/kinit", "#!/bin/sh\necho \"$@\" >> " + marker + "\n");
    ::chmod(script.c_str(), 0755);
    return bin + ":" + isitup::test::env_value("PATH").value_or("/usr/bin:/bin");
  }

  std::string marker_;
  isitup::test::scoped_env path_;
};

bool exists(const std::string& p) { return std::filesystem::exists(p); }

// The hostile values of the issue: each one, pasted into the kinit command, runs `touch`.
struct hostile {
  const char* property;
  std::string value;
};
std::vector<hostile> hostile_values(const std::string& marker) {
  return {{"sasl.kerberos.keytab", "x\"; touch " + marker + "; \""},
          {"sasl.kerberos.principal", "x; touch " + marker},
          {"sasl.kerberos.principal", "$(touch " + marker + ")"},
          {"sasl.kerberos.service.name", "kafka`touch " + marker + "`"}};
}

TEST(kafka_no_shell, check_config_never_runs_a_command_from_a_property) {
  temp_dir dir;
  const fake_kinit kinit(dir);
  int n = 0;
  for (const bool source : {false, true}) {
    for (const hostile& h : hostile_values((dir / "pwned").string())) {
      const std::string marker = (dir / "pwned").string() + std::to_string(n++);
      hostile mine = h;
      mine.value.replace(mine.value.find(dir.path().string() + "/pwned"),
                         (dir / "pwned").string().size(), marker);
      const std::string props = "security.protocol: sasl_plaintext, sasl.mechanism: GSSAPI, " +
                                std::string(h.property) + ": '" + mine.value + "'";
      const std::string path = config(dir, "127.0.0.1:1", props, source);
      const auto r = isitup::test::run({agent_bin, "--check-config", path, "-p", plugin_dir}, 20s);
      std::this_thread::sleep_for(500ms);  // a shell started by the agent may outlive it
      EXPECT_FALSE(exists(marker)) << mine.value << " ran a command; " << r.out << r.err;
      EXPECT_FALSE(exists(kinit.marker()))
          << "kinit ran: " << isitup::test::read_file(kinit.marker());
      std::filesystem::remove(kinit.marker());
      EXPECT_NE(r.code, 0) << h.property << " = " << mine.value << " was accepted";
      EXPECT_NE(r.err.find(h.property), std::string::npos) << "the error names it: " << r.err;
    }
  }
}

TEST(kafka_no_shell, a_real_start_with_gssapi_never_runs_kinit) {
  kafka_broker broker;
  temp_dir dir;
  const fake_kinit kinit(dir);
  const std::string marker = (dir / "pwned").string();
  // A hostile keytab is refused before anything starts.
  {
    const std::string path = config(
        dir, broker.bootstrap(),
        "security.protocol: sasl_plaintext, sasl.mechanism: GSSAPI, sasl.kerberos.keytab: '" +
            hostile_values(marker)[0].value + "'",
        false);
    child_process agent({agent_bin, "-c", path, "-p", plugin_dir});
    EXPECT_NE(agent.wait(20s), 0) << "the hostile keytab was accepted";
    EXPECT_NE(agent.err().find("sasl.kerberos.keytab"), std::string::npos) << agent.err();
  }
  // A valid GSSAPI config starts and tries to connect (the broker has no SASL), but the
  // ticket is renewed outside the agent: librdkafka's kinit is never run.
  for (const bool source : {false, true}) {
    const std::string path = config(dir, broker.bootstrap(),
                                    "security.protocol: sasl_plaintext, sasl.mechanism: GSSAPI, "
                                    "sasl.kerberos.principal: isitup/probe-1.example@EXAMPLE.TEST",
                                    source);
    child_process agent({agent_bin, "-c", path, "-p", plugin_dir});
    std::this_thread::sleep_for(3s);
    EXPECT_TRUE(agent.running()) << agent.err();
    agent.signal(SIGTERM);
    agent.wait(30s);
    EXPECT_FALSE(exists(kinit.marker()))
        << "kinit ran: " << isitup::test::read_file(kinit.marker()) << agent.err();
  }
  EXPECT_FALSE(exists(marker));
}

}  // namespace
