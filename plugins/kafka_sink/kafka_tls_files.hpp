// Start-up checks of the TLS material a kafka_sink config names, so a wrong file is a config
// error naming the property instead of a librdkafka error at the first connection: every file
// property (ssl.ca.location, ssl.certificate.location, ssl.key.location, ssl.crl.location,
// ssl.keystore.location) must exist, be a regular file (ssl.ca.location may also be a
// directory or "probe"), be readable and parse (PEM; PKCS#12 for the keystore); the in-memory
// ssl.*.pem values must parse; a private key must not be accessible by other users (as libpq:
// 0600 or 0640), must decrypt with ssl.key.password when it is encrypted, and must match the
// certificate. Secrets never appear in the messages. Stateless; safe from any thread.
#pragma once

#include "kafka_config.hpp"

namespace isitup::kafka {

// Throws std::invalid_argument("properties: '<name>': <path>: <what is wrong, what was
// expected>") for the first problem found.
void check_tls_files(const property_list& user);

}  // namespace isitup::kafka
