// dns_check's reading of DNS messages: the answer section of a reply as text, one record at a
// time, in the presentation form of RFC 1035 (as dig prints it, without the owner name).
// Pure functions over a byte buffer: no I/O, no state, any thread. Every length in the message
// is checked against the buffer; names (with compression) are read by c-ares's
// ares_expand_name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace isitup::dns {

// The record types dns_check asks for, by name ("A" -> 1); 0 for any other name.
uint16_t type_from_name(std::string_view name);
// "A" for 1; "TYPE<n>" (RFC 3597) for a type without a name here.
std::string type_name(uint16_t type);
// "NOERROR" for 0 ... "NOTZONE" for 10; "RCODE<n>" for the others. -1 for an unknown name.
std::string rcode_name(int rcode);
int rcode_from_name(std::string_view name);

struct dns_record {
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string data;  // presentation form: "192.0.2.1", "10 mail.example.com", "\"v=spf1 -all\""
};

struct dns_reply {
  int rcode = 0;
  bool authoritative = false;
  bool truncated = false;
  std::vector<dns_record> answers;  // the answer section, in message order
};

// Reads a reply; nullopt with `error` set when the message is not a well-formed DNS reply
// (too short, a length past the end, a bad name).
std::optional<dns_reply> parse_reply(const unsigned char* msg, size_t len, std::string& error);

// The reverse-lookup name of an IP address ("192.0.2.1" -> "1.2.0.192.in-addr.arpa"), or
// nullopt when `ip` is not an IPv4 or IPv6 address.
std::optional<std::string> reverse_name(const std::string& ip);

}  // namespace isitup::dns
