// URLs are taken apart with libcurl's own parser (curl_url), so what is checked here is what
// libcurl will later connect to.
#include "webhook_config.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <stdexcept>

namespace isitup::webhook {
namespace {

struct url_deleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using url_handle = std::unique_ptr<CURLU, url_deleter>;

// One part of a parsed URL, "" when absent.
std::string part(CURLU* u, CURLUPart which) {
  char* p = nullptr;
  if (curl_url_get(u, which, &p, 0) != CURLUE_OK || !p) return {};
  std::string out(p);
  curl_free(p);
  return out;
}

url_handle parse(const std::string& url) {
  url_handle u(curl_url());
  if (!u) throw std::runtime_error("url: out of memory");
  // Without CURLU_GUESS_SCHEME: a URL with no scheme is refused rather than guessed.
  if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
    throw std::invalid_argument("url: not a valid absolute URL (expected http:// or https://)");
  return u;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool has_control_char(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Headers the plugin sets itself or that would break the request if a config set them.
bool is_reserved(const std::string& name) {
  static const char* const reserved[] = {
      "host",   "content-length",  "transfer-encoding", "connection",
      "expect", "idempotency-key", "x-isitup-event-id", "x-isitup-signature"};
  const std::string n = lower(name);
  return std::any_of(std::begin(reserved), std::end(reserved),
                     [&](const char* r) { return n == r; });
}

std::chrono::milliseconds positive(const sdk::options_view& o, const char* name,
                                   std::chrono::milliseconds max, bool zero_ok = false) {
  const auto v = o.duration(name);
  if (v.count() < 0 || (v.count() == 0 && !zero_ok) || v > max)
    throw std::invalid_argument(std::string(name) + ": expected a duration " +
                                (zero_ok ? "from 0s" : "above 0s") + " up to " +
                                std::to_string(max.count() / 1000) + "s");
  return v;
}

}  // namespace

std::string safe_url_of(const std::string& url) {
  if (url.empty()) throw std::invalid_argument("url: expected an http:// or https:// URL");
  if (has_control_char(url) || url.find(' ') != std::string::npos)
    throw std::invalid_argument("url: contains spaces or control characters");
  const url_handle u = parse(url);
  const std::string scheme = lower(part(u.get(), CURLUPART_SCHEME));
  if (scheme != "http" && scheme != "https")
    throw std::invalid_argument("url: expected an http:// or https:// URL, not " + scheme + "://");
  const std::string host = part(u.get(), CURLUPART_HOST);
  if (host.empty()) throw std::invalid_argument("url: has no host");
  const std::string port = part(u.get(), CURLUPART_PORT);
  return scheme + "://" + host + (port.empty() ? "" : ":" + port);
}

settings parse_settings(const sdk::options_view& o) {
  settings s;
  s.url = o.string("url");
  s.safe_url = safe_url_of(s.url);

  const std::string format = o.string("format");
  if (format == "json")
    s.format = body_format::json;
  else if (format == "slack")
    s.format = body_format::slack;
  else if (format == "discord")
    s.format = body_format::discord;
  else
    throw std::invalid_argument("format: expected json, slack or discord, got \"" +
                                clean_utf8(format, 40) + "\"");

  for (auto& [name, value] : o.map("headers")) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char))
      throw std::invalid_argument("headers: \"" + clean_utf8(name, 60) +
                                  "\" is not a valid header name");
    if (is_reserved(name))
      throw std::invalid_argument("headers: " + name + " is set by the plugin itself");
    if (has_control_char(value))  // the value itself is never echoed: it may be a credential
      throw std::invalid_argument("headers: the value of " + name +
                                  " contains control characters (CR, LF, NUL, ...)");
    s.headers.emplace_back(name, value);
  }

  s.secret = o.string("secret");
  if (o.has_value("secret") && s.secret.empty())
    throw std::invalid_argument("secret: must not be empty (leave it out for no signature)");

  s.timeout = positive(o, "timeout", std::chrono::minutes(10));
  s.tls_verify = o.boolean("tls_verify");
  s.ca_file = o.string("ca_file");
  if (has_control_char(s.ca_file)) throw std::invalid_argument("ca_file: not a file path");
  s.user_agent = o.string("user_agent");
  if (has_control_char(s.user_agent))
    throw std::invalid_argument("user_agent: contains control characters");

  s.retry_for = positive(o, "retry_for", std::chrono::hours(24), true);
  s.retry_backoff = positive(o, "retry_backoff", std::chrono::hours(1));
  s.retry_backoff_max = positive(o, "retry_backoff_max", std::chrono::hours(1));
  if (s.retry_backoff_max < s.retry_backoff)
    throw std::invalid_argument("retry_backoff_max: must not be below retry_backoff");
  s.retry_after_max = positive(o, "retry_after_max", std::chrono::hours(1), true);

  s.max_concurrent = o.integer("max_concurrent");
  if (s.max_concurrent < 1 || s.max_concurrent > 256)
    throw std::invalid_argument("max_concurrent: expected 1 to 256");
  return s;
}

redactor::redactor(const settings& s) {
  add(s.url);
  add(s.secret);
  for (const auto& h : s.headers) add(h.second);
  try {
    const url_handle u = parse(s.url);
    add(part(u.get(), CURLUPART_USER));
    add(part(u.get(), CURLUPART_PASSWORD));
    add(part(u.get(), CURLUPART_PATH));
    add(part(u.get(), CURLUPART_QUERY));
  } catch (const std::exception&) {
    // parse_settings refused such a URL already; the whole URL is redacted regardless.
  }
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

void redactor::add(std::string secret) {
  // A path of "/" or a one-letter user name would redact half of every line; such parts are
  // no secret worth the noise.
  if (secret.size() >= 4) secrets_.push_back(std::move(secret));
}

std::string redactor::operator()(std::string_view text) const {
  std::string out(text);
  for (const std::string& s : secrets_) {
    for (size_t at = out.find(s); at != std::string::npos; at = out.find(s, at + 3))
      out.replace(at, s.size(), "***");
  }
  return out;
}

}  // namespace isitup::webhook
