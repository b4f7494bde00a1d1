// A plugin's TLS material: CA stores (the default store and each `ca_file`) and client
// identities (`client_cert` with `client_key`), each read and parsed once per plugin instance
// and shared by every connection. Building an X509 store from the system's PEM bundle costs
// ~20 ms of CPU (145 CAs); doing it per handshake would also put that inside the timed `tls`
// phase. A connection installs the parsed objects by reference (install(): a few
// reference-count increments), into an SSL_CTX (http_check, through curl's
// CURLOPT_SSL_CTX_FUNCTION) or into one SSL object.
//
// Files are watched: once a second a background thread stats every file in use (inode, size,
// mtime) and reads a changed one again, off the event loop. A new version that does not load
// is logged once (naming the file, saying that the previous version is kept) and the previous
// version stays in use; a file that never loaded makes the checks using it fail with that
// error (kind `tls`) until it is fixed.
//
// Threads: tls_cache::ca() and identity() from any thread (the plugin calls them in prepare,
// on the main thread); tls_source::current() from any thread (the event loop), never blocking
// on a load; the watcher thread is joined by ~tls_cache.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include <isitup/plugin.hpp>

namespace isitup::net {

// One loaded version of a CA store or of a client identity. Immutable once made.
class tls_material {
 public:
  tls_material() = default;
  ~tls_material();
  tls_material(const tls_material&) = delete;
  tls_material& operator=(const tls_material&) = delete;

  // Puts this material into a connection's context, or into one connection (shares it,
  // copies nothing). False when OpenSSL refused (out of memory).
  bool install(SSL_CTX* ctx) const;
  bool install(SSL* ssl) const;

 private:
  friend class tls_cache;
  X509_STORE* store_ = nullptr;  // a CA store
  X509* cert_ = nullptr;         // an identity: the certificate, its key and chain
  EVP_PKEY* key_ = nullptr;
  STACK_OF(X509) * chain_ = nullptr;
};

// The identity of a file as last seen: a change of any field means a new version.
struct file_stamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = -1;
  int64_t mtime_ns = -1;
  bool operator==(const file_stamp&) const = default;
};

// One CA store or identity that checks use, with its current version.
class tls_source {
 public:
  enum class kind { ca, identity };
  tls_source(kind k, std::string label, std::string file, std::string key_file, std::string dir)
      : kind_(k),
        label_(std::move(label)),
        file_(std::move(file)),
        key_file_(std::move(key_file)),
        dir_(std::move(dir)) {}

  // The version to use now; null when no version ever loaded, with why in `error`.
  std::shared_ptr<const tls_material> current(std::string& error) const;

 private:
  friend class tls_cache;
  const kind kind_;
  const std::string label_;     // names it in errors: "ca_file /etc/x.pem"
  const std::string file_;      // CA bundle, or the certificate (and chain)
  const std::string key_file_;  // identity: the key; empty when it is in file_
  const std::string dir_;       // CA: a hashed certificate directory searched too (may be empty)

  std::mutex load_mu_;             // one load at a time (prepare and the watcher)
  bool tried_ = false;             // a version was loaded or refused (under load_mu_)
  file_stamp seen_[2];             // its files' stamps (under load_mu_)
  mutable std::mutex current_mu_;  // held only to copy or swap the pointer
  std::shared_ptr<const tls_material> current_;
  std::string error_;  // why current_ is null
};

// Where the default CA store is read from when SSL_CERT_FILE / SSL_CERT_DIR are not set.
struct ca_locations {
  std::string file, dir;
};
// OpenSSL's built-in locations (on Debian /usr/lib/ssl/cert.pem and /usr/lib/ssl/certs).
ca_locations openssl_default_ca();

class tls_cache {
 public:
  // `who` starts every log line ("tcp_check"); `defaults` names the default store's files.
  tls_cache(sdk::host host, std::string who, ca_locations defaults = openssl_default_ca());
  ~tls_cache();
  tls_cache(const tls_cache&) = delete;
  tls_cache& operator=(const tls_cache&) = delete;

  // The CA store of `ca_file`; empty: the default store, i.e. the file named by SSL_CERT_FILE
  // (else defaults.file) and the directory named by SSL_CERT_DIR (else defaults.dir). Loaded
  // now when it is new.
  std::shared_ptr<tls_source> ca(const std::string& ca_file);
  // The client identity: the certificate (first PEM block; the chain follows it) and the key
  // (in `key` or, when that is empty, in `cert`). Loaded now when it is new.
  std::shared_ptr<tls_source> identity(const std::string& cert, const std::string& key);

 private:
  std::shared_ptr<tls_source> get(tls_source::kind k, const std::string& label,
                                  const std::string& file, const std::string& key_file,
                                  const std::string& dir);
  // Reads and parses the source's files; null with a message naming the file on failure.
  static std::shared_ptr<tls_material> load(const tls_source& s, std::string& error);
  void refresh(tls_source& s);  // loads a new version when a file changed (or the first)
  void watch();

  sdk::host host_;
  const std::string who_;
  const ca_locations defaults_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  // By kind and file names; those no check uses any more are dropped by the watcher.
  std::unordered_map<std::string, std::weak_ptr<tls_source>> sources_;
  std::thread watcher_;  // last: started when the rest exists
};

}  // namespace isitup::net
