// The status page: one self-contained HTML document (inline CSS and inline SVG, no script, no
// external resource), so it works offline and under
// `Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src data:`.
#pragma once

#include <string>
#include <string_view>

#include <isitup/core/status_model.hpp>

namespace isitup {

// Renders `view` as the page: the overall state first, then open and recent incidents, then
// the checks by group (groups in order of first appearance; checks without a group last).
// Pure: no I/O, no clock (times are relative to view.generated_at_ms), safe from any thread.
// Every string of the view is escaped; invalid UTF-8 and control characters are replaced and
// long values are cut, so hostile names or error messages cannot change the page's markup.
// Equal adjacent bar segments (100 % up, or no data) merge into one so that 1,000 checks stay
// well under 500 KB; the latency plot keeps at most 48 points per line.
std::string render_status_page(const status_view& view);

// Appends `text` to `out` escaped for HTML text and quoted attribute values (& < > " '),
// invalid UTF-8 and control characters (except tab and newline) replaced by U+FFFD, and cut
// after `max_bytes` bytes of input at a character boundary (an ellipsis marks the cut).
void append_html_escaped(std::string& out, std::string_view text, std::size_t max_bytes = 4096);

}  // namespace isitup
