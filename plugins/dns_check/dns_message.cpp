// Reading DNS replies (dns_message.hpp).
#include "dns_message.hpp"

#include <ares.h>
#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <cstdio>

namespace isitup::dns {
namespace {

struct named_type {
  const char* name;
  uint16_t type;
};
constexpr std::array<named_type, 10> types{{{"A", 1},
                                            {"NS", 2},
                                            {"CNAME", 5},
                                            {"SOA", 6},
                                            {"PTR", 12},
                                            {"MX", 15},
                                            {"TXT", 16},
                                            {"AAAA", 28},
                                            {"SRV", 33},
                                            {"CAA", 257}}};

constexpr std::array<const char*, 11> rcodes{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                             "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                             "NXRRSET", "NOTAUTH", "NOTZONE"};

uint16_t u16(const unsigned char* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t u32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// A (possibly compressed) name at `at`; sets `used` to its length there. nullopt when bad.
std::optional<std::string> read_name(const unsigned char* msg, size_t len, const unsigned char* at,
                                     long& used) {
  char* s = nullptr;
  if (ares_expand_name(at, msg, static_cast<int>(len), &s, &used) != ARES_SUCCESS) return {};
  std::string name = *s ? s : ".";
  ares_free_string(s);
  return name;
}

// <character-string>s as quoted text: printable ASCII as is (\" and \\ escaped), other
// bytes as \DDD; several strings separated by a space, as dig prints TXT records.
void append_quoted(std::string& out, const unsigned char* p, size_t n) {
  out += '"';
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char code[8];
      std::snprintf(code, sizeof code, "\\%03u", c);
      out += code;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

// The presentation form of one record's data; nullopt when the data is malformed.
std::optional<std::string> format_rdata(uint16_t type, const unsigned char* msg, size_t len,
                                        const unsigned char* rd, size_t rdlen) {
  std::string out;
  long used = 0;
  switch (type) {
    case 1:
    case 28: {
      if (rdlen != (type == 1 ? 4u : 16u)) return {};
      char text[INET6_ADDRSTRLEN];
      if (!inet_ntop(type == 1 ? AF_INET : AF_INET6, rd, text, sizeof text)) return {};
      return std::string(text);
    }
    case 2:
    case 5:
    case 12: {
      auto name = read_name(msg, len, rd, used);
      if (!name || static_cast<size_t>(used) != rdlen) return {};
      return name;
    }
    case 15: {
      if (rdlen < 3) return {};
      auto name = read_name(msg, len, rd + 2, used);
      if (!name || static_cast<size_t>(used) + 2 != rdlen) return {};
      return std::to_string(u16(rd)) + " " + *name;
    }
    case 16: {
      for (size_t i = 0; i < rdlen;) {
        const size_t n = rd[i];
        if (i + 1 + n > rdlen) return {};
        if (!out.empty()) out += ' ';
        append_quoted(out, rd + i + 1, n);
        i += 1 + n;
      }
      return out;
    }
    case 6: {
      long used2 = 0;
      auto mname = read_name(msg, len, rd, used);
      if (!mname || static_cast<size_t>(used) >= rdlen) return {};
      auto rname = read_name(msg, len, rd + used, used2);
      if (!rname || static_cast<size_t>(used + used2) + 20 != rdlen) return {};
      const unsigned char* n = rd + used + used2;
      return *mname + " " + *rname + " " + std::to_string(u32(n)) + " " +
             std::to_string(u32(n + 4)) + " " + std::to_string(u32(n + 8)) + " " +
             std::to_string(u32(n + 12)) + " " + std::to_string(u32(n + 16));
    }
    case 33: {
      if (rdlen < 7) return {};
      auto name = read_name(msg, len, rd + 6, used);
      if (!name || static_cast<size_t>(used) + 6 != rdlen) return {};
      return std::to_string(u16(rd)) + " " + std::to_string(u16(rd + 2)) + " " +
             std::to_string(u16(rd + 4)) + " " + *name;
    }
    case 257: {
      if (rdlen < 2 || 2u + rd[1] > rdlen) return {};
      std::string tag(reinterpret_cast<const char*>(rd + 2), rd[1]);
      for (char& c : tag)  // RFC 8659: letters and digits; anything else shown as '?'
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '?';
      out = std::to_string(rd[0]) + " " + tag + " ";
      append_quoted(out, rd + 2 + rd[1], rdlen - 2 - rd[1]);
      return out;
    }
    default: {
      out = "\\# " + std::to_string(rdlen);
      if (rdlen) out += ' ';
      for (size_t i = 0; i < rdlen; ++i) {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%02x", rd[i]);
        out += hex;
      }
      return out;
    }
  }
}

}  // namespace

uint16_t type_from_name(std::string_view name) {
  for (const named_type& t : types)
    if (name == t.name) return t.type;
  return 0;
}

std::string type_name(uint16_t type) {
  for (const named_type& t : types)
    if (type == t.type) return t.name;
  return "TYPE" + std::to_string(type);
}

std::string rcode_name(int rcode) {
  if (rcode >= 0 && static_cast<size_t>(rcode) < rcodes.size()) return rcodes[rcode];
  return "RCODE" + std::to_string(rcode);
}

int rcode_from_name(std::string_view name) {
  for (size_t i = 0; i < rcodes.size(); ++i)
    if (name == rcodes[i]) return static_cast<int>(i);
  return -1;
}

std::optional<dns_reply> parse_reply(const unsigned char* msg, size_t len, std::string& error) {
  if (len < 12) {
    error = "reply shorter than a DNS header (" + std::to_string(len) + " bytes)";
    return {};
  }
  if (len > 65535) {
    error = "reply longer than a DNS message can be";
    return {};
  }
  if (!(msg[2] & 0x80)) {
    error = "not a reply (QR bit clear)";
    return {};
  }
  dns_reply r;
  r.authoritative = (msg[2] & 0x04) != 0;
  r.truncated = (msg[2] & 0x02) != 0;
  r.rcode = msg[3] & 0x0f;
  const uint16_t qdcount = u16(msg + 4), ancount = u16(msg + 6);
  const unsigned char* p = msg + 12;
  const unsigned char* end = msg + len;
  for (uint16_t i = 0; i < qdcount; ++i) {
    long used = 0;
    if (!read_name(msg, len, p, used) || end - p < used + 4) {
      error = "malformed question section";
      return {};
    }
    p += used + 4;
  }
  r.answers.reserve(ancount);
  for (uint16_t i = 0; i < ancount; ++i) {
    long used = 0;
    if (p >= end || !read_name(msg, len, p, used) || end - p < used + 10) {
      error = "malformed answer record " + std::to_string(i + 1);
      return {};
    }
    p += used;
    dns_record rec;
    rec.type = u16(p);
    const uint32_t ttl = u32(p + 4);
    rec.ttl = (ttl & 0x80000000u) ? 0 : ttl;  // RFC 2181: a TTL with the top bit set means 0
    const size_t rdlen = u16(p + 8);
    p += 10;
    if (static_cast<size_t>(end - p) < rdlen) {
      error = "answer record " + std::to_string(i + 1) + " runs past the end of the reply";
      return {};
    }
    auto data = format_rdata(rec.type, msg, len, p, rdlen);
    if (!data) {
      error = "malformed " + type_name(rec.type) + " record data";
      return {};
    }
    rec.data = std::move(*data);
    r.answers.push_back(std::move(rec));
    p += rdlen;
  }
  return r;
}

std::optional<std::string> reverse_name(const std::string& ip) {
  unsigned char a[16];
  char part[8];
  std::string out;
  if (inet_pton(AF_INET, ip.c_str(), a) == 1) {
    for (int i = 3; i >= 0; --i) out += std::to_string(a[i]) + ".";
    return out + "in-addr.arpa";
  }
  if (inet_pton(AF_INET6, ip.c_str(), a) == 1) {
    for (int i = 15; i >= 0; --i) {
      std::snprintf(part, sizeof part, "%x.%x.", a[i] & 0x0f, a[i] >> 4);
      out += part;
    }
    return out + "ip6.arpa";
  }
  return {};
}

}  // namespace isitup::dns
