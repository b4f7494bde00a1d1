// The TLS front's response patching: broker ports in Metadata (v0, v1, v9) and FindCoordinator
// (v2, v4) responses, framing across reads, and malformed input refused.
#include "kafka_frames.hpp"

#include <gtest/gtest.h>

using isitup::kafka_dev::kafka_stream;
using isitup::kafka_dev::patch_broker_ports;
using isitup::kafka_dev::port_map;

namespace {

struct bytes {
  std::string b;
  bytes& i16(int v) { return raw({char(v >> 8), char(v)}); }
  bytes& i32(int64_t v) { return raw({char(v >> 24), char(v >> 16), char(v >> 8), char(v)}); }
  bytes& uv(unsigned v) {
    while (v >= 0x80) b += char((v & 0x7f) | 0x80), v >>= 7;
    b += char(v);
    return *this;
  }
  bytes& str(const std::string& s) { return i16(int(s.size())).raw(s); }
  bytes& cstr(const std::string& s) { return uv(unsigned(s.size()) + 1).raw(s); }
  bytes& raw(const std::string& s) {
    b += s;
    return *this;
  }
};

int32_t port_at(const std::string& b, size_t at) {
  const auto* u = reinterpret_cast<const unsigned char*>(b.data() + at);
  return int32_t((u[0] << 24) | (u[1] << 16) | (u[2] << 8) | u[3]);
}

const port_map ports = {{1001, 2001}, {1002, 2002}};

}  // namespace

TEST(kafka_frames, metadata_v1_and_v9_ports_are_replaced) {
  std::string error;
  // v1: correlation, brokers [node, host, port, rack], then the rest (left alone).
  std::string v1 = bytes{}
                       .i32(7)
                       .i32(2)
                       .i32(1)
                       .str("127.0.0.1")
                       .i32(1001)
                       .i16(-1)
                       .i32(2)
                       .str("127.0.0.1")
                       .i32(1002)
                       .str("r")
                       .raw("rest")
                       .b;
  ASSERT_TRUE(patch_broker_ports(3, 1, v1, ports, error)) << error;
  EXPECT_EQ(port_at(v1, 8 + 4 + 11), 2001);
  EXPECT_EQ(port_at(v1, 8 + 4 + 11 + 4 + 2 + 4 + 11), 2002);
  EXPECT_EQ(v1.substr(v1.size() - 4), "rest");

  // v9 (flexible): header tags, throttle, compact array and strings, entry tags.
  std::string v9 = bytes{}
                       .i32(7)
                       .uv(0)
                       .i32(0)
                       .uv(2)
                       .i32(1)
                       .cstr("127.0.0.1")
                       .i32(1002)
                       .uv(0)
                       .uv(1)
                       .uv(5)
                       .uv(2)
                       .raw("xy")
                       .b;
  ASSERT_TRUE(patch_broker_ports(3, 9, v9, ports, error)) << error;
  EXPECT_EQ(port_at(v9, 4 + 1 + 4 + 1 + 4 + 10), 2002);

  std::string unknown = bytes{}.i32(7).i32(1).i32(1).str("h").i32(555).b;
  ASSERT_TRUE(patch_broker_ports(3, 0, unknown, ports, error)) << error;
  EXPECT_EQ(port_at(unknown, 4 + 4 + 4 + 3), 555) << "ports it does not know are left alone";
}

TEST(kafka_frames, find_coordinator_v2_and_v4_ports_are_replaced) {
  std::string error;
  std::string v2 = bytes{}.i32(9).i32(0).i16(0).i16(-1).i32(1).str("127.0.0.1").i32(1001).b;
  ASSERT_TRUE(patch_broker_ports(10, 2, v2, ports, error)) << error;
  EXPECT_EQ(port_at(v2, v2.size() - 4), 2001);
  std::string v4 = bytes{}
                       .i32(9)
                       .uv(0)
                       .i32(0)
                       .uv(2)
                       .cstr("g")
                       .i32(2)
                       .cstr("127.0.0.1")
                       .i32(1002)
                       .i16(0)
                       .uv(0)
                       .uv(0)
                       .uv(0)
                       .b;
  ASSERT_TRUE(patch_broker_ports(10, 4, v4, ports, error)) << error;
  EXPECT_EQ(port_at(v4, 4 + 1 + 4 + 1 + 2 + 4 + 10), 2002);
}

TEST(kafka_frames, malformed_and_unsupported_responses_are_refused) {
  std::string error;
  std::string full = bytes{}.i32(7).i32(1).i32(1).str("127.0.0.1").i32(1001).b;
  for (size_t cut = 0; cut < full.size(); ++cut) {
    std::string part = full.substr(0, cut);
    EXPECT_FALSE(patch_broker_ports(3, 0, part, ports, error)) << cut;
  }
  std::string huge = bytes{}.i32(7).i32(1).i32(1).i16(30000).b;
  EXPECT_FALSE(patch_broker_ports(3, 0, huge, ports, error));
  std::string negative = bytes{}.i32(7).i32(-5).b;
  EXPECT_FALSE(patch_broker_ports(3, 0, negative, ports, error));
  std::string endless_varint = bytes{}.i32(7).raw(std::string(12, '\xff')).b;
  EXPECT_FALSE(patch_broker_ports(3, 9, endless_varint, ports, error));
  EXPECT_FALSE(patch_broker_ports(3, 13, full, ports, error));
  EXPECT_NE(error.find("not supported"), std::string::npos) << error;
}

TEST(kafka_frames, stream_patches_only_answers_to_metadata_across_split_reads) {
  kafka_stream s(ports);
  std::string out, reply, error;
  // Request: Metadata v0, correlation 42, empty topic list; then Produce correlation 43.
  const std::string md_req = bytes{}.i32(8 + 4).i16(3).i16(0).i32(42).i32(0).b;
  const std::string pr_req = bytes{}.i32(8 + 3).i16(0).i16(3).i32(43).raw("abc").b;
  const std::string reqs = md_req + pr_req;
  for (char c : reqs)
    ASSERT_TRUE(s.from_client(std::string_view(&c, 1), out, reply, error)) << error;
  EXPECT_EQ(out, reqs) << "requests pass unchanged";

  const std::string body = bytes{}.i32(42).i32(1).i32(1).str("127.0.0.1").i32(1001).i32(0).b;
  const std::string md_resp = bytes{}.i32(int(body.size())).raw(body).b;
  const std::string pr_body = bytes{}.i32(43).raw(std::string(5, char(0xe9))).b;
  const std::string pr_resp = bytes{}.i32(int(pr_body.size())).raw(pr_body).b;
  out.clear();
  const std::string resps = md_resp + pr_resp;
  for (size_t i = 0; i < resps.size(); i += 3)
    ASSERT_TRUE(s.from_broker(std::string_view(resps).substr(i, 3), out, error)) << error;
  ASSERT_EQ(out.size(), resps.size());
  EXPECT_EQ(port_at(out, 4 + 4 + 4 + 4 + 11), 2001);
  EXPECT_EQ(out.substr(md_resp.size()), pr_resp) << "other responses pass unchanged";

  kafka_stream bad(ports);
  EXPECT_FALSE(bad.from_client(bytes{}.i32(3).i16(0).i16(0).i32(1).b, out, reply, error));
  EXPECT_TRUE(reply.empty());
  EXPECT_FALSE(bad.from_broker(bytes{}.i32(int(0x7fffffff)).i32(1).b, out, error));
}

TEST(kafka_frames, api_versions_gain_the_sasl_apis_and_errors_pass_unchanged) {
  using isitup::kafka_dev::add_sasl_apis;
  std::string error;
  // v2: corr, error, int32 count, (key, min, max)..., throttle.
  std::string v2 = bytes{}.i32(1).i16(0).i32(1).i16(0).i16(0).i16(9).i32(0).b;
  ASSERT_TRUE(add_sasl_apis(2, v2, error)) << error;
  EXPECT_EQ(v2, bytes{}
                    .i32(1)
                    .i16(0)
                    .i32(3)
                    .i16(0)
                    .i16(0)
                    .i16(9)
                    .i16(17)
                    .i16(0)
                    .i16(1)
                    .i16(36)
                    .i16(0)
                    .i16(1)
                    .i32(0)
                    .b);
  // v3: compact array, entry tags, then throttle and tags.
  std::string v3 = bytes{}.i32(1).i16(0).uv(2).i16(3).i16(0).i16(12).uv(0).i32(0).uv(0).b;
  ASSERT_TRUE(add_sasl_apis(3, v3, error)) << error;
  EXPECT_EQ(v3, bytes{}
                    .i32(1)
                    .i16(0)
                    .uv(4)
                    .i16(3)
                    .i16(0)
                    .i16(12)
                    .uv(0)
                    .i16(17)
                    .i16(0)
                    .i16(1)
                    .uv(0)
                    .i16(36)
                    .i16(0)
                    .i16(1)
                    .uv(0)
                    .i32(0)
                    .uv(0)
                    .b);
  // UNSUPPORTED_VERSION: the client retries lower; left as it is.
  const std::string unsupported = bytes{}.i32(1).i16(35).uv(1).i16(18).i16(0).i16(2).i32(0).b;
  std::string copy = unsupported;
  ASSERT_TRUE(add_sasl_apis(3, copy, error));
  EXPECT_EQ(copy, unsupported);
  std::string truncated = bytes{}.i32(1).i16(0).i32(5).i16(0).b;
  EXPECT_FALSE(add_sasl_apis(1, truncated, error));
}

TEST(kafka_frames, sasl_plain_is_required_before_anything_but_api_versions) {
  const isitup::kafka_dev::sasl_plain creds{"alice", "s3cret"};
  auto request = [](int key, int version, int corr, const std::string& body) {
    const std::string rest = bytes{}.i16(key).i16(version).i32(corr).str("cli").raw(body).b;
    return bytes{}.i32(int(rest.size())).raw(rest).b;
  };
  auto token = [](const std::string& user, const std::string& password) {
    return std::string("\0", 1) + user + std::string("\0", 1) + password;
  };
  {  // librdkafka: ApiVersions passes, SaslHandshake v1 and SaslAuthenticate v1 are answered.
    kafka_stream s(ports, &creds);
    std::string out, reply, error;
    ASSERT_TRUE(s.from_client(request(18, 3, 1, ""), out, reply, error)) << error;
    EXPECT_FALSE(out.empty());
    out.clear();
    ASSERT_TRUE(s.from_client(request(17, 1, 2, bytes{}.str("PLAIN").b), out, reply, error));
    EXPECT_EQ(reply, bytes{}.i32(17).i32(2).i16(0).i32(1).str("PLAIN").b);
    reply.clear();
    const std::string auth =
        bytes{}.i32(int(token("alice", "s3cret").size())).b + token("alice", "s3cret");
    ASSERT_TRUE(s.from_client(request(36, 1, 3, auth), out, reply, error)) << error;
    EXPECT_EQ(reply, bytes{}.i32(20).i32(3).i16(0).i16(-1).i32(0).i32(0).i32(0).b);
    EXPECT_TRUE(out.empty()) << "SASL requests never reach the broker";
    reply.clear();
    ASSERT_TRUE(s.from_client(request(0, 3, 4, "x"), out, reply, error)) << error;
    EXPECT_FALSE(out.empty()) << "authenticated: a Produce is forwarded";
  }
  {  // A wrong password is answered with SASL_AUTHENTICATION_FAILED, then the link closes.
    kafka_stream s(ports, &creds);
    std::string out, reply, error;
    ASSERT_TRUE(s.from_client(request(17, 1, 2, bytes{}.str("PLAIN").b), out, reply, error));
    const std::string bad =
        bytes{}.i32(int(token("alice", "nope").size())).b + token("alice", "nope");
    EXPECT_FALSE(s.from_client(request(36, 0, 3, bad), out, reply, error));
    EXPECT_NE(reply.find("Authentication failed"), std::string::npos);
    EXPECT_NE(error.find("refused"), std::string::npos) << error;
    EXPECT_EQ(error.find("nope"), std::string::npos) << "the password is not logged";
  }
  {  // kafka-python: SaslHandshake v0, then the token without a Kafka header.
    kafka_stream s(ports, &creds);
    std::string out, reply, error;
    ASSERT_TRUE(s.from_client(request(17, 0, 2, bytes{}.str("PLAIN").b), out, reply, error));
    reply.clear();
    const std::string t =
        std::string("alice") + std::string("\0", 1) + "alice" + std::string("\0", 1) + "s3cret";
    const std::string frame = bytes{}.i32(int(t.size())).raw(t).b;
    for (char c : frame) ASSERT_TRUE(s.from_client({&c, 1}, out, reply, error)) << error;
    EXPECT_EQ(reply, std::string(4, '\0'));
    EXPECT_TRUE(out.empty());
  }
  {  // Anything else before authentication closes the connection.
    kafka_stream s(ports, &creds);
    std::string out, reply, error;
    EXPECT_FALSE(s.from_client(request(3, 1, 1, bytes{}.i32(0).b), out, reply, error));
    EXPECT_NE(error.find("before SASL authentication"), std::string::npos) << error;
    kafka_stream m(ports, &creds);
    EXPECT_TRUE(m.from_client(request(17, 1, 2, bytes{}.str("SCRAM-SHA-512").b), out, reply,
                              error) == false);
    EXPECT_NE(reply.find("PLAIN"), std::string::npos) << "the offered mechanism is named";
  }
}
