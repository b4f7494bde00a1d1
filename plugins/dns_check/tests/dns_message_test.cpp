// dns_check's reply reader on hand-made messages: each record type's presentation form,
// compression, and every way a hostile reply can be malformed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns_message.hpp"

namespace isitup::dns {
namespace {

using bytes = std::vector<unsigned char>;

// A reply header and one question for "a.test", then `answers` answer records.
bytes reply(int rcode, int answers) {
  bytes m = {0x12, 0x34, 0x85, static_cast<unsigned char>(0x80 | rcode),
             0,    1,    0,    static_cast<unsigned char>(answers),
             0,    0,    0,    0,
             1,    'a',  4,    't',
             'e',  's',  't',  0,
             0,    1,    0,    1};
  return m;
}

// An answer record owned by the question's name (a pointer to offset 12).
void add_record(bytes& m, uint16_t type, uint32_t ttl, const bytes& rdata) {
  const bytes head = {0xc0,
                      0x0c,
                      static_cast<unsigned char>(type >> 8),
                      static_cast<unsigned char>(type),
                      0,
                      1,
                      static_cast<unsigned char>(ttl >> 24),
                      static_cast<unsigned char>(ttl >> 16),
                      static_cast<unsigned char>(ttl >> 8),
                      static_cast<unsigned char>(ttl),
                      static_cast<unsigned char>(rdata.size() >> 8),
                      static_cast<unsigned char>(rdata.size())};
  m.insert(m.end(), head.begin(), head.end());
  m.insert(m.end(), rdata.begin(), rdata.end());
}

std::string only_data(const bytes& m) {
  std::string error;
  auto r = parse_reply(m.data(), m.size(), error);
  if (!r) return "error: " + error;
  return r->answers.size() == 1 ? r->answers[0].data
                                : "answers: " + std::to_string(r->answers.size());
}

TEST(dns_message, formats_each_record_type) {
  bytes m = reply(0, 1);
  add_record(m, 1, 60, {192, 0, 2, 1});
  EXPECT_EQ(only_data(m), "192.0.2.1");
  m = reply(0, 1);
  add_record(m, 15, 60, {0, 10, 0xc0, 0x0c});  // MX 10, exchange compressed to a.test
  EXPECT_EQ(only_data(m), "10 a.test");
  m = reply(0, 1);
  add_record(m, 16, 60, {3, 'a', '"', 'b', 2, 0x01, 0xff});
  EXPECT_EQ(only_data(m), R"("a\"b" "\001\255")");
  m = reply(0, 1);
  add_record(m, 257, 60, {128, 5, 'i', 's', 's', 'u', 'e', 'c', 'a', '.', 'x'});
  EXPECT_EQ(only_data(m), R"(128 issue "ca.x")");
  m = reply(0, 1);
  add_record(m, 33, 60, {0, 1, 0, 2, 0x13, 0xc4, 0xc0, 0x0c});
  EXPECT_EQ(only_data(m), "1 2 5060 a.test");
  m = reply(0, 1);
  add_record(m, 6, 60, {0xc0, 0x0c, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5});
  EXPECT_EQ(only_data(m), "a.test . 1 2 3 4 5");
  m = reply(0, 1);
  add_record(m, 99, 60, {0xab, 0x01});
  EXPECT_EQ(only_data(m), "\\# 2 ab01");
}

TEST(dns_message, reads_header_flags_and_ttls) {
  bytes m = reply(3, 1);
  add_record(m, 1, 0x80000000u, {127, 0, 0, 1});  // a TTL with the top bit set reads as 0
  std::string error;
  auto r = parse_reply(m.data(), m.size(), error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->rcode, 3);
  EXPECT_TRUE(r->authoritative);
  EXPECT_FALSE(r->truncated);
  EXPECT_EQ(r->answers[0].ttl, 0u);
  EXPECT_EQ(rcode_name(r->rcode), "NXDOMAIN");
}

TEST(dns_message, refuses_malformed_replies) {
  std::string error;
  const bytes header_only = {0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_FALSE(parse_reply(header_only.data(), header_only.size(), error));
  bytes m = reply(0, 2);  // announces two answers, has one
  add_record(m, 1, 60, {127, 0, 0, 1});
  EXPECT_FALSE(parse_reply(m.data(), m.size(), error));
  m = reply(0, 1);  // an A record of 3 bytes
  add_record(m, 1, 60, {127, 0, 0});
  EXPECT_FALSE(parse_reply(m.data(), m.size(), error));
  m = reply(0, 1);  // rdlength past the end
  add_record(m, 16, 60, {5, 'a'});
  m.resize(m.size() - 1);
  EXPECT_FALSE(parse_reply(m.data(), m.size(), error));
  m = reply(0, 1);  // a compression pointer to itself
  add_record(m, 2, 60, {0xc0, static_cast<unsigned char>(m.size() + 12)});
  EXPECT_FALSE(parse_reply(m.data(), m.size(), error));
  m = reply(0, 1);  // a TXT string longer than its record
  add_record(m, 16, 60, {9, 'a'});
  EXPECT_FALSE(parse_reply(m.data(), m.size(), error));
  bytes query = reply(0, 0);
  query[2] = 0x01;  // QR clear: a query, not a reply
  EXPECT_FALSE(parse_reply(query.data(), query.size(), error));
  EXPECT_NE(error.find("QR"), std::string::npos);
}

TEST(dns_message, names_types_rcodes_and_reverse_names) {
  EXPECT_EQ(type_from_name("CAA"), 257);
  EXPECT_EQ(type_from_name("ANY"), 0);
  EXPECT_EQ(type_name(99), "TYPE99");
  EXPECT_EQ(rcode_from_name("SERVFAIL"), 2);
  EXPECT_EQ(rcode_from_name("OK"), -1);
  EXPECT_EQ(reverse_name("192.0.2.1"), "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(reverse_name("2001:db8::1"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_FALSE(reverse_name("host.test"));
}

}  // namespace
}  // namespace isitup::dns
