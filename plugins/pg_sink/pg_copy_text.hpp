// COPY text rows of results, formatted straight into a buffer (pg_writer sends a transaction's
// rows in pieces of about 64 KB, each as one raw COPY write as soon as it is formatted). Text
// format rules (PostgreSQL COPY ... FROM STDIN, text): fields separated by a tab, \N for NULL; in a
// value a backslash and \b \f \n \r \t \v are written as backslash escapes and every other byte
// below 0x20 (and 0x7f) as \ooo, so a value can never end a row, split a field or read as the
// end-of-data marker \. ; bytes from 0x80 on go as they are (values are valid UTF-8 by then). The
// same bytes reach the server as with libpqxx's stream_to, which writes bytes from 0x80 as \ooo
// too. Pure; any thread.
#pragma once

#include <isitup/plugin.h>

#include <cstddef>
#include <string>

namespace isitup::pg {

struct write_stats;

// Appends each keyed record's row and a newline to `out`, in result_columns() order, with
// unsafe values made safe as pg_writer::write() does (counted in `stats`); a record without a
// key (scheduled_at outside years 1..9999) is left out and counted as dropped. Returns the
// number of rows appended.
std::size_t append_copy_rows(const isitup_record_v1* const* rows, std::size_t n, std::string& out,
                             write_stats& stats);

}  // namespace isitup::pg
