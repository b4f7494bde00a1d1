// icmp_check's pure parts: echo requests and replies, the reply matcher (loss accounting
// included, which loopback cannot produce: every 127.x address answers) and the statistics.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "icmp_packet.hpp"

namespace isitup::icmp {
namespace {

// The echo reply a peer would send for `request` (type 0 or 129, the rest echoed).
std::vector<unsigned char> reply_to(std::vector<unsigned char> request, bool v6) {
  request[0] = v6 ? 129 : 0;
  return request;
}

uint16_t ones_complement_sum(const std::vector<unsigned char>& p) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < p.size(); i += 2) sum += (p[i] << 8) | p[i + 1];
  if (p.size() % 2) sum += p.back() << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

TEST(icmp_packet, builds_echo_requests_with_a_valid_checksum) {
  std::vector<unsigned char> p;
  build_echo(p, false, 0x1234, 7, 0x0102030405060708ull, 99, 56);
  ASSERT_EQ(p.size(), 64u);
  EXPECT_EQ(p[0], 8);
  EXPECT_EQ(ones_complement_sum(p), 0xffff);  // a correct checksum sums to all ones
  build_echo(p, false, 1, 2, 3, 4, 1);        // never shorter than the payload header
  EXPECT_EQ(p.size(), 8 + payload_header);
  build_echo(p, true, 1, 2, 3, 4, 16);
  EXPECT_EQ(p[0], 128);
}

TEST(icmp_packet, reads_replies_and_ignores_everything_else) {
  std::vector<unsigned char> req;
  build_echo(req, false, 0x1234, 7, 0xfeedfacecafebeefull, 123456, 56);
  auto r = parse_echo_reply(reply_to(req, false).data(), req.size(), false, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, 0x1234);
  EXPECT_EQ(r->seq, 7);
  EXPECT_EQ(r->token, 0xfeedfacecafebeefull);
  EXPECT_EQ(r->serial, 123456u);
  // Behind an IPv4 header (raw sockets), with options (IHL 6).
  std::vector<unsigned char> ip = {0x46, 0, 0, 0, 0,   0, 0, 0, 64, 1, 0, 0,
                                   127,  0, 0, 1, 127, 0, 0, 1, 1,  1, 1, 1};
  const auto rep = reply_to(req, false);
  ip.insert(ip.end(), rep.begin(), rep.end());
  EXPECT_TRUE(parse_echo_reply(ip.data(), ip.size(), false, true));
  EXPECT_FALSE(parse_echo_reply(ip.data(), 23, false, true));
  // Our own request (loopback raw sockets see it), another type, a short packet, v6 types.
  EXPECT_FALSE(parse_echo_reply(req.data(), req.size(), false, false));
  EXPECT_FALSE(parse_echo_reply(rep.data(), 8 + payload_header - 1, false, false));
  EXPECT_FALSE(parse_echo_reply(rep.data(), rep.size(), true, false));
  std::vector<unsigned char> req6;
  build_echo(req6, true, 1, 2, 3, 4, 56);
  EXPECT_TRUE(parse_echo_reply(reply_to(req6, true).data(), req6.size(), true, false));
}

TEST(icmp_packet, matches_each_reply_to_one_probe_once) {
  probe_table t;
  int a = 0, b = 0;
  const auto now = clock::now();
  const auto s1 = t.add(&a, 1, now), s2 = t.add(&b, 2, now);
  ASSERT_TRUE(s1 && s2);
  EXPECT_NE(*s1, *s2);
  EXPECT_EQ(t.in_flight(), 2u);
  EXPECT_FALSE(t.take(*s1, 2));  // the serial of another probe: stale or foreign
  auto p = t.take(*s1, 1);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->run, &a);
  EXPECT_FALSE(t.take(*s1, 1));  // a duplicate reply
  t.remove(*s2, &a);             // not a's probe: kept
  EXPECT_EQ(t.in_flight(), 1u);
  t.remove(*s2, &b);  // b's run ended without the reply: a late one is then ignored
  EXPECT_FALSE(t.take(*s2, 2));
  EXPECT_EQ(t.in_flight(), 0u);
}

TEST(icmp_packet, the_table_is_bounded_and_reuses_sequence_numbers) {
  probe_table t;
  int run = 0;
  for (uint32_t i = 0; i < 65536; ++i) ASSERT_TRUE(t.add(&run, i, clock::now())) << i;
  EXPECT_FALSE(t.add(&run, 65536, clock::now()));
  t.remove(42, &run);
  const auto seq = t.add(&run, 70000, clock::now());
  ASSERT_TRUE(seq);
  EXPECT_EQ(*seq, 42);
  EXPECT_TRUE(t.take(42, 70000));
}

TEST(icmp_packet, loss_and_round_trip_statistics) {
  ping_summary s = summarize(4, {1.0, 2.0, 3.0});
  EXPECT_EQ(s.sent, 4u);
  EXPECT_EQ(s.received, 3u);
  EXPECT_DOUBLE_EQ(s.loss_percent, 25.0);
  EXPECT_DOUBLE_EQ(s.min_ms, 1.0);
  EXPECT_DOUBLE_EQ(s.avg_ms, 2.0);
  EXPECT_DOUBLE_EQ(s.max_ms, 3.0);
  EXPECT_NEAR(s.stddev_ms, std::sqrt(2.0 / 3.0), 1e-12);
  s = summarize(3, {});
  EXPECT_DOUBLE_EQ(s.loss_percent, 100.0);
  EXPECT_LT(s.avg_ms, 0);
  EXPECT_DOUBLE_EQ(summarize(0, {}).loss_percent, 100.0);
}

}  // namespace
}  // namespace isitup::icmp
