#include <algorithm>

#include "config_internal.hpp"

namespace isitup::config::detail {

namespace {

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_non_ascii(char c) { return static_cast<unsigned char>(c) >= 0x80; }  // UTF-8 (IDN)

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Empty when `port` is a number in 1..65535, else the reason.
std::string check_port(std::string_view port) {
  const auto value = parse_int64(port);
  if (port.empty() || port.front() == '-' || !value || *value < 1 || *value > 65535) {
    return "port " + quote(port) + " is not a number from 1 to 65535";
  }
  return "";
}

// Empty when `host` is a host name (letters, digits, '-' and '.'; labels of 1 to 63
// characters that neither start nor end with '-'), else the reason.
std::string check_host_name(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // fully qualified
  if (host.empty()) return "the host name is empty";
  if (host.size() > 253) return "the host name is longer than 253 characters";
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t end = host.find('.', start);
    if (end == std::string_view::npos) end = host.size();
    const std::string_view label = host.substr(start, end - start);
    if (label.empty()) return "the host name has an empty label ('..' or a leading '.')";
    if (label.size() > 63) return "the host name has a label longer than 63 characters";
    for (char c : label) {
      if (!is_ascii_alnum(c) && !is_non_ascii(c) && c != '-') {
        return std::string("character '") + c + "' is not allowed in a host name";
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return "a host name label cannot start or end with '-'";
    }
    start = end + 1;
  }
  return "";
}

// Empty when the authority of an http(s) URL (after "://", before the path) has a host and,
// if given, a valid port.
std::string check_authority(std::string_view authority) {
  const std::size_t user_end = authority.rfind('@');
  if (user_end != std::string_view::npos) authority.remove_prefix(user_end + 1);
  std::string_view host = authority;
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return "the IPv6 address has no closing ']'";
    host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
    const bool valid = std::all_of(host.begin(), host.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    });
    if (!host.empty() && !valid) return "bad IPv6 address " + quote(host);
    if (!rest.empty() && rest.front() != ':') return "unexpected text after ']'";
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) rest = authority.substr(colon);
    for (char c : host) {
      if (!is_ascii_alnum(c) && !is_non_ascii(c) && c != '-' && c != '.' && c != '_' && c != '~' &&
          c != '%') {
        return std::string("character '") + c + "' is not allowed in a host";
      }
    }
  }
  if (host.empty()) return "the URL has no host";
  if (!rest.empty()) return check_port(rest.substr(1));
  return "";
}

}  // namespace

namespace {

// Where the userinfo of a scheme://user:pw@host/... URL is: [begin, end) without the '@';
// nullopt when there is none.
std::optional<std::pair<std::size_t, std::size_t>> userinfo_span(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  const std::size_t begin = scheme_end + 3;
  const std::size_t authority_end = std::min(url.find_first_of("/?#", begin), url.size());
  const std::size_t at = url.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos || at < begin) return std::nullopt;
  return std::pair{begin, at};
}

}  // namespace

std::optional<std::string> domain_target(std::string_view entry, std::string& why) {
  const std::string expected =
      "; expected a domain (example.com, example.com:8443) or an http:// or https:// URL";
  if (entry.empty()) {
    why = "empty entry" + expected;
    return std::nullopt;
  }
  for (char c : entry) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      why = quote(redact_userinfo(entry)) + " contains " +
            (c == ' ' ? "a space" : "a control character") + expected;
      return std::nullopt;
    }
  }
  const std::size_t scheme_end = entry.find("://");
  if (scheme_end != std::string_view::npos) {
    const std::string scheme = lowercase(entry.substr(0, scheme_end));
    if (scheme != "http" && scheme != "https") {
      why = quote(redact_userinfo(entry)) + ": scheme " + quote(scheme) +
            " is not supported here (domains are checked with http_check; use checks: with "
            "another plugin)" +
            expected;
      return std::nullopt;
    }
    const std::string_view rest = entry.substr(scheme_end + 3);
    const std::string reason = check_authority(rest.substr(0, rest.find_first_of("/?#")));
    if (!reason.empty()) {
      why = quote(redact_userinfo(entry)) + ": " + reason;
      return std::nullopt;
    }
    return std::string(entry);
  }
  std::string reason;
  if (entry.find_first_of("/?#@") != std::string_view::npos) {
    reason = "a path or query needs a URL, e.g. https://" + std::string(entry);
  } else if (std::count(entry.begin(), entry.end(), ':') > 1) {
    reason = "an IPv6 address needs a URL, e.g. https://[::1]:8443/";
  } else {
    const std::size_t colon = entry.find(':');
    reason = check_host_name(entry.substr(0, colon));
    if (reason.empty() && colon != std::string_view::npos) {
      reason = check_port(entry.substr(colon + 1));
    }
  }
  if (!reason.empty()) {
    why = quote(redact_userinfo(entry)) + " is not a domain: " + reason + expected;
    return std::nullopt;
  }
  return "https://" + std::string(entry) + "/";
}

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::vector<domains_file_entry> read_domains_file(const std::string& path,
                                                  const location& key_where,
                                                  std::size_t max_bytes) {
  std::string why;
  auto read = read_bounded_file(path, max_bytes, why);
  if (!read) fail(key_where, "domains_file: cannot read " + quote(path) + ": " + why);
  std::string text = std::move(*read);
  if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);  // UTF-8 byte order mark
  std::vector<domains_file_entry> entries;
  int line_number = 0;
  std::size_t line_start = 0;
  while (line_start < text.size()) {
    ++line_number;
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    std::string_view line(text.data() + line_start, line_end - line_start);
    line_start = line_end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    std::size_t begin = 0;
    while (begin < line.size() && is_blank(line[begin])) ++begin;
    if (begin == line.size() || line[begin] == '#') continue;
    std::size_t end = line.size();
    for (std::size_t i = begin + 1; i < line.size(); ++i) {
      if (line[i] == '#' && is_blank(line[i - 1])) {
        end = i;
        break;
      }
    }
    while (end > begin && is_blank(line[end - 1])) --end;

    const std::string_view raw = line.substr(begin, end - begin);
    domains_file_entry e;
    e.where = {path, line_number, static_cast<int>(begin) + 1};
    substitution_error error;
    if (!substitute_env(raw, e.text, error)) {
      fail({path, line_number, static_cast<int>(begin + error.offset) + 1}, error.message);
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace isitup::config::detail

namespace isitup::config {

std::string redact_userinfo(std::string_view url) {
  const auto span = detail::userinfo_span(url);
  if (!span) return std::string(url);
  const std::string_view info = url.substr(span->first, span->second - span->first);
  const std::size_t colon = info.find(':');
  const std::string shown =
      colon == std::string_view::npos ? "***" : std::string(info.substr(0, colon)) + ":***";
  return std::string(url.substr(0, span->first)) + shown + std::string(url.substr(span->second));
}

std::string without_userinfo(std::string_view url) {
  const auto span = detail::userinfo_span(url);
  if (!span) return std::string(url);
  return std::string(url.substr(0, span->first)) + std::string(url.substr(span->second + 1));
}

}  // namespace isitup::config
