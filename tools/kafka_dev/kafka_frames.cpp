#include "kafka_frames.hpp"

#include <algorithm>

namespace isitup::kafka_dev {
namespace {

constexpr int16_t metadata_key = 3;
constexpr int16_t find_coordinator_key = 10;
constexpr int16_t api_versions_key = 18;
constexpr int16_t sasl_handshake_key = 17;
constexpr int16_t sasl_authenticate_key = 36;

uint32_t be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}
int16_t be16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<int16_t>((u[0] << 8) | u[1]);
}

// A bounds-checked reader over a response body; after the first failure every call fails.
class reader {
 public:
  explicit reader(std::string& b) : b_(b) {}
  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }

  bool skip(uint64_t n) {
    if (!ok_ || n > b_.size() - pos_) return ok_ = false;
    pos_ += n;
    return true;
  }
  int32_t i32() {
    if (!ok_ || b_.size() - pos_ < 4) return ok_ = false, 0;
    const int32_t v = static_cast<int32_t>(be32(b_.data() + pos_));
    pos_ += 4;
    return v;
  }
  int16_t i16() {
    if (!ok_ || b_.size() - pos_ < 2) return ok_ = false, 0;
    const int16_t v = be16(b_.data() + pos_);
    pos_ += 2;
    return v;
  }
  uint64_t uvarint() {
    uint64_t v = 0;
    for (int shift = 0; ok_ && shift < 35; shift += 7) {
      if (pos_ >= b_.size()) break;
      const auto c = static_cast<unsigned char>(b_[pos_++]);
      v |= uint64_t{c & 0x7fu} << shift;
      if (!(c & 0x80)) return v;
    }
    return ok_ = false, 0;
  }
  // STRING / NULLABLE_STRING, or their COMPACT forms in flexible versions.
  void string(bool flexible, bool nullable) {
    if (flexible) {
      const uint64_t n = uvarint();
      if (n == 0 && !nullable) ok_ = false;
      if (n > 0) skip(n - 1);
    } else {
      const int16_t n = i16();
      if (n < 0 && !(nullable && n == -1)) ok_ = false;
      if (n > 0) skip(static_cast<uint64_t>(n));
    }
  }
  // A non-flexible STRING or BYTES (int16 or int32 length) as text.
  std::string text(bool bytes) {
    const int64_t n = bytes ? int64_t{i32()} : int64_t{i16()};
    if (!ok_ || n < 0 || static_cast<uint64_t>(n) > b_.size() - pos_) return ok_ = false, "";
    std::string out = b_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }
  uint64_t array_length(bool flexible) {
    if (flexible) {
      const uint64_t n = uvarint();
      if (n == 0) return ok_ = false, 0;  // a null array: no broker list to patch
      return n - 1;
    }
    const int32_t n = i32();
    if (n < 0) return ok_ = false, 0;
    return static_cast<uint64_t>(n);
  }
  void tagged_fields() {
    const uint64_t n = uvarint();
    for (uint64_t i = 0; ok_ && i < n; ++i) {
      uvarint();
      skip(uvarint());
    }
  }
  // Reads the int32 port at the current position and replaces it when `ports` knows it.
  void port(const port_map& ports) {
    const size_t at = pos_;
    const int32_t p = i32();
    if (!ok_) return;
    if (const auto it = ports.find(p); it != ports.end()) {
      const auto v = static_cast<uint32_t>(it->second);
      b_[at] = static_cast<char>(v >> 24);
      b_[at + 1] = static_cast<char>(v >> 16);
      b_[at + 2] = static_cast<char>(v >> 8);
      b_[at + 3] = static_cast<char>(v);
    }
  }

 private:
  std::string& b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// One broker entry: node_id, host, port (the rest is read by the caller).
void broker_address(reader& r, bool flexible, const port_map& ports) {
  r.i32();
  r.string(flexible, false);
  r.port(ports);
}

void put16(std::string& out, int v) { out += {static_cast<char>(v >> 8), static_cast<char>(v)}; }
void put32(std::string& out, int64_t v) {
  out += {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
void put_uvarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

}  // namespace

bool patch_broker_ports(int16_t api_key, int16_t api_version, std::string& body,
                        const port_map& ports, std::string& error) {
  reader r(body);
  r.i32();  // correlation id
  if (api_key == metadata_key) {
    if (api_version < 0 || api_version > 12) {
      error = "Metadata v" + std::to_string(api_version) + " is not supported";
      return false;
    }
    const bool flexible = api_version >= 9;
    if (flexible) r.tagged_fields();
    if (api_version >= 3) r.i32();  // throttle_time_ms
    const uint64_t n = r.array_length(flexible);
    for (uint64_t i = 0; r.ok() && i < n; ++i) {
      broker_address(r, flexible, ports);
      if (api_version >= 1) r.string(flexible, true);  // rack
      if (flexible) r.tagged_fields();
    }
  } else if (api_key == find_coordinator_key) {
    if (api_version < 0 || api_version > 4) {
      error = "FindCoordinator v" + std::to_string(api_version) + " is not supported";
      return false;
    }
    const bool flexible = api_version >= 3;
    if (flexible) r.tagged_fields();
    if (api_version >= 1) r.i32();  // throttle_time_ms
    if (api_version <= 3) {
      r.i16();                                         // error_code
      if (api_version >= 1) r.string(flexible, true);  // error_message
      broker_address(r, flexible, ports);
    } else {
      const uint64_t n = r.array_length(true);
      for (uint64_t i = 0; r.ok() && i < n; ++i) {
        r.string(true, false);  // key
        broker_address(r, true, ports);
        r.i16();
        r.string(true, true);
        r.tagged_fields();
      }
    }
  } else {
    error = "api " + std::to_string(api_key) + " carries no broker address";
    return false;
  }
  if (!r.ok()) {
    error = "malformed or truncated response (api " + std::to_string(api_key) + " v" +
            std::to_string(api_version) + ", " + std::to_string(body.size()) + " bytes)";
    return false;
  }
  return true;
}

bool kafka_stream::from_client(std::string_view in, std::string& out, std::string& reply,
                               std::string& error) {
  constexpr size_t header = 12;  // size, api key, api version, correlation id
  while (!in.empty()) {
    if (req_.pass_left > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(req_.pass_left, in.size()));
      out.append(in.substr(0, n));
      in.remove_prefix(n);
      req_.pass_left -= n;
      continue;
    }
    if (raw_token_) {  // after SaslHandshake v0: a size-prefixed PLAIN token, no Kafka header
      const size_t want = req_.head.size() < 4 ? 4 : 4 + be32(req_.head.data());
      if (req_.head.size() >= 4 && be32(req_.head.data()) > 64 * 1024) {
        error = "a SASL token of " + std::to_string(be32(req_.head.data())) + " bytes";
        return false;
      }
      const size_t take = std::min(want - req_.head.size(), in.size());
      req_.head.append(in.substr(0, take));
      in.remove_prefix(take);
      if (req_.head.size() < 4 || req_.head.size() < 4 + be32(req_.head.data())) continue;
      raw_token_ = false;
      authenticated_ = plain_token_matches(std::string_view(req_.head).substr(4), *sasl_);
      req_.head.clear();
      if (!authenticated_) {
        error = "SASL/PLAIN authentication refused: wrong user name or password";
        return false;
      }
      reply.append(4, '\0');  // success: an empty token
      continue;
    }
    if (req_.buffering) {  // a SASL request the front answers itself
      const size_t take =
          static_cast<size_t>(std::min<uint64_t>(req_.frame_end - req_.head.size(), in.size()));
      req_.head.append(in.substr(0, take));
      in.remove_prefix(take);
      if (req_.head.size() < req_.frame_end) break;
      reply += sasl_answer(std::string_view(req_.head).substr(4), *sasl_, authenticated_, error);
      raw_token_ = be16(req_.head.data() + 4) == sasl_handshake_key &&
                   be16(req_.head.data() + 6) == 0 && error.empty();
      req_.head.clear();
      req_.buffering = false;
      if (!error.empty()) return false;
      continue;
    }
    const size_t take = std::min(header - req_.head.size(), in.size());
    req_.head.append(in.substr(0, take));
    in.remove_prefix(take);
    if (req_.head.size() < header) break;
    const uint32_t size = be32(req_.head.data());
    const int16_t key = be16(req_.head.data() + 4);
    const int16_t version = be16(req_.head.data() + 6);
    const auto corr = static_cast<int32_t>(be32(req_.head.data() + 8));
    if (size < 8 || size > max_request_frame) {
      error = "request frame of " + std::to_string(size) + " bytes";
      return false;
    }
    if (sasl_ && !authenticated_) {
      if (key == sasl_handshake_key || key == sasl_authenticate_key) {
        if (size > 64 * 1024) {
          error = "a SASL request of " + std::to_string(size) + " bytes";
          return false;
        }
        req_.buffering = true;
        req_.frame_end = uint64_t{size} + 4;
        continue;
      }
      if (key != api_versions_key) {
        error = "api " + std::to_string(key) + " before SASL authentication";
        return false;
      }
    }
    const bool rewrite =
        key == metadata_key || key == find_coordinator_key || (sasl_ && key == api_versions_key);
    if (rewrite) {
      if (pending_.size() >= max_pending_rewrites) {
        error = "too many unanswered Metadata/FindCoordinator requests";
        return false;
      }
      pending_[corr] = {key, version};
    }
    out += req_.head;
    req_.head.clear();
    req_.pass_left = size - 8;
  }
  return true;
}

bool kafka_stream::from_broker(std::string_view in, std::string& out, std::string& error) {
  constexpr size_t header = 8;  // size, correlation id
  while (!in.empty()) {
    if (resp_.pass_left > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(resp_.pass_left, in.size()));
      out.append(in.substr(0, n));
      in.remove_prefix(n);
      resp_.pass_left -= n;
      continue;
    }
    if (resp_.buffering) {
      const size_t take =
          static_cast<size_t>(std::min<uint64_t>(resp_.frame_end - resp_.head.size(), in.size()));
      resp_.head.append(in.substr(0, take));
      in.remove_prefix(take);
      if (resp_.head.size() < resp_.frame_end) break;
      std::string body = resp_.head.substr(4);
      if (resp_.key == api_versions_key
              ? !add_sasl_apis(resp_.version, body, error)
              : !patch_broker_ports(resp_.key, resp_.version, body, ports_, error))
        return false;
      const auto n = static_cast<uint32_t>(body.size());
      out += {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
              static_cast<char>(n)};
      out += body;
      resp_.head.clear();
      resp_.buffering = false;
      continue;
    }
    const size_t take = std::min(header - resp_.head.size(), in.size());
    resp_.head.append(in.substr(0, take));
    in.remove_prefix(take);
    if (resp_.head.size() < header) break;
    const uint32_t size = be32(resp_.head.data());
    const auto corr = static_cast<int32_t>(be32(resp_.head.data() + 4));
    if (size < 4 || size > max_response_frame) {
      error = "response frame of " + std::to_string(size) + " bytes";
      return false;
    }
    if (const auto it = pending_.find(corr); it != pending_.end()) {
      resp_.key = it->second.first;
      resp_.version = it->second.second;
      pending_.erase(it);
      if (size < 8 || size > max_rewritten_frame) {
        error = "a broker-address response of " + std::to_string(size) + " bytes";
        return false;
      }
      resp_.buffering = true;
      resp_.frame_end = uint64_t{size} + 4;
      continue;
    }
    out += resp_.head;
    resp_.head.clear();
    resp_.pass_left = size - 4;
  }
  return true;
}

bool plain_token_matches(std::string_view token, const sasl_plain& creds) {
  // PLAIN (RFC 4616): authzid NUL user NUL password.
  const size_t a = token.find('\0');
  const size_t b = a == std::string_view::npos ? a : token.find('\0', a + 1);
  return b != std::string_view::npos && token.substr(a + 1, b - a - 1) == creds.user &&
         token.substr(b + 1) == creds.password;
}

bool add_sasl_apis(int16_t api_version, std::string& body, std::string& error) {
  if (api_version < 0 || api_version > 3) {
    error = "ApiVersions v" + std::to_string(api_version) + " is not supported";
    return false;
  }
  const bool flexible = api_version >= 3;
  reader r(body);
  r.i32();  // correlation id
  // An error (UNSUPPORTED_VERSION: the client asks again with a lower version) is passed on
  // as it is; its encoding follows other rules.
  if (r.i16() != 0 && r.ok()) return true;
  const size_t count_at = r.pos();
  const uint64_t n = r.array_length(flexible);
  const size_t entries_at = r.pos();
  bool handshake = false, authenticate = false;
  for (uint64_t i = 0; r.ok() && i < n; ++i) {
    const int16_t key = r.i16();
    r.i16();
    r.i16();
    if (flexible) r.tagged_fields();
    handshake |= key == sasl_handshake_key;
    authenticate |= key == sasl_authenticate_key;
  }
  if (!r.ok()) {
    error = "malformed or truncated ApiVersions response";
    return false;
  }
  const size_t entries_end = r.pos();
  std::string out = body.substr(0, count_at);
  const uint64_t added = (handshake ? 0 : 1) + (authenticate ? 0 : 1);
  if (flexible)
    put_uvarint(out, n + added + 1);
  else
    put32(out, static_cast<int64_t>(n + added));
  out.append(body, entries_at, entries_end - entries_at);
  for (const int16_t key : {sasl_handshake_key, sasl_authenticate_key}) {
    if ((key == sasl_handshake_key && handshake) || (key == sasl_authenticate_key && authenticate))
      continue;
    put16(out, key);
    put16(out, 0);
    put16(out, 1);
    if (flexible) put_uvarint(out, 0);
  }
  out.append(body, entries_end, std::string::npos);
  body = std::move(out);
  return true;
}

std::string sasl_answer(std::string_view request, const sasl_plain& creds, bool& authenticated,
                        std::string& error) {
  std::string req(request);
  reader r(req);
  const int16_t key = r.i16();
  const int16_t version = r.i16();
  const int32_t corr = r.i32();
  r.string(false, true);  // client id
  std::string body;
  put32(body, corr);
  if (key == sasl_handshake_key && version >= 0 && version <= 1) {
    const std::string mechanism = r.text(false);
    if (!r.ok()) {
      error = "malformed SaslHandshake request";
      return "";
    }
    const bool plain = mechanism == "PLAIN";
    put16(body, plain ? 0 : 33);  // UNSUPPORTED_SASL_MECHANISM
    put32(body, 1);
    put16(body, 5);
    body += "PLAIN";
    if (!plain) error = "the client asked for a SASL mechanism other than PLAIN";
  } else if (key == sasl_authenticate_key && version >= 0 && version <= 1) {
    const std::string token = r.text(true);
    if (!r.ok()) {
      error = "malformed SaslAuthenticate request";
      return "";
    }
    const bool ok = plain_token_matches(token, creds);
    authenticated = ok;
    put16(body, ok ? 0 : 58);  // SASL_AUTHENTICATION_FAILED
    if (ok) {
      put16(body, -1);
    } else {
      const std::string message = "Authentication failed: invalid user name or password";
      put16(body, static_cast<int>(message.size()));
      body += message;
      error = "SASL/PLAIN authentication refused: wrong user name or password";
    }
    put32(body, 0);  // auth bytes
    if (version >= 1) {
      put32(body, 0);  // session_lifetime_ms (int64): no re-authentication
      put32(body, 0);
    }
  } else {
    error = "api " + std::to_string(key) + " v" + std::to_string(version) +
            " is not a SASL request the front answers";
    return "";
  }
  std::string frame;
  put32(frame, static_cast<int64_t>(body.size()));
  return frame + body;
}

}  // namespace isitup::kafka_dev
