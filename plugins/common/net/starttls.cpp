// The STARTTLS dialogues of conn_engine (RFC 3207 SMTP, RFC 2595 IMAP and POP3): read the
// greeting, ask for TLS, and start the handshake on the server's yes. Any other answer ends
// the run with kind `protocol`. Bytes after the server's yes are refused (they would be
// plaintext injected into the TLS session, CVE-2011-0411).
#include <cctype>

#include <isitup/text.hpp>
#include <isitup/util/error_text.hpp>

#include "net/conn_engine.hpp"
#include "net/conn_internal.hpp"

namespace isitup::net {

namespace {

constexpr size_t max_prelude_bytes = 16384;  // unanswered dialogue bytes kept at most

// Takes one complete line from `in` (without its CR LF); false when there is none yet.
bool take_line(std::string& in, std::string& line) {
  const auto nl = in.find('\n');
  if (nl == std::string::npos) return false;
  line.assign(in, 0, nl);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  in.erase(0, nl + 1);
  return true;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

const char* protocol_name(starttls_kind k) {
  return k == starttls_kind::smtp ? "SMTP" : k == starttls_kind::imap ? "IMAP" : "POP3";
}

}  // namespace

bool conn_engine::starttls_step(run* r) {
  const starttls_kind kind = r->opt->starttls;
  const std::string proto = protocol_name(kind);
  std::string line;
  if (!take_line(r->in, line)) {
    std::string error;
    const int got = detail::read_some(nullptr, r->fd, r->in, max_prelude_bytes, error);
    if (got == -2) {
      fail(r, "connect", error);
    } else if (got == -1) {
      fail(r, "protocol", "the server closed the connection during " + proto + " STARTTLS");
    } else if (got == 0 && r->in.size() >= max_prelude_bytes) {
      fail(r, "protocol", proto + " STARTTLS: a line longer than 16 KiB");
    }
    return got == 1;
  }
  auto refuse = [&](const std::string& what) {
    fail(r, "protocol", proto + " STARTTLS: " + what + ": '" + sdk::shown_value(line, 80) + "'");
    return false;
  };
  auto say = [&](const char* command) {
    const size_t n = std::strlen(command);
    if (::send(r->fd, command, n, MSG_NOSIGNAL) != static_cast<ssize_t>(n)) {
      fail(r, "connect", std::string("sending ") + proto + " command: " + sdk::error_text(errno));
      return false;
    }
    ++r->prelude_step;
    return true;
  };
  auto go_tls = [&]() {
    if (!r->in.empty()) {
      line = r->in;
      return refuse("bytes after the answer to STARTTLS");
    }
    start_handshake(r);
    return false;
  };
  switch (kind) {
    case starttls_kind::smtp: {
      // Multi-line answers: "250-..." lines, then "250 ..." (or "250" alone) last.
      const bool last = line.size() < 4 || line[3] == ' ';
      if (r->prelude_step == 0) {
        if (!starts_with(line, "220")) return refuse("not a greeting");
        return !last || say("EHLO isitup.invalid\r\n");
      }
      if (r->prelude_step == 1) {
        if (!starts_with(line, "250")) return refuse("EHLO refused");
        if (upper(line.substr(std::min<size_t>(4, line.size()))).rfind("STARTTLS", 0) == 0)
          r->starttls_offered = true;
        if (!last) return true;
        if (!r->starttls_offered) return refuse("the server does not offer STARTTLS");
        return say("STARTTLS\r\n");
      }
      if (!starts_with(line, "220")) return refuse("STARTTLS refused");
      return last ? go_tls() : true;
    }
    case starttls_kind::imap:
      if (r->prelude_step == 0) {
        if (!starts_with(upper(line), "* OK")) return refuse("not a greeting");
        return say("a1 STARTTLS\r\n");
      }
      if (starts_with(line, "* ")) return true;  // untagged: capabilities and the like
      if (!starts_with(upper(line), "A1 OK")) return refuse("STARTTLS refused");
      return go_tls();
    case starttls_kind::pop3:
      if (!starts_with(line, "+OK"))
        return refuse(r->prelude_step == 0 ? "not a greeting" : "STLS refused");
      if (r->prelude_step == 0) return say("STLS\r\n");
      return go_tls();
    case starttls_kind::none:
      break;
  }
  return false;
}

}  // namespace isitup::net
