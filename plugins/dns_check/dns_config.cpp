// dns_check's options (dns_config.hpp).
#include "dns_config.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <idn2.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <isitup/config_map.hpp>
#include <isitup/text.hpp>

#include "dns_message.hpp"

namespace isitup::dns {
namespace {

constexpr size_t max_servers = 8;
constexpr size_t max_patterns = 32;

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument(what); }

// "ip", "ip:port" or "[ip6]:port" as "ip:port" / "[ip6]:port" for c-ares.
std::string server_entry(const std::string& s) {
  std::string host = s, port = "53";
  unsigned char buf[16];
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string::npos) bad("server: no ']' in \"" + sdk::shown_value(s) + "\"");
    host = s.substr(1, close - 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':')
        bad("server: expected ':port' after ']' in \"" + sdk::shown_value(s) + "\"");
      port = s.substr(close + 2);
    }
  } else if (std::count(s.begin(), s.end(), ':') == 1) {
    host = s.substr(0, s.find(':'));
    port = s.substr(s.find(':') + 1);
  }
  const bool v4 = inet_pton(AF_INET, host.c_str(), buf) == 1;
  if (!v4 && inet_pton(AF_INET6, host.c_str(), buf) != 1)
    bad("server: expected an IP address, \"ip:port\" or \"[ip6]:port\", got \"" +
        sdk::shown_value(s) + "\"");
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(port) < 1 || std::stoi(port) > 65535)
    bad("server: expected a port from 1 to 65535 in \"" + sdk::shown_value(s) + "\"");
  return v4 ? host + ":" + port : "[" + host + "]:" + port;
}

// A name with non-ASCII characters as its A-label form (IDNA2008 with TR46, as http_check):
// "bücher.example" -> "xn--bcher-kva.example". ASCII names are returned as given.
std::string to_a_label(const std::string& name) {
  if (std::all_of(name.begin(), name.end(), [](char c) { return (c & 0x80) == 0; })) return name;
  char* out = nullptr;
  int rc = idn2_to_ascii_8z(name.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc == IDN2_DISALLOWED)
    rc = idn2_to_ascii_8z(name.c_str(), &out, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
  if (rc != IDN2_OK)
    bad("target: \"" + sdk::shown_value(name) +
        "\" is not a valid internationalized domain name: " + idn2_strerror(rc));
  std::string ascii(out);
  idn2_free(out);
  return ascii;
}

// A domain name in ASCII: labels of 1 to 63 letters, digits, '-', '_' or '*', 253 at most.
void check_name(const std::string& name) {
  const std::string shown = "\"" + sdk::shown_value(name) + "\"";
  if (name.empty() || name == ".") bad("target: expected a domain name, got " + shown);
  const std::string n = name.back() == '.' ? name.substr(0, name.size() - 1) : name;
  if (n.size() > 253) bad("target: a domain name has at most 253 characters, got " + shown);
  size_t label = 0;
  for (char c : n) {
    if (c == '.') {
      if (label == 0) bad("target: empty label in " + shown);
      label = 0;
      continue;
    }
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '-' && c != '_' && c != '*')
      bad("target: expected letters, digits, '-', '_' or '*' in a domain name (IDNs as "
          "xn-- A-labels), got " +
          shown);
    if (++label > 63) bad("target: a label has at most 63 characters in " + shown);
  }
  if (label == 0) bad("target: empty label in " + shown);
}

}  // namespace

std::string dns_query::channel_key(std::chrono::milliseconds try_timeout) const {
  return servers + (tcp ? "|tcp|" : "|udp|") + std::to_string(attempts) + "|" +
         std::to_string(try_timeout.count());
}

namespace {

// A check's options as declared (sdk::config_map): one list for the host's validation,
// --describe-plugin and this struct.
struct dns_options {
  std::string type, expect_rcode;
  std::vector<std::string> server, expect_answers;
  bool tcp = false, recursion = true;
  int64_t attempts = 2;
  int64_t expect_min_answers = -1;  // -1: not given (the default depends on expect_rcode)
};

const sdk::config_map<dns_options>& options_map() {
  static const auto map =
      sdk::config_map<dns_options>()
          .string("type", &dns_options::type, "A",
                  "record type: A, AAAA, CNAME, MX, TXT, NS, SOA, CAA, SRV or PTR (PTR of an IP "
                  "target asks for its reverse name)")
          .list("server", &dns_options::server, "[]",
                "DNS servers to ask, \"ip\", \"ip:port\" or \"[ip6]:port\", tried in order; "
                "empty: /etc/resolv.conf")
          .boolean("tcp", &dns_options::tcp, "false",
                   "ask over TCP only; false: UDP, and TCP again when the UDP answer is truncated")
          .boolean("recursion", &dns_options::recursion, "true",
                   "set the RD bit (ask the server to recurse); false to ask an authoritative "
                   "server")
          .integer("attempts", &dns_options::attempts, "2",
                   "tries per server before giving up on it (each gets an equal share of the "
                   "timeout)",
                   1, 10)
          .string("expect_rcode", &dns_options::expect_rcode, "NOERROR",
                  "the response code that counts as up: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...")
          .list("expect_answers", &dns_options::expect_answers, "[]",
                "RE2 patterns; each must match (search) the data of some answer record")
          .integer("expect_min_answers", &dns_options::expect_min_answers, nullptr,
                   "answer records of the asked type needed at least; default 1 with "
                   "expect_rcode NOERROR, else 0",
                   0, 65535);
  return map;
}

}  // namespace

std::vector<sdk::option> declared_options() { return options_map().options(); }

std::shared_ptr<const dns_query> make_query(const std::string& target,
                                            const sdk::options_view& options) {
  auto q = std::make_shared<dns_query>();
  const dns_options o = options_map().read(options);
  q->type = type_from_name(o.type);
  if (q->type == 0)
    bad("type: expected A, AAAA, CNAME, MX, TXT, NS, SOA, CAA, SRV or PTR, got \"" +
        sdk::shown_value(o.type) + "\"");
  q->name = to_a_label(target);
  if (q->type == 12)
    if (auto reverse = reverse_name(target)) q->name = *reverse;
  check_name(q->name);

  if (o.server.size() > max_servers)
    bad("server: at most " + std::to_string(max_servers) + " servers, got " +
        std::to_string(o.server.size()));
  for (const std::string& s : o.server)
    q->servers += (q->servers.empty() ? "" : ",") + server_entry(s);
  q->tcp = o.tcp;
  q->attempts = static_cast<int>(o.attempts);

  q->expect_rcode = rcode_from_name(o.expect_rcode);
  if (q->expect_rcode < 0)
    bad("expect_rcode: expected NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, "
        "YXDOMAIN, YXRRSET, NXRRSET, NOTAUTH or NOTZONE, got \"" +
        sdk::shown_value(o.expect_rcode) + "\"");
  q->expect_min_answers =
      o.expect_min_answers >= 0 ? o.expect_min_answers : (q->expect_rcode == 0 ? 1 : 0);

  if (o.expect_answers.size() > max_patterns)
    bad("expect_answers: at most " + std::to_string(max_patterns) + " patterns");
  for (const std::string& p : o.expect_answers) {
    re2::RE2::Options ro;
    ro.set_log_errors(false);
    auto re = std::make_unique<re2::RE2>(p, ro);
    if (!re->ok())
      bad("expect_answers: \"" + sdk::shown_value(p) + "\" is not an RE2 pattern: " + re->error());
    q->expect_answers.push_back(std::move(re));
  }

  unsigned char* buf = nullptr;
  int len = 0;
  if (ares_create_query(q->name.c_str(), 1 /* IN */, q->type, 0, o.recursion ? 1 : 0, &buf, &len,
                        0) != ARES_SUCCESS)
    bad("target: c-ares cannot make a query for \"" + sdk::shown_value(q->name) + "\"");
  q->wire.assign(buf, buf + len);
  ares_free_string(buf);
  return q;
}

}  // namespace isitup::dns
