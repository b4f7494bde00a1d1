// Unit test of the example check, built out of tree against the installed SDK with
// isitup::sdk_testing: the plugin compiled in, driven through the fake host against a socket
// this test listens on (127.0.0.1 only).
#include <gtest/gtest.h>  // before under_test.hpp: a misused completion fails the test
#include <isitup/record.hpp>
#include <isitup/testing/fake_host.hpp>
#include <isitup/testing/record_json.hpp>
#include <isitup/testing/under_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

extern "C" const isitup_plugin_v1* isitup_plugin_entry(void);

namespace {

using namespace isitup::sdk::testing;

// A port on 127.0.0.1 that accepts connections while this object lives.
class listening_port {
 public:
  listening_port() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 8) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    port_ = ntohs(addr.sin_port);
  }
  ~listening_port() { close(fd_); }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_;
  int port_ = 0;
};

TEST(tcp_check, is_up_when_the_port_accepts_and_down_with_connect_once_it_is_closed) {
  fake_host host;
  check_under_test plugin(host, isitup_plugin_entry());
  ASSERT_TRUE(plugin.ok()) << plugin.error();
  std::string target, error;
  void* check = nullptr;
  {
    listening_port port;
    target = port.target();
    check = plugin.prepare("local", target, {}, error);
    ASSERT_NE(check, nullptr) << error;
    EXPECT_EQ(plugin.run(check).status, ISITUP_OK);
  }
  const outcome closed = plugin.run(check);
  EXPECT_EQ(closed.status, ISITUP_ERROR);
  EXPECT_EQ(closed.message.rfind("connect: ", 0), 0u) << closed.message;
  EXPECT_TRUE(host.problems().empty());
}

TEST(tcp_check, a_refused_connection_reads_as_a_down_connect_record_in_json) {
  fake_host host;
  check_under_test plugin(host, isitup_plugin_entry());
  ASSERT_TRUE(plugin.ok()) << plugin.error();
  std::string target, error;
  {
    listening_port port;
    target = port.target();
  }
  void* check = plugin.prepare("local", target, {}, error);
  ASSERT_NE(check, nullptr) << error;
  isitup::sdk::record kept;  // the strings of the C record die with the completion
  plugin.run(check, [&](const isitup_record_v1& r) { kept = isitup::sdk::record::from(r); });
  EXPECT_FALSE(kept.up);
  EXPECT_EQ(kept.ip, "127.0.0.1");
  const std::string json = record_json(kept.view());  // what the agent's sinks would write
  EXPECT_NE(json.find(R"("status":"down","error":{"kind":"connect","message":)"), std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("ip":"127.0.0.1")"), std::string::npos) << json;
  EXPECT_TRUE(host.problems().empty());
}

TEST(tcp_check, refuses_a_target_without_a_port) {
  fake_host host;
  check_under_test plugin(host, isitup_plugin_entry());
  std::string error;
  EXPECT_EQ(plugin.prepare("bad", "example.com", {}, error), nullptr);
  EXPECT_NE(error.find("host:port"), std::string::npos) << error;
}

}  // namespace
