#include "net/tls_store.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>
#include <isitup/util/error_text.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace isitup::net {

namespace {

using namespace std::chrono_literals;

constexpr off_t max_file_bytes = 16 << 20;  // a PEM file larger than this is refused

file_stamp stamp_of(const struct stat& st) {
  return {st.st_dev, st.st_ino, st.st_size,
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

// The file's stamp now; the default stamp (never a real file's) when it cannot be stat'ed.
file_stamp stamp_of(const std::string& path) {
  struct stat st {};
  if (path.empty() || stat(path.c_str(), &st) != 0) return {};
  return stamp_of(st);
}

bool read_file(const std::string& path, std::string& out, std::string& error) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = sdk::error_text(errno);
    return false;
  }
  struct stat st {};
  bool ok = fstat(fd, &st) == 0;
  if (!ok) error = sdk::error_text(errno);
  if (ok && (!S_ISREG(st.st_mode) || st.st_size > max_file_bytes)) {
    error = S_ISREG(st.st_mode) ? "larger than 16 MiB" : "not a regular file";
    ok = false;
  }
  out.clear();
  char buf[65536];
  while (ok) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error = sdk::error_text(errno), ok = false;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > static_cast<size_t>(max_file_bytes)) error = "larger than 16 MiB", ok = false;
  }
  close(fd);
  return ok;
}

// OpenSSL's reason for the last failure (and the error queue cleared).
std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason ? reason : "unknown OpenSSL error";
}

// Never prompts for a pass phrase: encrypted keys are refused.
int no_pass_phrase(char*, int, int, void*) { return -1; }

struct bio_deleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

bio_ptr memory_bio(const std::string& text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// A store of every certificate (and CRL) in `pem`, plus the hashed directory `dir` searched
// when a certificate is not found in it. Flags as libcurl sets them on the stores it builds.
X509_STORE* make_store(const std::string& pem, const std::string& dir, std::string& error) {
  const bio_ptr bio = memory_bio(pem);
  STACK_OF(X509_INFO)* infos =
      bio ? PEM_X509_INFO_read_bio(bio.get(), nullptr, &no_pass_phrase, nullptr) : nullptr;
  if (!infos) {
    error = "not a PEM certificate bundle (" + openssl_reason() + ")";
    return nullptr;
  }
  X509_STORE* store = X509_STORE_new();
  int certificates = 0;
  for (int i = 0; store && i < sk_X509_INFO_num(infos); ++i) {
    const X509_INFO* info = sk_X509_INFO_value(infos, i);
    if (info->x509 && X509_STORE_add_cert(store, info->x509) == 1) ++certificates;
    if (info->crl) X509_STORE_add_crl(store, info->crl);
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  if (!store || certificates == 0) {
    X509_STORE_free(store);
    error = store ? "no PEM certificate in it" : "out of memory";
    ERR_clear_error();
    return nullptr;
  }
  struct stat st {};
  if (!dir.empty() && stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    X509_STORE_load_path(store, dir.c_str());
  X509_STORE_set_flags(store, X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_PARTIAL_CHAIN);
  ERR_clear_error();
  return store;
}

}  // namespace

tls_material::~tls_material() {
  X509_STORE_free(store_);
  X509_free(cert_);
  EVP_PKEY_free(key_);
  sk_X509_pop_free(chain_, X509_free);
}

bool tls_material::install(SSL_CTX* ctx) const {
  if (store_) {
    if (X509_STORE_up_ref(store_) != 1) return false;
    SSL_CTX_set_cert_store(ctx, store_);  // takes the reference; frees the empty store
  }
  if (cert_) {
    if (SSL_CTX_use_certificate(ctx, cert_) != 1 || SSL_CTX_use_PrivateKey(ctx, key_) != 1)
      return false;
    if (chain_ && SSL_CTX_set1_chain(ctx, chain_) != 1) return false;
  }
  return true;
}

bool tls_material::install(SSL* ssl) const {
  if (store_ && SSL_set1_verify_cert_store(ssl, store_) != 1) return false;
  if (cert_) {
    if (SSL_use_certificate(ssl, cert_) != 1 || SSL_use_PrivateKey(ssl, key_) != 1) return false;
    if (chain_ && SSL_set1_chain(ssl, chain_) != 1) return false;
  }
  return true;
}

ca_locations openssl_default_ca() {
  return {X509_get_default_cert_file(), X509_get_default_cert_dir()};
}

std::shared_ptr<const tls_material> tls_source::current(std::string& error) const {
  std::lock_guard lock(current_mu_);
  if (!current_) error = error_.empty() ? label_ + ": not loaded yet" : error_;
  return current_;
}

tls_cache::tls_cache(sdk::host host, std::string who, ca_locations defaults)
    : host_(host),
      who_(std::move(who)),
      defaults_(std::move(defaults)),
      watcher_([this] { watch(); }) {}

tls_cache::~tls_cache() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  watcher_.join();
}

std::shared_ptr<tls_source> tls_cache::ca(const std::string& ca_file) {
  if (!ca_file.empty()) return get(tls_source::kind::ca, "ca_file " + ca_file, ca_file, "", "");
  // The default store: OpenSSL's variables, else the locations given at construction.
  std::string file = defaults_.file, dir = defaults_.dir;
  // NOLINTBEGIN(concurrency-mt-unsafe): neither the agent nor a plugin calls setenv or putenv
  const char* env_file = std::getenv("SSL_CERT_FILE");
  const char* env_dir = std::getenv("SSL_CERT_DIR");
  // NOLINTEND(concurrency-mt-unsafe)
  if (env_file && *env_file) file = env_file;
  if (env_dir && *env_dir) dir = env_dir;
  return get(tls_source::kind::ca, "the default CA store " + file, file, "", dir);
}

std::shared_ptr<tls_source> tls_cache::identity(const std::string& cert, const std::string& key) {
  return get(tls_source::kind::identity, "client_cert " + cert, cert, key, "");
}

std::shared_ptr<tls_source> tls_cache::get(tls_source::kind k, const std::string& label,
                                           const std::string& file, const std::string& key_file,
                                           const std::string& dir) {
  const std::string key = label + '\n' + key_file + '\n' + dir;
  std::shared_ptr<tls_source> s;
  {
    std::lock_guard lock(mu_);
    std::weak_ptr<tls_source>& known = sources_[key];
    if ((s = known.lock())) return s;
    s = std::make_shared<tls_source>(k, label, file, key_file, dir);
    known = s;
  }
  refresh(*s);  // the first version, read here (prepare) and not by a running check
  return s;
}

std::shared_ptr<tls_material> tls_cache::load(const tls_source& s, std::string& error) {
  std::string pem;
  if (!read_file(s.file_, pem, error)) {
    error = s.label_ + ": " + error;
    return nullptr;
  }
  auto m = std::make_shared<tls_material>();
  if (s.kind_ == tls_source::kind::ca) {
    m->store_ = make_store(pem, s.dir_, error);
    if (!m->store_) error = s.label_ + ": " + error;
    return m->store_ ? m : nullptr;
  }
  // An identity: the certificate, the chain after it, and the key.
  const bio_ptr bio = memory_bio(pem);
  m->cert_ = bio ? PEM_read_bio_X509_AUX(bio.get(), nullptr, &no_pass_phrase, nullptr) : nullptr;
  if (!m->cert_) {
    error = s.label_ + ": no PEM certificate (" + openssl_reason() + ")";
    return nullptr;
  }
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, &no_pass_phrase, nullptr)) {
    if (!m->chain_) m->chain_ = sk_X509_new_null();
    if (!m->chain_ || sk_X509_push(m->chain_, extra) == 0) X509_free(extra);
  }
  ERR_clear_error();  // the end of the file
  std::string key_pem;
  const std::string key_label = s.key_file_.empty() ? s.label_ : "client_key " + s.key_file_;
  if (!s.key_file_.empty() && !read_file(s.key_file_, key_pem, error)) {
    error = key_label + ": " + error;
    return nullptr;
  }
  const bio_ptr key_bio = memory_bio(s.key_file_.empty() ? pem : key_pem);
  m->key_ =
      key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, &no_pass_phrase, nullptr) : nullptr;
  if (!m->key_) {
    error = key_label + ": no usable PEM private key (" + openssl_reason() +
            "; encrypted keys are not supported)";
    return nullptr;
  }
  if (X509_check_private_key(m->cert_, m->key_) != 1) {
    ERR_clear_error();
    error = key_label + ": not the key of " + s.label_;
    return nullptr;
  }
  return m;
}

void tls_cache::refresh(tls_source& s) {
  std::lock_guard load_lock(s.load_mu_);
  const file_stamp now[2] = {stamp_of(s.file_), stamp_of(s.key_file_)};
  if (s.tried_ && now[0] == s.seen_[0] && now[1] == s.seen_[1]) return;
  const bool again = s.tried_;
  s.tried_ = true;
  s.seen_[0] = now[0];
  s.seen_[1] = now[1];
  std::string error;
  std::shared_ptr<const tls_material> m = load(s, error);
  // Logged before checks can use it: a log read after a check saw the new store has the line.
  if (m && again) host_.log(sdk::level::info, who_ + ": " + s.label_ + " changed: loaded again");
  bool had = false;
  {
    std::lock_guard lock(s.current_mu_);
    had = s.current_ != nullptr;
    if (m) {
      s.current_ = std::move(m);
      s.error_.clear();
    } else if (!had) {
      s.error_ = error;
    }
  }
  // Each version is loaded (and so logged) once: the watcher reads a file again only when
  // its stamp changed.
  if (error.empty()) return;
  if (had) {
    host_.log(sdk::level::warn, who_ + ": " + error + "; keeping the version loaded before");
  } else {
    host_.log(sdk::level::warn,
              who_ + ": " + error + "; checks using it are down until it is fixed");
  }
}

void tls_cache::watch() {
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, 1s, [this] { return stopping_; })) {
    std::vector<std::shared_ptr<tls_source>> live;
    for (auto it = sources_.begin(); it != sources_.end();) {
      if (auto s = it->second.lock()) {
        live.push_back(std::move(s));
        ++it;
      } else {
        it = sources_.erase(it);
      }
    }
    lock.unlock();
    for (const auto& s : live) refresh(*s);
    live.clear();  // may free sources no check uses any more: outside the lock
    lock.lock();
  }
}

}  // namespace isitup::net
