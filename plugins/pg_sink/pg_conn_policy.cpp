#include "pg_conn_policy.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace isitup::pg {
namespace {

void append_param(std::string& out, const char* key, const std::string& value) {
  if (!out.empty()) out += ' ';
  out += key;
  out += "='";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
}

// libpq's parse errors quote the connection string: its passwords (a URI's user:password@,
// a password= in its query or in key=value form) become *** before anyone sees the reason.
std::string without_passwords(std::string reason, std::string_view connection) {
  std::vector<std::string> secrets;
  if (const std::size_t scheme = connection.find("://"); scheme != std::string_view::npos) {
    const std::size_t begin = scheme + 3;
    const std::size_t end = std::min(connection.find_first_of("/?", begin), connection.size());
    const std::size_t at = connection.substr(0, end).rfind('@');
    if (at != std::string_view::npos && at > begin) {
      const std::string_view info = connection.substr(begin, at - begin);
      if (const std::size_t colon = info.find(':'); colon != std::string_view::npos)
        secrets.emplace_back(info.substr(colon + 1));
    }
  }
  for (std::size_t at = connection.find("password"); at != std::string_view::npos;
       at = connection.find("password", at + 1)) {
    std::size_t i = at + 8;
    while (i < connection.size() && connection[i] == ' ') ++i;
    if (i >= connection.size() || connection[i] != '=') continue;
    ++i;
    while (i < connection.size() && connection[i] == ' ') ++i;
    if (i < connection.size() && connection[i] == '\'') ++i;
    const std::size_t value_end = std::min(connection.find_first_of(" &'", i), connection.size());
    secrets.emplace_back(connection.substr(i, value_end - i));
  }
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (std::size_t at = reason.find(secret); at != std::string::npos;
         at = reason.find(secret, at + 3))
      reason.replace(at, secret.size(), "***");
  }
  return reason;
}

}  // namespace

std::string build_conninfo(const std::string& connection, const std::string& sslmode,
                           int64_t connect_timeout_ms) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(connection.c_str(), &err);
  if (!opts) {
    std::string reason = err ? err : "out of memory";
    PQfreemem(err);
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
    throw std::invalid_argument("connection: " + without_passwords(reason, connection));
  }
  std::string out;
  bool has_timeout = false, has_app = false, has_keepalives = false;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    const std::string_view key(o->keyword);
    if (key == "sslmode" && !sslmode.empty()) continue;
    has_timeout |= key == "connect_timeout";
    has_app |= key == "application_name";
    has_keepalives |= key.rfind("keepalives", 0) == 0;
    append_param(out, o->keyword, o->val);
  }
  PQconninfoFree(opts);
  if (!sslmode.empty()) append_param(out, "sslmode", sslmode);
  if (!has_timeout)
    append_param(out, "connect_timeout",
                 std::to_string(std::max<int64_t>(2, (connect_timeout_ms + 999) / 1000)));
  if (!has_app) append_param(out, "application_name", "isitup-pg_sink");
  if (!has_keepalives) {
    append_param(out, "keepalives_idle", "30");
    append_param(out, "keepalives_interval", "10");
    append_param(out, "keepalives_count", "3");
  }
  return out;
}

void refuse_code_loading(const std::string& conninfo) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> opts(
      PQconninfoParse(conninfo.c_str(), &err), &PQconninfoFree);
  if (err) PQfreemem(err);
  if (!opts) throw std::invalid_argument("connection: cannot be parsed");
  for (const PQconninfoOption* o = opts.get(); o->keyword; ++o) {
    if (!o->val) continue;
    if (std::strcmp(o->keyword, "sslkey") == 0 && std::strchr(o->val, ':'))
      throw std::invalid_argument(
          "connection: sslkey names an OpenSSL engine (engine:key), which makes libpq load a "
          "shared library; give the path of a key file (without ':')");
  }
}

std::unique_ptr<pqxx::connection> open_session(const session_options& o) {
  auto c = std::make_unique<pqxx::connection>(o.conninfo);
  // SET commands only (no function or operator is looked up before the search_path is ours),
  // in one round trip; the numbers are the sink's own.
  std::string sql =
      std::string("SET search_path = ") + session_search_path + "; SET TIME ZONE 'UTC'";
  if (o.statement_timeout_ms > 0)
    sql += "; SET statement_timeout = " + std::to_string(o.statement_timeout_ms);
  if (o.idle_in_transaction_ms > 0)
    sql +=
        "; SET idle_in_transaction_session_timeout = " + std::to_string(o.idle_in_transaction_ms);
  pqxx::nontransaction tx(*c);
  tx.exec(sql);
  return c;
}

}  // namespace isitup::pg
