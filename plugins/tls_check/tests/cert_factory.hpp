// Test certificates made with OpenSSL's library (EC P-256): any validity window (in the past
// for an expired one), CA or leaf, self-signed or signed by another, with DNS and IP SANs.
// Files are written as PEM; a server's certificate file may hold its chain after it.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

namespace isitup::tls::testing {

struct made_cert {
  std::shared_ptr<X509> cert;
  std::shared_ptr<EVP_PKEY> key;
};

struct cert_spec {
  std::string common_name;
  std::vector<std::string> sans;  // "DNS:localhost", "IP:127.0.0.1"
  long not_before_days = -1;      // from now
  long not_after_days = 365;      // from now
  bool ca = false;
};

// Signed by `issuer` (null: self-signed). Throws std::runtime_error.
made_cert make_cert(const cert_spec& spec, const made_cert* issuer);

// Writes the certificates (in order) to `path`; the key of the first to `key_path` (if any).
void write_pem(const std::string& path, const std::vector<const made_cert*>& chain,
               const std::string& key_path = "");

}  // namespace isitup::tls::testing
