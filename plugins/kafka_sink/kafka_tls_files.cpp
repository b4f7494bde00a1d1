#include "kafka_tls_files.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>
#include <isitup/util/error_text.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>

namespace isitup::kafka {
namespace {

constexpr size_t max_file = 4u << 20;  // TLS material is a few KB; a bigger file is a mistake

struct bio_free {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};
struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  ERR_clear_error();
  throw std::invalid_argument("properties: '" + name + "': " + what);
}

std::string find(const property_list& user, const std::string& name) {
  for (const auto& [k, v] : user)
    if (k == name) return v;
  return "";
}

std::string mode_text(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

// The file's content; fails naming `name` when it is missing, not a regular file or unreadable.
std::string read(const std::string& name, const std::string& path, bool private_key) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0)
    fail(name, path + ": " + sdk::error_text(errno) + " (expected a readable PEM file)");
  if (!S_ISREG(st.st_mode)) fail(name, path + ": not a regular file (expected a PEM file)");
  if (private_key && (st.st_mode & (S_IRWXO | S_IWGRP | S_IXGRP)))
    fail(name, path + ": the private key is accessible by other users (mode " +
                   mode_text(st.st_mode) + "); expected 0600 or 0640 (chmod 600 " + path + ")");
  if (static_cast<size_t>(st.st_size) > max_file)
    fail(name,
         path + ": " + std::to_string(st.st_size) + " bytes, expected a PEM file under 4 MiB");
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) fail(name, path + ": cannot be read: " + sdk::error_text(errno));
  if (text.empty()) {
    std::ifstream probe(path);
    if (!probe) fail(name, path + ": cannot be read: " + sdk::error_text(errno));
  }
  return text;
}

bio_ptr memory(const std::string& text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// The first certificate of a PEM text; fails when there is none.
x509_ptr certificates(const std::string& name, const std::string& where, const std::string& text) {
  bio_ptr bio = memory(text);
  x509_ptr first(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!first) fail(name, where + "no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)");
  ERR_clear_error();
  return first;
}

struct password_state {
  const std::string* password;
  bool asked = false;
};

int password_cb(char* buf, int size, int, void* u) {
  auto* s = static_cast<password_state*>(u);
  s->asked = true;
  if (s->password->empty() || static_cast<int>(s->password->size()) > size) return -1;
  // NOLINTNEXTLINE(bugprone-not-null-terminated-result): OpenSSL reads the returned length
  std::memcpy(buf, s->password->data(), s->password->size());
  return static_cast<int>(s->password->size());
}

pkey_ptr private_key(const std::string& name, const std::string& where, const std::string& text,
                     const std::string& password) {
  bio_ptr bio = memory(text);
  password_state state{&password};
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, password_cb, &state));
  if (!key) {
    if (state.asked && password.empty())
      fail(name, where +
                     "the key is encrypted: set ssl.key.password (e.g. ssl.key.password: "
                     "\"${KAFKA_KEY_PASSWORD}\")");
    if (state.asked)
      fail(name, where + "the key cannot be decrypted with ssl.key.password (wrong password?)");
    fail(name, where +
                   "no PEM private key in it (expected -----BEGIN PRIVATE KEY----- or "
                   "-----BEGIN ENCRYPTED PRIVATE KEY-----)");
  }
  ERR_clear_error();
  return key;
}

}  // namespace

void check_tls_files(const property_list& user) {
  const std::string password = find(user, "ssl.key.password");
  x509_ptr cert;
  std::string cert_from;
  pkey_ptr key;
  std::string key_name;

  if (const std::string ca = find(user, "ssl.ca.location"); !ca.empty() && ca != "probe") {
    struct stat st {};
    if (stat(ca.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      if (access(ca.c_str(), R_OK | X_OK) != 0)
        fail("ssl.ca.location", ca + ": the directory cannot be read: " + sdk::error_text(errno));
    } else {
      certificates("ssl.ca.location", ca + ": ", read("ssl.ca.location", ca, false));
    }
  }
  if (const std::string pem = find(user, "ssl.ca.pem"); !pem.empty())
    certificates("ssl.ca.pem", "", pem);
  if (const std::string path = find(user, "ssl.certificate.location"); !path.empty()) {
    cert = certificates("ssl.certificate.location", path + ": ",
                        read("ssl.certificate.location", path, false));
    cert_from = "ssl.certificate.location (" + path + ")";
  }
  if (const std::string pem = find(user, "ssl.certificate.pem"); !pem.empty()) {
    cert = certificates("ssl.certificate.pem", "", pem);
    cert_from = "ssl.certificate.pem";
  }
  if (const std::string path = find(user, "ssl.key.location"); !path.empty()) {
    key = private_key("ssl.key.location", path + ": ", read("ssl.key.location", path, true),
                      password);
    key_name = "ssl.key.location";
  }
  if (const std::string pem = find(user, "ssl.key.pem"); !pem.empty()) {
    key = private_key("ssl.key.pem", "", pem, password);
    key_name = "ssl.key.pem";
  }
  if (key && cert && X509_check_private_key(cert.get(), key.get()) != 1)
    fail(key_name, "the key does not match the certificate in " + cert_from);
  if (key && !cert)
    fail(key_name, "a private key without a certificate: set ssl.certificate.location too");
  if (cert && !key)
    fail(cert_from.substr(0, cert_from.find(' ')),
         "a client certificate without its key: set ssl.key.location too");

  if (const std::string crl = find(user, "ssl.crl.location"); !crl.empty()) {
    const std::string text = read("ssl.crl.location", crl, false);
    bio_ptr bio = memory(text);
    X509_CRL* c = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr);
    if (!c)
      fail("ssl.crl.location", crl + ": no PEM CRL in it (expected -----BEGIN X509 CRL-----)");
    X509_CRL_free(c);
  }
  if (const std::string ks = find(user, "ssl.keystore.location"); !ks.empty()) {
    const std::string text = read("ssl.keystore.location", ks, true);
    bio_ptr bio = memory(text);
    PKCS12* p12 = d2i_PKCS12_bio(bio.get(), nullptr);
    if (!p12) fail("ssl.keystore.location", ks + ": not a PKCS#12 file");
    EVP_PKEY* k = nullptr;
    X509* c = nullptr;
    const std::string ks_password = find(user, "ssl.keystore.password");
    const int ok = PKCS12_parse(p12, ks_password.c_str(), &k, &c, nullptr);
    PKCS12_free(p12);
    EVP_PKEY_free(k);
    X509_free(c);
    if (ok != 1)
      fail("ssl.keystore.location",
           ks + ": cannot be opened with ssl.keystore.password (wrong password?)");
  }
  ERR_clear_error();
}

}  // namespace isitup::kafka
