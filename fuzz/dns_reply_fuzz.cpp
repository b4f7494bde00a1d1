// Fuzz target: dns_check's reading of a DNS server's reply (isitup::dns::parse_reply), the
// bytes a hostile or broken server sends. The input is the reply as received.
// Promises checked: a reply read is not larger than its message allows (no more records than
// the answer count says); every record's data is printable ASCII (it goes into JSON, logs and
// text lines), and an A or AAAA record's data is an address; a refusal says why.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "dns_message.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using isitup::fuzz::require;
  std::string error;
  const auto reply = isitup::dns::parse_reply(data, size, error);
  if (!reply) {
    require(!error.empty(), "a refused reply says why");
    return 0;
  }
  require(size >= 12, "a reply has a header");
  const size_t ancount = (static_cast<size_t>(data[6]) << 8) | data[7];
  require(reply->answers.size() == ancount, "one record per announced answer");
  require(reply->rcode >= 0 && reply->rcode <= 15, "rcode has four bits");
  for (const auto& a : reply->answers) {
    for (char c : a.data) {
      const auto u = static_cast<unsigned char>(c);
      require(u >= 0x20 && u < 0x7f, "record data is printable ASCII");
    }
    if (a.type == 1 || a.type == 28) {
      unsigned char buf[16];
      require(inet_pton(a.type == 1 ? AF_INET : AF_INET6, a.data.c_str(), buf) == 1,
              "an address record reads as an address");
    }
    require(a.ttl <= 0x7fffffffu, "a TTL fits in 31 bits");
  }
  return 0;
}
