#include "cert_factory.hpp"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <stdexcept>

namespace isitup::tls::testing {

namespace {

void ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!e) throw std::runtime_error("extension " + value);
  X509_add_ext(cert, e, -1);
  X509_EXTENSION_free(e);
}

}  // namespace

made_cert make_cert(const cert_spec& spec, const made_cert* issuer) {
  made_cert out;
  out.key.reset(EVP_EC_gen("P-256"), EVP_PKEY_free);
  out.cert.reset(X509_new(), X509_free);
  if (!out.key || !out.cert) throw std::runtime_error("out of memory");
  X509* c = out.cert.get();
  static long serial = 1000;
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(c), spec.not_before_days * 86400L);
  X509_gmtime_adj(X509_getm_notAfter(c), spec.not_after_days * 86400L);
  X509_set_pubkey(c, out.key.get());
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* signer = issuer ? issuer->cert.get() : c;
  X509_set_issuer_name(c, X509_get_subject_name(signer));
  ext(c, signer, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "CA:FALSE");
  ext(c, signer, NID_key_usage,
      spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  ext(c, signer, NID_subject_key_identifier, "hash");
  if (issuer) ext(c, signer, NID_authority_key_identifier, "keyid");
  if (!spec.sans.empty()) {
    std::string sans;
    for (const auto& s : spec.sans) sans += (sans.empty() ? "" : ",") + s;
    ext(c, signer, NID_subject_alt_name, sans);
  }
  if (!spec.ca) ext(c, signer, NID_ext_key_usage, "serverAuth");
  EVP_PKEY* signing_key = issuer ? issuer->key.get() : out.key.get();
  if (X509_sign(c, signing_key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign");
  return out;
}

void write_pem(const std::string& path, const std::vector<const made_cert*>& chain,
               const std::string& key_path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  for (const made_cert* c : chain) PEM_write_X509(f, c->cert.get());
  std::fclose(f);
  if (key_path.empty()) return;
  f = std::fopen(key_path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + key_path);
  PEM_write_PrivateKey(f, chain.front()->key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

}  // namespace isitup::tls::testing
