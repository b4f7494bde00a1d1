// What pg_sink lets a config make libpq do: connect, open the files it names, never load code.
// The README lists every libpq connection option and what libpq does with it.
#pragma once

#include <string>

namespace isitup::pg {

// Throws std::invalid_argument("connection: ...") when an option of `conninfo` (a libpq
// key=value string, as build_conninfo returns it) would make libpq load code: an `sslkey` of
// the form engine:key loads that OpenSSL engine (a shared library). Names the option, never
// its value. Any thread.
void refuse_code_loading(const std::string& conninfo);

// The search_path every pg_sink session runs with, whatever the connection's `options` set:
// the functions the sink calls unqualified (set_config, md5, ...) are PostgreSQL's own.
constexpr const char* session_search_path = "pg_catalog, pg_temp";

}  // namespace isitup::pg
