// Follows the Kafka protocol framing on one client connection of the TLS front and patches the
// broker ports in Metadata and FindCoordinator responses, so a client only learns the TLS
// ports. Requests are forwarded as they are; only their headers are read (api key, version,
// correlation id). A response is buffered only when it answers a Metadata or FindCoordinator
// request (at most max_rewritten_frame bytes); every other byte passes through unbuffered.
// Not thread-safe: one instance per connection, used by that connection's thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace isitup::kafka_dev {

// Mock broker port -> the TLS front's port for that broker.
using port_map = std::map<int32_t, int32_t>;

inline constexpr uint32_t max_request_frame = 128u << 20;
inline constexpr uint32_t max_response_frame = 256u << 20;
inline constexpr uint32_t max_rewritten_frame = 8u << 20;
inline constexpr size_t max_pending_rewrites = 1024;

// Patches the ports of the brokers a response names (body = the frame after its size field,
// starting with the correlation id). Supports Metadata v0-12 and FindCoordinator v0-4; a port
// not in `ports` is left alone (e.g. -1 when there is no coordinator). Returns false and sets
// `error` when the response is truncated, malformed or of another version.
bool patch_broker_ports(int16_t api_key, int16_t api_version, std::string& body,
                        const port_map& ports, std::string& error);

// SASL/PLAIN credentials the front requires (--sasl-plain USER:PASSWORD).
struct sasl_plain {
  std::string user, password;
};

// Adds SaslHandshake (v0-1) and SaslAuthenticate (v0-1) to an ApiVersions response (v0-3;
// body as for patch_broker_ports), unless it lists them already.
bool add_sasl_apis(int16_t api_version, std::string& body, std::string& error);

// Whether a SASL/PLAIN token (authzid NUL user NUL password) carries these credentials.
bool plain_token_matches(std::string_view token, const sasl_plain& creds);

// The front's own answer (a whole frame, size included) to a SaslHandshake or SaslAuthenticate
// request; `request` is the frame after its size field. Sets `authenticated` when the PLAIN
// credentials match; returns "" with `error` for a request it cannot answer. A refused
// authentication is answered (SASL_AUTHENTICATION_FAILED) and sets `error` too: the
// connection is closed after the answer is sent.
std::string sasl_answer(std::string_view request, const sasl_plain& creds, bool& authenticated,
                        std::string& error);

class kafka_stream {
 public:
  // With `sasl`, a client must authenticate (SASL/PLAIN) before anything but ApiVersions.
  explicit kafka_stream(const port_map& ports, const sasl_plain* sasl = nullptr)
      : ports_(ports), sasl_(sasl) {}

  // Bytes the client sent; appends what to forward to the broker, and to `reply` what the
  // front answers itself (SASL). False (with `error`) when the stream breaks the framing or
  // the client is refused: send `reply`, then close the connection.
  bool from_client(std::string_view in, std::string& out, std::string& reply, std::string& error);
  // Bytes the broker sent; appends what to forward to the client.
  bool from_broker(std::string_view in, std::string& out, std::string& error);

 private:
  struct direction {
    std::string head;        // a frame's first bytes while they are incomplete
    uint64_t pass_left = 0;  // bytes of the current frame still to forward unchanged
    bool buffering = false;  // collecting a whole response in `head` to patch it
    uint64_t frame_end = 0;  // size of that whole response, with its size field
    int16_t key = 0, version = 0;
  };

  const port_map& ports_;
  const sasl_plain* sasl_;
  bool authenticated_ = false;
  bool raw_token_ = false;  // SaslHandshake v0 succeeded: the token comes without a header
  direction req_, resp_;
  std::map<int32_t, std::pair<int16_t, int16_t>> pending_;  // correlation id -> key, version
};

}  // namespace isitup::kafka_dev
