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

const sdk::config_map<settings>& settings_map() {
  using std::chrono::hours;
  using std::chrono::milliseconds;
  using std::chrono::minutes;
  static const auto map =
      sdk::config_map<settings>()
          .string("url", &settings::url, nullptr,
                  "http:// or https:// URL to POST to (a secret: only scheme://host is ever "
                  "logged)")
          .required()
          .string("format", &settings::format_name, "json",
                  "json: the event object; slack or discord: their incoming-webhook message")
          .one_of({"json", "slack", "discord"})
          .map("headers", &settings::headers, "{}",
               "extra request headers, Name: value (values are never logged)")
          .string("secret", &settings::secret, nullptr,
                  "HMAC-SHA256 key: adds X-Isitup-Signature: t=<unix s>,sha256=<hex of "
                  "\"<t>.<body>\">")
          .non_empty("leave it out for no signature")
          .duration("timeout", &settings::timeout, "10s", "time limit of one request",
                    milliseconds(1), minutes(10))
          .boolean("tls_verify", &settings::tls_verify, "true",
                   "verify the certificate chain and host name")
          .string("ca_file", &settings::ca_file, nullptr,
                  "PEM file of CA certificates to trust instead of the system store")
          .string("user_agent", &settings::user_agent, "isitup/0.1 (webhook_sink)",
                  "User-Agent header")
          .duration("retry_for", &settings::retry_for, "5m",
                    "how long one event is retried here before it goes back to the agent",
                    milliseconds(0), hours(24))
          .duration("retry_backoff", &settings::retry_backoff, "1s",
                    "wait before the first retry; doubles", milliseconds(1), hours(1))
          .duration("retry_backoff_max", &settings::retry_backoff_max, "1m",
                    "longest wait between retries", milliseconds(1), hours(1))
          .duration("retry_after_max", &settings::retry_after_max, "5m",
                    "a Retry-After answer is honoured up to this long", milliseconds(0), hours(1))
          .integer("max_concurrent", &settings::max_concurrent, "8",
                   "requests in flight at once (one per check at a time)", 1, 256);
  return map;
}

settings parse_settings(const sdk::options_view& o) {
  settings s = settings_map().read(o);
  s.safe_url = safe_url_of(s.url);
  s.format = s.format_name == "slack"     ? body_format::slack
             : s.format_name == "discord" ? body_format::discord
                                          : body_format::json;
  for (const auto& [name, value] : s.headers) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char))
      throw std::invalid_argument("headers: \"" + clean_utf8(name, 60) +
                                  "\" is not a valid header name");
    if (is_reserved(name))
      throw std::invalid_argument("headers: " + name + " is set by the plugin itself");
    if (has_control_char(value))  // the value itself is never echoed: it may be a credential
      throw std::invalid_argument("headers: the value of " + name +
                                  " contains control characters (CR, LF, NUL, ...)");
  }
  if (has_control_char(s.ca_file)) throw std::invalid_argument("ca_file: not a file path");
  if (has_control_char(s.user_agent))
    throw std::invalid_argument("user_agent: contains control characters");
  if (s.retry_backoff_max < s.retry_backoff)
    throw std::invalid_argument("retry_backoff_max: must not be below retry_backoff");
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
