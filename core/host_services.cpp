#include <isitup/core/host_services.hpp>

#include <spdlog/spdlog.h>
#include <isitup/util/clock.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>

#include <isitup/core/codec.hpp>
#include <isitup/core/record.hpp>

void isitup_host_ctx::add(std::string_view name, int64_t delta) {
  std::string clean(name.substr(0, max_counter_name));
  for (char& c : clean)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') c = '_';
  if (clean.empty()) clean = "_";
  std::lock_guard lock(mu_);
  auto found = counters_.find(clean);
  if (found == counters_.end()) {
    if (counters_.size() >= max_counters) clean = "other";
    found = counters_.try_emplace(std::move(clean), 0).first;
  }
  // Saturating: a plugin's delta cannot overflow the sum.
  int64_t& v = found->second;
  if (__builtin_add_overflow(v, delta, &v))
    v = delta > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

std::string isitup_host_ctx::counters_text() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, value] : counters_) {
    if (value == 0) continue;
    if (!out.empty()) out += ", ";
    out += name + "=" + std::to_string(value);
  }
  return out;
}

std::map<std::string, int64_t> isitup_host_ctx::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

bool isitup_host_ctx::should_log(uint32_t level, const std::string& message, std::string& suffix) {
  if (level < ISITUP_LOG_WARN) return true;
  const int64_t now = isitup::sdk::monotonic_ms();
  std::lock_guard lock(mu_);
  uint64_t suppressed = 0;
  if (message != last_message_) {
    suppressed = repeats_.refused_since_last();
    repeats_.reset();
    repeats_.take(now);
    last_message_ = message;
  } else if (repeats_.take(now)) {
    suppressed = repeats_.refused_since_last();
  } else {
    return false;
  }
  if (suppressed > 0) suffix = " (" + std::to_string(suppressed) + " similar suppressed)";
  return true;
}

namespace isitup {
namespace {

spdlog::level::level_enum to_spdlog(uint32_t level) {
  switch (level) {
    case ISITUP_LOG_TRACE:
      return spdlog::level::trace;
    case ISITUP_LOG_DEBUG:
      return spdlog::level::debug;
    case ISITUP_LOG_INFO:
      return spdlog::level::info;
    case ISITUP_LOG_WARN:
      return spdlog::level::warn;
    default:
      return spdlog::level::err;
  }
}

void host_log(isitup_host_ctx* ctx, uint32_t level, const char* message) {
  const std::string text = message ? message : "";
  const auto lv = to_spdlog(level);
  if (!spdlog::should_log(lv)) return;
  std::string suffix;
  if (!ctx->should_log(level, text, suffix)) return;
  spdlog::log(lv, "[{}] {}{}", ctx->label, text, suffix);
}

const option_value* value_of(const isitup_options* o, const char* name) {
  if (!o || !name) return nullptr;
  const option_value* v = o->values.find(name);
  if (!v && o->defaults) v = o->defaults->find(name);
  return v && v->has_value ? v : nullptr;
}

int opt_is_set(const isitup_options* o, const char* name) {
  const option_value* v = o && name ? o->values.find(name) : nullptr;
  return v && v->is_set ? 1 : 0;
}
const char* opt_string(const isitup_options* o, const char* name) {
  const option_value* v = value_of(o, name);
  return v ? v->text.c_str() : nullptr;
}
int64_t opt_int(const isitup_options* o, const char* name) {
  const option_value* v = value_of(o, name);
  return v ? v->integer : 0;
}
double opt_float(const isitup_options* o, const char* name) {
  const option_value* v = value_of(o, name);
  if (!v) return 0;
  return v->type == option_type::number ? v->number : static_cast<double>(v->integer);
}
int opt_bool(const isitup_options* o, const char* name) {
  const option_value* v = value_of(o, name);
  return v && v->integer != 0 ? 1 : 0;
}
int64_t opt_duration_ms(const isitup_options* o, const char* name) { return opt_int(o, name); }
size_t opt_list_size(const isitup_options* o, const char* name) {
  const option_value* v = value_of(o, name);
  return v ? v->list.size() : 0;
}
const char* opt_list_item(const isitup_options* o, const char* name, size_t i) {
  const option_value* v = value_of(o, name);
  return v && i < v->list.size() ? v->list[i].c_str() : nullptr;
}
size_t opt_map_size(const isitup_options* o, const char* name) {
  const option_value* v = value_of(o, name);
  return v ? v->map.size() : 0;
}
const char* opt_map_key(const isitup_options* o, const char* name, size_t i) {
  const option_value* v = value_of(o, name);
  return v && i < v->map.size() ? v->map[i].first.c_str() : nullptr;
}
const char* opt_map_value(const isitup_options* o, const char* name, size_t i) {
  const option_value* v = value_of(o, name);
  return v && i < v->map.size() ? v->map[i].second.c_str() : nullptr;
}

size_t record_to_json(const isitup_record_v1* r, char* buf, size_t cap) {
  thread_local std::string out;
  out.clear();
  codec::encode(*r, out);
  if (buf && cap > 0) {
    const size_t n = out.size() < cap ? out.size() : cap - 1;
    std::memcpy(buf, out.data(), n);
    buf[n] = '\0';
  }
  return out.size();
}

struct parsed {
  record rec;
  isitup_record_v1 view;
  bool taken = false;  // submit_parsed: moved out in the call under way
};

isitup_parsed_record* record_parse(const char* json, size_t len, char* err, size_t err_cap) {
  auto p = std::make_unique<parsed>();
  std::string error;
  if (!codec::decode(std::string_view(json, len), p->rec, error)) {
    if (err && err_cap > 0) {
      const size_t n = error.size() < err_cap ? error.size() : err_cap - 1;
      std::memcpy(err, error.data(), n);
      err[n] = '\0';
    }
    return nullptr;
  }
  p->view = p->rec.view();
  return reinterpret_cast<isitup_parsed_record*>(p.release());
}
const isitup_record_v1* record_view(const isitup_parsed_record* p) {
  return &reinterpret_cast<const parsed*>(p)->view;
}
void record_free(isitup_parsed_record* p) { delete reinterpret_cast<parsed*>(p); }

uint32_t submit(isitup_host_ctx* ctx, const isitup_record_v1* const* records, size_t count,
                uint64_t token) {
  if (!ctx->submit) {
    host_log(ctx, ISITUP_LOG_ERROR, "submit() called by a plugin that is not a source");
    return ISITUP_ERROR;
  }
  return ctx->submit(records, count, token);
}

void counter_add(isitup_host_ctx* ctx, const char* name, int64_t delta) {
  if (name) ctx->add(name, delta);
}

void source_partitions(isitup_host_ctx* ctx, uint32_t change, const int32_t* partitions,
                       size_t count) {
  if (!ctx->partitions) {
    host_log(ctx, ISITUP_LOG_ERROR, "source_partitions() called by a plugin that is not a source");
    return;
  }
  if (change > ISITUP_PARTITIONS_REVOKED || (count > 0 && !partitions)) {
    host_log(ctx, ISITUP_LOG_ERROR, "source_partitions() called with a bad change or list");
    return;
  }
  ctx->partitions(change, partitions, count);
}

// A plugin's positions are hostile: bounded, every pointer there.
constexpr size_t max_positions = 100'000;

bool valid_positions(const isitup_positions_v1* p) {
  return p->struct_size >= offsetof(isitup_positions_v1, count) + sizeof(size_t) && p->group &&
         p->topic && p->count <= max_positions && (p->count == 0 || p->items);
}

uint32_t submit_at(isitup_host_ctx* ctx, const isitup_record_v1* const* records, size_t count,
                   uint64_t token, const isitup_positions_v1* positions) {
  if (!ctx->submit_at) {
    host_log(ctx, ISITUP_LOG_ERROR, "submit_at() called by a plugin that is not a source");
    return ISITUP_ERROR;
  }
  if (positions && !valid_positions(positions)) {
    host_log(ctx, ISITUP_LOG_ERROR, "submit_at() called with bad positions: submitted without");
    positions = nullptr;
  }
  return ctx->submit_at(records, count, token, positions);
}

// The records record_parse decoded and validated go to the pipeline as they are: moved out of
// their parsed shells (freed once the host took them), not copied and validated again.
uint32_t submit_parsed(isitup_host_ctx* ctx, isitup_parsed_record* const* records, size_t count,
                       uint64_t token, const isitup_positions_v1* positions) {
  if (!ctx->submit_records) {
    host_log(ctx, ISITUP_LOG_ERROR, "submit_parsed() called by a plugin that is not a source");
    return ISITUP_ERROR;
  }
  if (count > 0 && !records) {
    host_log(ctx, ISITUP_LOG_ERROR, "submit_parsed() called without records");
    return ISITUP_ERROR;
  }
  if (positions && !valid_positions(positions)) {
    host_log(ctx, ISITUP_LOG_ERROR, "submit_parsed() called with bad positions: submitted without");
    positions = nullptr;
  }
  if (ctx->has_room && !ctx->has_room(count)) return ISITUP_RETRY;  // nothing moved yet
  std::vector<parsed*> shells(count);
  std::vector<record> batch;
  batch.reserve(count);
  // Puts the records back as they were (views included: a moved string may have moved its
  // characters); the caller keeps them.
  auto give_back = [&] {
    for (size_t i = 0; i < batch.size(); ++i) {
      shells[i]->rec = std::move(batch[i]);
      shells[i]->view = shells[i]->rec.view();
      shells[i]->taken = false;
    }
  };
  for (size_t i = 0; i < count; ++i) {
    parsed* p = reinterpret_cast<parsed*>(records[i]);
    if (!p || p->taken) {  // a record given twice would be a moved-from (empty) one the second time
      give_back();
      host_log(ctx, ISITUP_LOG_ERROR,
               "submit_parsed() called with a null record or one record twice: refused");
      return ISITUP_ERROR;
    }
    p->taken = true;
    shells[i] = p;
    batch.push_back(std::move(p->rec));
  }
  const uint32_t s = ctx->submit_records(batch, token, positions);
  if (s != ISITUP_OK) {
    give_back();
    return s;
  }
  for (parsed* p : shells) delete p;
  return ISITUP_OK;
}

uint32_t claim_positions(isitup_host_ctx* ctx, isitup_positions_v1* claim, int64_t timeout_ms,
                         char* err, size_t err_cap) {
  std::string why;
  uint32_t s = ISITUP_ERROR;
  if (!ctx->claim)
    why = "claim_positions() called by a plugin that is not a source";
  else if (!claim || !valid_positions(claim))
    why = "claim_positions() called with a bad claim";
  else
    s = ctx->claim(*claim, timeout_ms, why);
  if (s != ISITUP_OK && err && err_cap > 0) {
    const size_t n = std::min(why.size(), err_cap - 1);
    std::memcpy(err, why.data(), n);
    err[n] = '\0';
  }
  return s;
}

const isitup_host_v1 table = {
    sizeof(isitup_host_v1),
    ISITUP_ABI_VERSION,
    host_log,
    opt_is_set,
    opt_string,
    opt_int,
    opt_float,
    opt_bool,
    opt_duration_ms,
    opt_list_size,
    opt_list_item,
    opt_map_size,
    opt_map_key,
    opt_map_value,
    record_to_json,
    record_parse,
    record_view,
    record_free,
    submit,
    counter_add,
    source_partitions,
    submit_at,
    claim_positions,
    submit_parsed,
};

}  // namespace

const isitup_host_v1* host_table() { return &table; }

}  // namespace isitup
