#include "pg_rejects.hpp"

#include <isitup/util/utf8.hpp>

namespace isitup::pg {
namespace {

std::string key_only(const isitup_record_v1& r) {
  return "{\"agent\": \"" + std::string(r.agent ? r.agent : "") + "\", \"check\": \"" +
         std::string(r.check ? r.check : "") + "\", \"scheduled_at\": \"" +
         detail::iso_time(r.scheduled_at_ms) + "\"}";
}

// `s` cut to `max_bytes` as bounded_text, with control characters as '?'.
std::string printable(std::string_view s, std::size_t max_bytes) {
  std::string out = bounded_text(s, max_bytes);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

}  // namespace

bool permanent_data_error(std::string_view sqlstate) {
  return sqlstate.substr(0, 2) == "22" || (sqlstate.substr(0, 2) == "23" && sqlstate != "23505") ||
         sqlstate == "54000";
}

std::string bounded_text(std::string_view s, std::size_t max_bytes) {
  static constexpr std::string_view replacement = "\xEF\xBF\xBD", ellipsis = "\xE2\x80\xA6";
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = sdk::utf8_sequence_length(s, i);
    const std::string_view piece = n == 0 ? replacement : s.substr(i, n);
    if (out.size() + piece.size() > max_bytes) {
      // Drop whole characters (out is valid UTF-8) until the ellipsis fits.
      while (!out.empty() && out.size() + ellipsis.size() > max_bytes) {
        while ((static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
        out.pop_back();
      }
      if (out.size() + ellipsis.size() <= max_bytes) out.append(ellipsis);
      return out;
    }
    out.append(piece);
    i += n == 0 ? 1 : n;
  }
  return out;
}

std::string describe_key(const isitup_record_v1& r) {
  return "agent '" + printable(r.agent ? r.agent : "", 100) + "', check '" +
         printable(r.check ? r.check : "", 100) + "', scheduled_at " +
         detail::iso_time(r.scheduled_at_ms);
}

void store_rejects(pqxx::connection& c, const std::string& table,
                   std::vector<rejected_record>& rejects, const record_json_fn& to_json) {
  try {
    pqxx::work tx(c);
    for (const rejected_record& r : rejects) {
      const std::string text =
          bounded_text(to_json ? to_json(*r.record) : key_only(*r.record), max_reject_record_bytes);
      tx.exec_params("INSERT INTO " + table +
                         " (sqlstate, error_message, record, record_md5) VALUES ($1, $2, $3, "
                         "md5($3)) ON CONFLICT (record_md5) DO NOTHING",
                     r.sqlstate, bounded_text(r.error, max_reject_error_bytes), text);
    }
    tx.commit();
  } catch (const pqxx::sql_error& e) {
    if (permanent_data_error(e.sqlstate())) return;
    throw;
  }
  for (rejected_record& r : rejects) r.stored = true;
}

}  // namespace isitup::pg
