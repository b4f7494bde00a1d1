// How pg_sink connects: the connection string it builds from the config, what it lets a config
// make libpq do (connect, open the files it names, never load code), and the settings every
// session runs with. The README lists every libpq connection option and what libpq does.
#pragma once

#include <pqxx/pqxx>

#include <cstdint>
#include <memory>
#include <string>

namespace isitup::pg {

// Builds the libpq key=value string the writer connects with from `connection` (a URI or
// key=value text, as libpq accepts), overriding sslmode when `sslmode` is not empty, and
// adding connect_timeout, application_name=isitup-pg_sink and TCP keepalives unless the
// connection text sets them. Throws std::invalid_argument with libpq's reason (passwords in it
// replaced by ***).
std::string build_conninfo(const std::string& connection, const std::string& sslmode,
                           int64_t connect_timeout_ms);

// Throws std::invalid_argument("connection: ...") when an option of `conninfo` (a libpq
// key=value string, as build_conninfo returns it) would make libpq load code: an `sslkey` of
// the form engine:key loads that OpenSSL engine (a shared library). Names the option, never
// its value. Any thread.
void refuse_code_loading(const std::string& conninfo);

// The search_path every pg_sink session runs with, whatever the connection's `options` set:
// the functions the sink calls unqualified (set_config, md5, ...) are PostgreSQL's own.
constexpr const char* session_search_path = "pg_catalog, pg_temp";

struct session_options {
  std::string conninfo;                // from build_conninfo
  int64_t statement_timeout_ms = 0;    // 0: the server's
  int64_t idle_in_transaction_ms = 0;  // idle_in_transaction_session_timeout; 0: the server's
};

// A new session: connects with `o.conninfo`, then sets session_search_path, time zone UTC and
// the timeouts given, in one round trip. The writer, the claims, maintenance and the history
// reader all open theirs here. Throws what libpqxx throws. Any thread; the caller owns it.
std::unique_ptr<pqxx::connection> open_session(const session_options& o);

}  // namespace isitup::pg
