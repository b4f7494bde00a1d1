// The outcome half of the engine: what a transfer received (body limit, the peer
// certificate), its timings and fields, the verdict (status, regexes, TLS days), redirects.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string_view>

#include "http_engine.hpp"
#include "http_engine_internal.hpp"
#include "net/cert_time.hpp"

namespace isitup::http {

namespace {

double curl_ms(CURL* e, CURLINFO what) {
  curl_off_t us = 0;
  return curl_easy_getinfo(e, what, &us) == CURLE_OK ? static_cast<double>(us) / 1000.0 : 0.0;
}

// Down kinds for transfer errors (a too-large body is decided before this).
const char* kind_of(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return "dns";
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      return "connect";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return "tls";
    default:
      return "protocol";
  }
}

// A response head past curl's limit: the server's answer is at fault ("protocol", as on the
// lean engine), not the connection. curl before 8.6 says so only in its message.
bool head_too_large(CURLcode rc, std::string_view message) {
#if LIBCURL_VERSION_NUM >= 0x080600
  if (rc == CURLE_TOO_LARGE) return true;
#endif
  return rc == CURLE_RECV_ERROR && message.starts_with("Too large response headers");
}

const char* version_text(long v) {
  switch (v) {
    case CURL_HTTP_VERSION_1_0:
      return "1.0";
    case CURL_HTTP_VERSION_1_1:
      return "1.1";
    case CURL_HTTP_VERSION_2_0:
      return "2";
    case CURL_HTTP_VERSION_3:
      return "3";
    default:
      return "";
  }
}

// Enough descriptors for the requests in flight: raise the soft limit to the hard one.
}  // namespace

void engine::fill_timings(job* j, sdk::result& r) {
  CURL* e = j->easy;
  const double before_curl = ms_between(j->begun, j->hop_curl);
  const double connect = curl_ms(e, CURLINFO_CONNECT_TIME_T);
  const double tls = curl_ms(e, CURLINFO_APPCONNECT_TIME_T);
  const double first_byte = curl_ms(e, CURLINFO_STARTTRANSFER_TIME_T);
  const double lookup = curl_ms(e, CURLINFO_NAMELOOKUP_TIME_T);
  r.dns_ms = j->dns_ms;
  if (connect > 0) r.connect_ms = connect - lookup;
  if (tls > 0 && connect > 0) r.tls_ms = tls - connect;
  if (first_byte > 0) r.ttfb_ms = before_curl + first_byte;
  r.total_ms = ms_between(j->begun, clock::now());
  char* ip = nullptr;
  if (curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip && *ip) r.ip = ip;
  long code = 0;
  if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code > 0) {
    r.http_code = static_cast<int32_t>(code);
    long version = 0;
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
    r.http_version = version_text(version);
    r.http_bytes = j->bytes;
  }
  r.redirects = j->redirects;
  set_tls_expiry(j->tls_not_after_ms, r);
}

void set_tls_expiry(int64_t not_after_ms, sdk::result& r) {
  if (not_after_ms == ISITUP_ABSENT_TIME) return;
  r.tls_not_after_ms = not_after_ms;
  r.tls_days_left = net::days_left(not_after_ms);
}

void engine::transfer_done(job* j, CURLcode rc) {
  const check_config& c = *j->cfg;
  sdk::result r = sdk::result::ok();
  fill_timings(j, r);
  if (rc != CURLE_OK) {
    r.up = false;
    if (j->too_large) {
      r.error_kind = "too_large";
      r.error_message =
          "body larger than max_body_bytes (" + std::to_string(c.max_body_bytes) + ")";
    } else {
      r.error_message = j->error && j->error[0] ? j->error.get() : curl_easy_strerror(rc);
      r.error_kind = head_too_large(rc, r.error_message) ? "protocol" : kind_of(rc);
    }
    finish(j, std::move(r));
    return;
  }
  std::string location;
  if (c.follow_redirects && r.http_code >= 300 && r.http_code < 400) {
    char* loc = nullptr;
    curl_easy_getinfo(j->easy, CURLINFO_REDIRECT_URL, &loc);
    if (loc) location = loc;
  }
  conclude(j, std::move(r), location);
}

void engine::conclude(job* j, sdk::result r, const std::string& location) {
  const check_config& c = *j->cfg;
  const long code = r.http_code;
  if (code != ISITUP_ABSENT_INT && (code < 100 || code > 599)) {
    // Three digits, but no status HTTP defines: the server is broken, whatever expect_status.
    r.up = false;
    r.error_kind = "protocol";
    r.error_message = "invalid HTTP status " + std::to_string(code) + " (not 100 to 599)";
    finish(j, std::move(r));
    return;
  }
  if (c.follow_redirects && code >= 300 && code < 400) {
    if (!location.empty()) {
      if (j->redirects >= c.max_redirects) {
        r.up = false;
        r.error_kind = "protocol";
        r.error_message =
            "too many redirects (max_redirects " + std::to_string(c.max_redirects) + ")";
        finish(j, std::move(r));
        return;
      }
      url_parts next;
      try {
        next = parse_url(location);
      } catch (const std::exception& ex) {
        r.up = false;
        r.error_kind = "protocol";
        r.error_message = std::string("redirect refused: ") + ex.what();
        finish(j, std::move(r));
        return;
      }
      ++j->redirects;
      if (code == 303 || ((code == 301 || code == 302) && c.method == "POST"))
        j->get_after_redirect = true;
      j->redirect_to(std::move(next));
      release_transfer(j);
      track_deadline(j, j->deadline);
      start_hop(j);
      return;
    }
  }
  if (!c.status_expected(code)) {
    r.up = false;
    r.error_kind = "http_status";
    r.error_message = "unexpected status " + std::to_string(code);
  } else if (c.needs_body()) {
    bool match = !c.regex || re2::RE2::PartialMatch(j->body, *c.regex);
    const bool absent_found = c.regex_absent && re2::RE2::PartialMatch(j->body, *c.regex_absent);
    r.regex_match = match && !absent_found ? 1 : 0;
    if (!match || absent_found) {
      r.up = false;
      r.error_kind = "body_mismatch";
      r.error_message = !match ? "body does not match regex" : "body matches regex_absent";
    }
  }
  if (r.up && c.min_tls_days_left > 0 && r.tls_days_left != ISITUP_ABSENT_DAYS &&
      r.tls_days_left < c.min_tls_days_left) {
    r.up = false;
    r.error_kind = "tls";
    r.error_message = "certificate expires in " + std::to_string(r.tls_days_left) +
                      " days (min_tls_days_left " + std::to_string(c.min_tls_days_left) + ")";
  }
  finish(j, std::move(r));
}

size_t engine::on_write(char* data, size_t size, size_t n, void* userp) {
  auto* j = static_cast<job*>(userp);
  const size_t len = size * n;
  if (j->bytes + static_cast<int64_t>(len) > j->cfg->max_body_bytes) {
    j->too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  j->bytes += static_cast<int64_t>(len);
  if (j->cfg->needs_body()) j->body.append(data, len);
  return len;
}

// On the first response header (TLS is up by then) remember the peer certificate's expiry.
size_t engine::on_header(char*, size_t size, size_t n, void* userp) {
  auto* j = static_cast<job*>(userp);
  if (!j->cert_seen) {
    const curl_tlssessioninfo* info = nullptr;
    if (curl_easy_getinfo(j->easy, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK && info &&
        info->backend == CURLSSLBACKEND_OPENSSL && info->internals) {
      j->tls_not_after_ms =
          net::not_after_ms(SSL_get0_peer_certificate(static_cast<SSL*>(info->internals)));
      j->cert_seen = j->tls_not_after_ms != ISITUP_ABSENT_TIME;
    }
  }
  return size * n;
}

}  // namespace isitup::http
