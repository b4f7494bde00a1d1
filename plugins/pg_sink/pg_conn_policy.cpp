#include "pg_conn_policy.hpp"

#include <libpq-fe.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace isitup::pg {

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

}  // namespace isitup::pg
