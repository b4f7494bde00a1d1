// The target and option parsers of tcp_check and tls_check, without a network (label unit:
// also run under ASan and UBSan).
#include "net/conn_config.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace isitup::net {
namespace {

std::string refusal(const std::string& target, uint16_t default_port = 0) {
  try {
    parse_host_port(target, default_port);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(parse_host_port, names_addresses_and_ports) {
  host_port a = parse_host_port("mail.example.com:587", 0);
  EXPECT_EQ(a.host, "mail.example.com");
  EXPECT_EQ(a.port, 587);
  EXPECT_FALSE(a.host_is_ip);
  host_port b = parse_host_port("127.0.0.1:1", 0);
  EXPECT_TRUE(b.host_is_ip);
  host_port c = parse_host_port("[2001:db8::1]:443", 0);
  EXPECT_EQ(c.host, "2001:db8::1");
  EXPECT_TRUE(c.host_is_ip);
  EXPECT_EQ(parse_host_port("example.com", 443).port, 443);
  EXPECT_EQ(parse_host_port("[::1]", 443).port, 443);
  EXPECT_EQ(parse_host_port("example.com:8443", 443).port, 8443);
}

TEST(parse_host_port, refuses_what_is_not_host_and_port) {
  EXPECT_NE(refusal("example.com").find("host:port"), std::string::npos);
  EXPECT_NE(refusal(":80").find("host:port"), std::string::npos);
  EXPECT_NE(refusal("h:0").find("1 to 65535"), std::string::npos);
  EXPECT_NE(refusal("h:65536").find("1 to 65535"), std::string::npos);
  EXPECT_NE(refusal("h:8o").find("1 to 65535"), std::string::npos);
  EXPECT_NE(refusal("h:").find("host:port"), std::string::npos);
  EXPECT_NE(refusal("::1:22").find("brackets"), std::string::npos);
  EXPECT_NE(refusal("[::1").find("']'"), std::string::npos);
  EXPECT_NE(refusal("[::1]x").find("':'"), std::string::npos);
  EXPECT_NE(refusal("[nope:]:1").find("IPv6"), std::string::npos);
  EXPECT_NE(refusal("a b:1").find("not a host name"), std::string::npos);
  EXPECT_NE(refusal("a/b:1").find("not a host name"), std::string::npos);
  EXPECT_NE(refusal(std::string(300, 'a') + ":1"), "");
  EXPECT_NE(refusal("ex\x01mple:1").find("\\x01"), std::string::npos) << "shown, not raw";
}

TEST(unescape, turns_escapes_into_bytes) {
  EXPECT_EQ(unescape("EHLO x\\r\\n"), "EHLO x\r\n");
  EXPECT_EQ(unescape("a\\tb\\\\c"), "a\tb\\c");
  EXPECT_EQ(unescape("\\x41\\x7e"), "A~");
  EXPECT_EQ(unescape(std::string("nul\\0")), std::string("nul\0", 4));
  EXPECT_EQ(unescape("plain"), "plain");
  EXPECT_THROW(unescape("end\\"), std::invalid_argument);
  EXPECT_THROW(unescape("\\q"), std::invalid_argument);
  EXPECT_THROW(unescape("\\x4"), std::invalid_argument);
  EXPECT_THROW(unescape("\\xZZ"), std::invalid_argument);
}

TEST(parse_starttls, knows_three_protocols) {
  EXPECT_EQ(parse_starttls(""), starttls_kind::none);
  EXPECT_EQ(parse_starttls("smtp"), starttls_kind::smtp);
  EXPECT_EQ(parse_starttls("imap"), starttls_kind::imap);
  EXPECT_EQ(parse_starttls("pop3"), starttls_kind::pop3);
  EXPECT_THROW(parse_starttls("SMTP"), std::invalid_argument);
  EXPECT_THROW(parse_starttls("ftp"), std::invalid_argument);
}

TEST(parse_dns_server, canonical_address_and_port) {
  EXPECT_EQ(parse_dns_server("10.0.0.1"), "10.0.0.1:53");
  EXPECT_EQ(parse_dns_server("10.0.0.1:5353"), "10.0.0.1:5353");
  EXPECT_EQ(parse_dns_server("::1"), "[::1]:53");
  EXPECT_EQ(parse_dns_server("[::1]:5353"), "[::1]:5353");
  EXPECT_THROW(parse_dns_server("dns.example"), std::invalid_argument);
  EXPECT_THROW(parse_dns_server("10.0.0.1:0"), std::invalid_argument);
  EXPECT_THROW(parse_dns_server("[::1"), std::invalid_argument);
}

}  // namespace
}  // namespace isitup::net
