// Test fixture: TLS certificates made with /usr/bin/openssl in a directory, for a TLS server on
// 127.0.0.1 and its clients: a CA; a server certificate for localhost/127.0.0.1-4/::1 signed by
// it (valid, and expired in 2020); one for another host name; a server certificate from another
// CA; client certificates (valid, expired in 2020), the client key encrypted with a password,
// and a key of another pair.
// Every *.key file is mode 0600.
#pragma once

#include <filesystem>
#include <string>

namespace isitup::test {

struct tls_certs {
  // Makes every file in `dir` (EC P-256, a few hundred ms); throws std::runtime_error with
  // openssl's message when a step fails.
  explicit tls_certs(const std::filesystem::path& dir);

  std::string ca;                                       // PEM CA certificate
  std::string server_cert, server_key;                  // localhost, 127.0.0.1-4, ::1
  std::string expired_server_cert, expired_server_key;  // the same names, January 2020 only
  std::string wrong_host_cert, wrong_host_key;          // SAN wrong.example only
  std::string other_ca;                                 // another CA
  std::string other_server_cert, other_server_key;      // localhost/127.0.0.1, signed by other_ca
  std::string client_cert, client_key;                  // signed by ca, clientAuth
  std::string client_key_encrypted;                     // client_key, AES-256 with key_password
  std::string expired_client_cert, expired_client_key;  // valid only in January 2020
  std::string unrelated_key;                            // matches no certificate
  std::string key_password = "correct horse";
};

}  // namespace isitup::test
