// tls_check: the certificate of any TLS endpoint (host:port, directly or after STARTTLS):
// verifies the chain and host name (unless tls_verify is off) and reports the expiry of the
// leaf and the earliest expiry in the verified chain (a root or intermediate can expire first),
// issuer, subject, SANs, TLS version and cipher. One event loop per plugin instance
// (net::conn_engine in plugins/common) runs every check of the instance.
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <isitup/config_map.hpp>
#include <isitup/plugin.hpp>
#include <isitup/text.hpp>
#include <isitup/util/civil_time.hpp>

#include <memory>
#include <stdexcept>
#include <string>

#include "net/cert_time.hpp"
#include "net/conn_config.hpp"
#include "net/conn_engine.hpp"
#include "net/tls_store.hpp"

namespace isitup::tls {

namespace {

constexpr int max_chain = 10;     // certificates described in `extra` at most
constexpr int max_sans = 20;      // subject alternative names listed at most
constexpr size_t max_text = 256;  // characters of one name, at most

// A check's options: its own, then the connection options it shares with tcp_check.
struct settings {
  int64_t min_days_left = 0;
  net::conn_settings conn;
};

const sdk::config_map<settings>& settings_map() {
  static const auto map =
      sdk::config_map<settings>()
          .integer("min_days_left", &settings::min_days_left, "0",
                   "down (tls) when any certificate of the chain expires in fewer days (0: off)", 0,
                   36500)
          .include(net::connection_map(false), &settings::conn);
  return map;
}

// `text` as a JSON string (quoted, escaped), cut to max_text characters.
std::string json_string(const std::string& text) {
  std::string out = "\"";
  const std::string shown = sdk::shown_value(text, max_text);  // control characters as \xNN
  for (char c : shown) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string name_text(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return "";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n > 0 ? n : 0));
  BIO_free(bio);
  return out;
}

std::string sans_json(X509* cert) {
  std::string out = "[";
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  const int n = names ? sk_GENERAL_NAME_num(names) : 0;
  for (int i = 0, listed = 0; i < n && listed < max_sans; ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    std::string item;
    if (g->type == GEN_DNS) {
      const ASN1_STRING* s = g->d.dNSName;
      item = "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                  static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (g->type == GEN_IPADD) {
      char* ip = nullptr;
      if (ASN1_OCTET_STRING* o = g->d.iPAddress) {
        ip = OPENSSL_buf2hexstr(o->data, o->length);
        if (o->length == 4)
          item = "IP:" + std::to_string(o->data[0]) + "." + std::to_string(o->data[1]) + "." +
                 std::to_string(o->data[2]) + "." + std::to_string(o->data[3]);
        else if (ip)
          item = std::string("IP:") + ip;
        OPENSSL_free(ip);
      }
    }
    if (item.empty()) continue;
    out += (listed++ ? "," : "") + json_string(item);
  }
  GENERAL_NAMES_free(names);
  return out + "]";
}

// What the handshake showed: fills `extra`, and makes the run down when a certificate of the
// chain has fewer than `min_days` days left.
void inspect(SSL* ssl, long verify, int64_t min_days, sdk::result& r) {
  X509* leaf = SSL_get0_peer_certificate(ssl);
  // The verified chain (leaf to trust anchor); when verification failed or is off, the chain
  // the server sent.
  STACK_OF(X509)* chain = verify == X509_V_OK ? SSL_get0_verified_chain(ssl) : nullptr;
  const bool verified = chain != nullptr;
  if (!chain) chain = SSL_get_peer_cert_chain(ssl);
  std::string e = "{";
  e += "\"tls_version\":" + json_string(SSL_get_version(ssl));
  e += ",\"cipher\":" + json_string(SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
  e += std::string(",\"verified\":") + (verified ? "true" : "false");
  if (verify != X509_V_OK)
    e += ",\"verify_error\":" + json_string(X509_verify_cert_error_string(verify));
  if (leaf) {
    e += ",\"subject\":" + json_string(name_text(X509_get_subject_name(leaf)));
    e += ",\"issuer\":" + json_string(name_text(X509_get_issuer_name(leaf)));
    e += ",\"sans\":" + sans_json(leaf);
  }
  int64_t first_ms = ISITUP_ABSENT_TIME;
  std::string first_subject;
  std::string list = "[";
  const int n = chain ? sk_X509_num(chain) : 0;
  for (int i = 0; i < n && i < max_chain; ++i) {
    X509* c = sk_X509_value(chain, i);
    const int64_t at = net::not_after_ms(c);
    if (at == ISITUP_ABSENT_TIME) continue;
    const std::string subject = name_text(X509_get_subject_name(c));
    if (first_ms == ISITUP_ABSENT_TIME || at < first_ms) {
      first_ms = at;
      first_subject = subject;
    }
    list += (list.size() > 1 ? ",{" : "{") + std::string("\"subject\":") + json_string(subject) +
            ",\"not_after\":" + json_string(sdk::utc_seconds_text(at)) +
            ",\"days_left\":" + std::to_string(net::days_left(at)) + "}";
  }
  e += ",\"chain\":" + list + "]";
  if (first_ms != ISITUP_ABSENT_TIME) {
    const int32_t days = net::days_left(first_ms);
    e += ",\"chain_not_after\":" + json_string(sdk::utc_seconds_text(first_ms));
    e += ",\"chain_days_left\":" + std::to_string(days);
    e += ",\"chain_expires_first\":" + json_string(first_subject);
    if (min_days > 0 && days < min_days && r.up) {
      r.up = false;
      r.error_kind = "tls";
      r.error_message = "certificate " + sdk::shown_value(first_subject) + " expires in " +
                        std::to_string(days) + " days (min_days_left " + std::to_string(min_days) +
                        ")";
    }
  }
  r.extra_json = e + "}";
}

class prepared : public sdk::prepared_check {
 public:
  net::host_port target;
  std::shared_ptr<const net::conn_options> options;
};

}  // namespace

class tls_check : public sdk::async_checks {
 public:
  explicit tls_check(const sdk::host& h) : tls_(h, "tls_check"), engine_(h, "tls_check") {}

  // Main thread.
  std::unique_ptr<sdk::prepared_check> prepare(const sdk::check_spec& spec) override {
    auto p = std::make_unique<prepared>();
    p->target = net::parse_host_port(spec.target, 443);
    const settings s = settings_map().read(spec.options);
    auto o = std::make_shared<net::conn_options>();
    net::apply_connection_settings(s.conn, false, tls_, *o);
    const int64_t min_days = s.min_days_left;
    o->inspect = [min_days](SSL* ssl, long verify, sdk::result& r) {
      inspect(ssl, verify, min_days, r);
    };
    p->options = std::move(o);
    return p;
  }

  void start(sdk::prepared_check& check, const sdk::run_info& run, sdk::completion done) override {
    auto& p = static_cast<prepared&>(check);
    engine_.submit(p.target, p.options, run.timeout, std::move(done));
  }

 private:
  net::tls_cache tls_;
  net::conn_engine engine_;  // stopped first: no run uses the cache after that
};

}  // namespace isitup::tls

ISITUP_PLUGIN(isitup::sdk::plugin_def("tls_check", "1.0.0",
                                      "TLS certificate check: chain and host name verified, "
                                      "expiry of the leaf and of the whole chain, STARTTLS")
                  .check<isitup::tls::tls_check>(isitup::tls::settings_map().options()))
