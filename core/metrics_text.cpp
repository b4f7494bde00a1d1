#include <isitup/core/metrics_text.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace isitup {

namespace {

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

std::string prom_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void prom_writer::family(std::string_view name, std::string_view type, std::string_view help) {
  out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void prom_writer::sample(std::string_view name, const prom_labels& labels, double value) {
  out_.append(name);
  if (!labels.empty()) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_.append(k).append("=\"").append(prom_escape(v)).append("\"");
    }
    out_ += '}';
  }
  out_.append(" ").append(number(value)).append("\n");
}

void latency_histogram::observe_ms(int64_t ms) {
  if (ms < 0) ms = 0;
  const double s = static_cast<double>(ms) / 1000.0;
  std::size_t i = 0;
  while (i < bounds_s.size() && s > bounds_s[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ms_.fetch_add(ms, std::memory_order_relaxed);
}

void latency_histogram::write(prom_writer& w, std::string_view name) const {
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_s.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    const std::string le = number(bounds_s[i]);
    w.sample(bucket, {{"le", le}}, static_cast<double>(cumulative));
  }
  cumulative += buckets_[bounds_s.size()].load(std::memory_order_relaxed);
  // _count equals the +Inf bucket: both from the same sum, so a scrape never sees them differ.
  w.sample(bucket, {{"le", "+Inf"}}, static_cast<double>(cumulative));
  w.sample(std::string(name) + "_sum",
           static_cast<double>(sum_ms_.load(std::memory_order_relaxed)) / 1000.0);
  w.sample(std::string(name) + "_count", static_cast<double>(cumulative));
}

}  // namespace isitup
