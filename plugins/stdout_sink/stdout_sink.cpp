// stdout_sink: writes every result as one line to stdout, stderr or a file, either as the v1
// JSON record (through the host's codec) or as an aligned line for people; state transitions
// (incidents opened, resolved, still open) as the event's JSON object or a line marked "!!".
// The agent's default sink. Uses only the public SDK.
#include <isitup/plugin.h>
#include <rapidjson/document.h>
#include <isitup/config_map.hpp>
#include <isitup/plugin.hpp>
#include <isitup/util/civil_time.hpp>
#include <isitup/util/error_text.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

namespace sdk = isitup::sdk;

enum class line_format { json, text };

constexpr size_t check_width = 24;  // text format: check names are padded to this many chars

// "2026-11-27T18:00:00Z" (UTC, whole seconds), or "-" padded to the same width.
void append_time(std::string& out, int64_t ms) {
  char text[sdk::utc_seconds_text_length];
  if (ms < 0 || !sdk::format_utc_seconds(ms, text)) {
    out += "-                   ";  // absent, or before 1970 or after 9999
    return;
  }
  out.append(text, sizeof text);
}

// Appends `s` with control characters turned into spaces (one result, one line); returns
// how many characters (UTF-8 code points) it appended.
size_t append_clean(std::string& out, std::string_view s) {
  size_t chars = 0;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? ' ' : c;
    if ((u & 0xC0) != 0x80) ++chars;
  }
  return chars;
}

void pad_left(std::string& out, std::string_view s, size_t width) {
  if (s.size() < width) out.append(width - s.size(), ' ');
  out += s;
}

// Milliseconds with up to 3 decimals ("0.048", "12.5").
std::string short_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", ms);
  return buf;
}

// The key figures of a DNS, ping or certificate check from its `extra` object ("" for other
// results): "NOERROR, 2 answers" (dns_check), "loss 0%, rtt 0.024/0.048/0.061 ms" (icmp_check,
// min/avg/max), "cert 89 days, chain 11 days" (tls_check: the leaf, and the earliest expiry in
// the chain when it comes sooner).
std::string key_figures(const isitup_record_v1& r) {
  constexpr size_t max_extra = size_t{64} * 1024;  // a larger extra is not looked into
  if (!r.extra_json || !r.plugin) return {};
  const std::string_view plugin = r.plugin;
  if (plugin != "dns_check" && plugin != "icmp_check" && plugin != "tls_check") return {};
  const size_t len = std::strlen(r.extra_json);
  if (len > max_extra) return {};
  rapidjson::Document d;
  if (d.Parse(r.extra_json, len).HasParseError() || !d.IsObject()) return {};
  std::string out;
  if (plugin == "dns_check" && d.HasMember("rcode") && d["rcode"].IsString()) {
    out = std::string(d["rcode"].GetString(), std::min<size_t>(d["rcode"].GetStringLength(), 16));
    if (d.HasMember("matching_answers") && d["matching_answers"].IsUint()) {
      const unsigned n = d["matching_answers"].GetUint();
      out += ", " + std::to_string(n) + (n == 1 ? " answer" : " answers");
    }
  } else if (plugin == "icmp_check" && d.HasMember("loss_percent") &&
             d["loss_percent"].IsNumber()) {
    out = "loss " + short_ms(d["loss_percent"].GetDouble()) + "%";
    const char* keys[] = {"rtt_min_ms", "rtt_avg_ms", "rtt_max_ms"};
    std::string rtt;
    for (const char* k : keys) {
      if (!d.HasMember(k) || !d[k].IsNumber()) return out;
      rtt += (rtt.empty() ? "" : "/") + short_ms(d[k].GetDouble());
    }
    out += ", rtt " + rtt + " ms";
  } else if (plugin == "tls_check" && r.tls_days_left != ISITUP_ABSENT_DAYS) {
    out = "cert " + std::to_string(r.tls_days_left) + " days";
    if (d.HasMember("chain_days_left") && d["chain_days_left"].IsInt() &&
        d["chain_days_left"].GetInt() < r.tls_days_left)
      out += ", chain " + std::to_string(d["chain_days_left"].GetInt()) + " days";
  }
  return out;
}

// One aligned line (no newline):
// 2026-11-27T18:00:00Z shop                     UP   200    41.0ms
// 2026-11-27T18:00:05Z api                      DOWN   -         -  dns: no such host
// 2026-11-27T18:00:05Z www-a                    UP     -     0.4ms  NOERROR, 1 answer
void append_text(std::string& out, const isitup_record_v1& r) {
  append_time(out, r.started_at_ms != ISITUP_ABSENT_TIME ? r.started_at_ms : r.scheduled_at_ms);
  out += ' ';
  const size_t chars = append_clean(out, r.check ? r.check : "-");
  if (chars < check_width) out.append(check_width - chars, ' ');
  out += r.status == ISITUP_UP ? " UP   " : " DOWN ";
  pad_left(out, r.http_code != ISITUP_ABSENT_INT ? std::to_string(r.http_code) : "-", 3);
  out += ' ';
  std::string total = "-";
  if (r.total_ms >= 0 && r.total_ms < 1e15) {  // absent is -1; NaN fails both tests
    const auto tenths = static_cast<int64_t>(std::llround(r.total_ms * 10));
    total = std::to_string(tenths / 10) + '.' + static_cast<char>('0' + tenths % 10) + "ms";
  }
  pad_left(out, total, 9);
  if (const std::string figures = key_figures(r); !figures.empty()) {
    out += "  ";
    append_clean(out, figures);
  }
  if (r.status != ISITUP_UP) {
    out += "  ";
    append_clean(out, r.error_kind ? r.error_kind : "unknown");
    if (r.error_message && *r.error_message) {
      out += ": ";
      append_clean(out, r.error_message);
    }
  }
}

// One marked line (no newline) for a state transition:
// !! INCIDENT OPENED shop down (connect: refused) since 2026-11-27T18:00:00Z
// !! INCIDENT RESOLVED shop up since 2026-11-27T18:03:10Z after 190s (connect: refused)
void append_event_text(std::string& out, const isitup_event_v1& e) {
  const std::string_view type = e.type ? e.type : "";
  const bool resolved = type == "incident_resolved";
  out += resolved                      ? "!! INCIDENT RESOLVED "
         : type == "incident_reminder" ? "!! INCIDENT STILL OPEN "
                                       : "!! INCIDENT OPENED ";
  append_clean(out, e.check ? e.check : "-");
  std::string error;
  if (e.error_kind) {
    append_clean(error, e.error_kind);
    if (e.error_message && *e.error_message) {
      error += ": ";
      append_clean(error, e.error_message);
    }
  }
  if (resolved) {
    out += " up since ";
    append_time(out, e.resolved_at_ms);
    if (e.resolved_at_ms != ISITUP_ABSENT_TIME && e.opened_at_ms != ISITUP_ABSENT_TIME)
      out += " after " + std::to_string((e.resolved_at_ms - e.opened_at_ms) / 1000) + "s";
    if (!error.empty()) out += " (" + error + ")";
  } else {
    out += " down";
    if (!error.empty()) out += " (" + error + ")";
    out += " since ";
    append_time(out, e.opened_at_ms);
  }
}

// Throws, as opening it would, when `path` cannot be opened for appending; creates nothing
// (isitup-agent --check-config constructs sinks and must leave no file behind).
void check_can_append(const std::string& path) {
  const auto refuse = [&](const std::string& why) {
    throw std::runtime_error("output: cannot open " + path + ": " + why);
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) refuse(sdk::error_text(EISDIR));
    if (::access(path.c_str(), W_OK) != 0) refuse(sdk::error_text(errno));
    return;
  }
  if (errno != ENOENT) refuse(sdk::error_text(errno));
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  if (::access(dir.c_str(), W_OK | X_OK) != 0) refuse(sdk::error_text(errno));
}

// The sink's options, declared once (sdk::config_map): the table the agent validates and
// prints, and the struct they fill.
struct settings {
  std::string format;
  std::string output;
};

const sdk::config_map<settings>& settings_map() {
  static const auto map =
      sdk::config_map<settings>()
          .string("format", &settings::format, "json",
                  "json: the v1 JSON record, one per line; text: one aligned line per result")
          .one_of({"json", "text"})
          .string("output", &settings::output, "stdout",
                  "stdout, stderr, or a file path (created if missing, appended to)");
  return map;
}

class stdout_sink final : public sdk::sink {
  static constexpr size_t max_kept_bytes = size_t{8} << 20;

 public:
  stdout_sink(const sdk::host& host, const sdk::options_view& options) : host_(host) {
    const settings s = settings_map().read(options);
    format_ = s.format == "text" ? line_format::text : line_format::json;
    output_ = s.output;
    if (output_ == "stdout") {
      out_ = stdout;
    } else if (output_ == "stderr") {
      out_ = stderr;
    } else if (output_.empty()) {
      throw std::invalid_argument("output: expected stdout, stderr or a file path");
    } else {
      check_can_append(output_);  // opened by the first write: creating the sink creates no file
      owned_ = true;
    }
  }

  ~stdout_sink() override {
    if (!out_) return;
    if (owned_)
      std::fclose(out_);
    else
      std::fflush(out_);
  }

  stdout_sink(const stdout_sink&) = delete;
  stdout_sink& operator=(const stdout_sink&) = delete;

  void write(const sdk::batch_view& batch, sdk::batch_done done) override {
    // One text buffer per writing thread, kept from batch to batch: a batch of 2000 results
    // is about a megabyte, which malloc would hand back to the kernel and fault in again for
    // every batch. Given back past max_kept_bytes (one huge batch is not kept for good).
    thread_local std::string text;
    text.clear();
    for (size_t i = 0; i < batch.size(); ++i) {
      if (format_ == line_format::json)
        append_json(text, batch[i]);
      else
        append_text(text, batch[i]);
      text += '\n';
    }
    put(text, batch.size(), "lines", sdk::status::error, std::move(done));
    if (text.capacity() > max_kept_bytes) std::string().swap(text);
  }

  // State transitions, from the host's event thread (write() may run at the same time: put()
  // serialises the output).
  void write_events(sdk::event_span events, sdk::batch_done done) {
    std::string text;
    for (const isitup_event_v1* e : events) {
      if (format_ == line_format::json)
        text += e->json ? e->json : "{}";
      else
        append_event_text(text, *e);
      text += '\n';
    }
    // A failed write is retried: a transition is never dropped.
    put(text, events.size(), "events", sdk::status::retry, std::move(done));
  }

  // Every batch is flushed as it is written; nothing is ever pending.
  sdk::status flush(std::chrono::milliseconds) override {
    std::lock_guard lock(mu_);
    if (out_) std::fflush(out_);
    return sdk::status::ok;
  }

 private:
  // Writes and flushes `text` (count lines), then reports it done, or `on_failure`.
  void put(const std::string& text, size_t count, const char* counter, sdk::status on_failure,
           sdk::batch_done done) {
    std::string error;
    {
      std::lock_guard lock(mu_);
      if (!out_) out_ = std::fopen(output_.c_str(), "ae");  // append; close-on-exec
      if (!out_) {
        error = "cannot open " + output_ + ": " + sdk::error_text(errno);
      } else {
        errno = 0;
        const bool written = std::fwrite(text.data(), 1, text.size(), out_) == text.size();
        if (std::fflush(out_) != 0 || !written) {
          const int e = errno;
          error = "write to " + output_ + " failed: " + (e ? sdk::error_text(e) : "short write");
          std::clearerr(out_);  // let the next batch try again
        }
      }
    }
    if (error.empty()) {
      host_.counter_add(counter, static_cast<int64_t>(count));
      done(sdk::status::ok);
    } else {
      host_.counter_add("write_errors", 1);
      done(on_failure, error);
    }
  }

  // Appends the host's JSON encoding of r, growing the buffer once if it is too small.
  void append_json(std::string& out, const isitup_record_v1& r) const {
    const size_t at = out.size();
    size_t cap = 1024;
    out.resize(at + cap);
    size_t n = host_.raw()->record_to_json(&r, out.data() + at, cap);
    if (n >= cap) {
      cap = n + 1;
      out.resize(at + cap);
      n = host_.raw()->record_to_json(&r, out.data() + at, cap);
    }
    out.resize(at + (n < cap ? n : 0));
  }

  sdk::host host_;
  line_format format_ = line_format::json;
  std::string output_;
  std::FILE* out_ = nullptr;
  bool owned_ = false;
  std::mutex mu_;
};

}  // namespace

ISITUP_PLUGIN(
    isitup::sdk::plugin_def("stdout_sink", "1.0.0",
                            "Writes results as JSON lines or aligned text to stdout, stderr or "
                            "a file")
        .sink<stdout_sink>(settings_map().options()))
