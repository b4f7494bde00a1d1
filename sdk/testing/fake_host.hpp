// A fake isitup_host_v1 for plugin unit tests. Header-only; depends on nothing but
// <isitup/plugin.h> and the standard library, so a plugin author can test a plugin without
// the agent. It serves declared options (defaults applied, given values checked against the
// declared types by the agent's own rules and messages, isitup/option_text.hpp), records log
// lines and counters, and hands the codec and source services to std::function hooks the
// test sets:
//
//   using namespace isitup::sdk::testing;
//   fake_host host;                                 // record_to_json: record_json.hpp
//   sink_under_test sink(host, isitup_plugin_entry(), {{"format", "text"}});  // under_test.hpp
//   ASSERT_TRUE(sink.ok()) << sink.error();
//   auto outcome = sink.write({&record});          // waits for the batch's completion
//   EXPECT_EQ(outcome.status, ISITUP_OK);
//   EXPECT_TRUE(host.problems().empty());          // no misuse of the host table
//
// Unlike the agent it does not prefix log lines, rate-limit them, or parse YAML beyond the flow
// forms of option defaults ("5s", "\"x\"", "[200, 301]", "{a: b}"). Every service may be
// called from any thread. A fake_host must outlive every plugin object created with it; the
// codec services (which take no ctx) are served by the most recently constructed fake_host.
#pragma once

#include <isitup/plugin.h>
#include <isitup/option_text.hpp>

#include "record_json.hpp"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace isitup::sdk::testing {

using list_value = std::vector<std::string>;
using map_value = std::vector<std::pair<std::string, std::string>>;
// A value as given in a config section: a scalar (its YAML text), a list or a map of scalars.
using option_value = std::variant<std::string, list_value, map_value>;
using option_map = std::map<std::string, option_value>;

namespace detail {

inline std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t") - b + 1));
}

inline std::string unquote(std::string_view s) {
  std::string t = trim(s);
  if (t.size() >= 2 && (t.front() == '"' || t.front() == '\'') && t.back() == t.front())
    return t.substr(1, t.size() - 2);
  return t;
}

// Splits the inside of a YAML flow collection ("a, b" of "[a, b]") at top-level commas.
inline list_value split_flow(std::string_view s) {
  list_value out;
  std::string item;
  char quote = 0;
  for (char c : s) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == ',') {
      out.push_back(trim(item));
      item.clear();
      continue;
    }
    item += c;
  }
  if (!trim(item).empty() || !out.empty()) out.push_back(trim(item));
  return out;
}

// The default of a declared option as a value ("[200, 301]" -> a list).
inline option_value parse_default(uint32_t type, const char* yaml) {
  const std::string t = trim(yaml);
  if (type == ISITUP_OPT_LIST) {
    list_value out;
    if (t.size() >= 2 && t.front() == '[')
      for (const std::string& item : split_flow(std::string_view(t).substr(1, t.size() - 2)))
        out.push_back(unquote(item));
    return out;
  }
  if (type == ISITUP_OPT_MAP) {
    map_value out;
    if (t.size() >= 2 && t.front() == '{')
      for (const std::string& item : split_flow(std::string_view(t).substr(1, t.size() - 2))) {
        const size_t colon = item.find(':');
        if (colon != std::string::npos)
          out.emplace_back(unquote(item.substr(0, colon)), unquote(item.substr(colon + 1)));
      }
    return out;
  }
  return unquote(t);
}

// "a sequence", "a mapping", "the scalar 'text'": as the agent describes a YAML node.
inline std::string describe(const option_value& v) {
  if (std::holds_alternative<list_value>(v)) return "a sequence";
  if (std::holds_alternative<map_value>(v)) return "a mapping";
  return "the scalar " + quoted_value(std::get<std::string>(v));
}

// Why `v` is not a value of `type`, in the agent's words (isitup/option_text.hpp); empty when
// it is one. A scalar given for a list becomes a list of one item, as in the agent.
inline std::string value_error(uint32_t type, option_value& v) {
  const std::string* scalar = std::get_if<std::string>(&v);
  if (type == ISITUP_OPT_LIST) {
    if (scalar) v = list_value{*scalar};
    if (std::holds_alternative<list_value>(v)) return {};
  } else if (type == ISITUP_OPT_MAP) {
    if (const auto* m = std::get_if<map_value>(&v)) {
      for (std::size_t i = 0; i < m->size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
          if ((*m)[i].first == (*m)[j].first) return "duplicate key " + quoted_value((*m)[i].first);
      return {};
    }
  } else if (scalar) {
    return scalar_option_error(type, *scalar);
  }
  return std::string("expected ") + option_type_expected(type) + ", got " + describe(v);
}

}  // namespace detail

// The validated options of one config section, as the plugin reads them through the host.
// Construct from the plugin's declaration and the values a config would give; error() says
// what the agent would have refused, in the agent's words after its "<section>: " prefix
// ("option 'port': expected an integer, got 'x'"): a declaration without a name, of an
// unknown type, declared twice or with a default that does not fit its type; an unknown key,
// a missing required option, a value of the wrong type or a map with a duplicate key.
class fake_options {
 public:
  fake_options(const isitup_option_v1* declared, size_t count, option_map given) {
    std::vector<std::string> names;
    for (size_t i = 0; i < count; ++i) {
      // What the agent refuses when it loads the plugin or reads its defaults.
      if (!declared[i].name || !*declared[i].name) {
        fail("option " + std::to_string(i) + " has no name");
        return;
      }
      const std::string name = declared[i].name;
      if (declared[i].type < ISITUP_OPT_STRING || declared[i].type > ISITUP_OPT_MAP) {
        fail("option \"" + name + "\" has unknown type " + std::to_string(declared[i].type));
        return;
      }
      if (entries_.count(name)) {
        fail("option \"" + name + "\" is declared twice");
        return;
      }
      entry e;
      e.type = declared[i].type;
      if (declared[i].default_value && !declared[i].required) {
        e.value = detail::parse_default(e.type, declared[i].default_value);
        const std::string why = detail::value_error(e.type, *e.value);
        if (!why.empty()) {
          fail("option " + quoted_value(name) + ": the plugin's default " +
               quoted_value(declared[i].default_value) + " is invalid: " + why);
          return;
        }
      }
      const auto it = given.find(name);
      if (it != given.end()) {
        e.value = it->second;
        e.is_set = true;
        const std::string why = detail::value_error(e.type, *e.value);
        if (!why.empty()) fail("option " + quoted_value(name) + ": " + why);
        given.erase(it);
      } else if (declared[i].required) {
        fail("missing required option " + quoted_value(name));
      }
      names.push_back(name);
      entries_.emplace(name, std::move(e));
    }
    if (!given.empty()) {
      const std::string& key = given.begin()->first;
      std::string why = "unknown option " + quoted_value(key);
      if (names.empty()) why += "; this plugin takes no options";
      why += suggestion(key, names);
      for (size_t i = 0; i < names.size(); ++i) why += (i ? ", " : "; valid options: ") + names[i];
      fail(std::move(why));
    }
  }
  fake_options(const fake_options&) = delete;
  fake_options& operator=(const fake_options&) = delete;

  const std::string& error() const { return error_; }
  const isitup_options* raw() const { return reinterpret_cast<const isitup_options*>(this); }
  static const fake_options& from(const isitup_options* o) {
    return *reinterpret_cast<const fake_options*>(o);
  }
  // Misuse seen by the accessors (an undeclared name, a string read as an int, ...).
  std::vector<std::string> problems() const {
    std::lock_guard lock(mu_);
    return problems_;
  }

  bool is_set(const char* name) const {
    const entry* e = find(name, 0);
    return e && e->is_set;
  }
  const char* scalar(const char* name, uint32_t type) const {
    const entry* e = find(name, type);
    const auto* s = e ? std::get_if<std::string>(&*e->value) : nullptr;
    return s ? s->c_str() : nullptr;
  }
  const list_value* list(const char* name) const {
    const entry* e = find(name, ISITUP_OPT_LIST);
    return e ? std::get_if<list_value>(&*e->value) : nullptr;
  }
  const map_value* map(const char* name) const {
    const entry* e = find(name, ISITUP_OPT_MAP);
    return e ? std::get_if<map_value>(&*e->value) : nullptr;
  }

 private:
  struct entry {
    uint32_t type = ISITUP_OPT_STRING;
    bool is_set = false;
    std::optional<option_value> value;
  };

  void fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }

  // The entry for a declared name; type 0 accepts any type.
  const entry* find(const char* name, uint32_t type) const {
    const auto it = entries_.find(name ? name : "");
    std::string problem;
    if (it == entries_.end())
      problem = std::string("read of undeclared option \"") + (name ? name : "(null)") + "\"";
    else if (type != 0 && type != it->second.type &&
             !(type == ISITUP_OPT_STRING && it->second.type <= ISITUP_OPT_DURATION))
      problem = "option \"" + it->first + "\" read as the wrong type";
    if (problem.empty()) return it->second.value ? &it->second : nullptr;
    std::lock_guard lock(mu_);
    problems_.push_back(std::move(problem));
    return nullptr;
  }

  std::map<std::string, entry> entries_;
  std::string error_;
  mutable std::mutex mu_;
  mutable std::vector<std::string> problems_;
};

// The fake host table. Set the hooks before the plugin calls the matching services.
class fake_host {
 public:
  // record_to_json. Unset: record_json() (record_json.hpp), the agent's JSON layout; a test
  // inside the agent's tree may wire it to the agent's own encoder instead.
  std::function<std::string(const isitup_record_v1&)> to_json;
  // record_parse; return a record that stays valid as long as the returned pointer (use the
  // shared_ptr aliasing constructor to keep an owning object alive), or null with `error`.
  std::function<std::shared_ptr<const isitup_record_v1>(std::string_view json, std::string& error)>
      parse;
  // submit (sources). Unset: every batch is accepted and its token remembered.
  std::function<uint32_t(const isitup_record_v1* const* records, size_t count, uint64_t token)>
      submit;

  struct log_line {
    uint32_t level;
    std::string message;
  };

  fake_host() {
    current() = this;
    table_.struct_size = sizeof table_;
    table_.abi_version = ISITUP_ABI_VERSION;
    table_.log = [](isitup_host_ctx* c, uint32_t level, const char* m) {
      if (auto* h = self(c)) h->add_log(level, m ? m : "(null)");
    };
    table_.opt_is_set = [](const isitup_options* o, const char* n) -> int {
      return fake_options::from(o).is_set(n);
    };
    table_.opt_string = [](const isitup_options* o, const char* n) {
      return fake_options::from(o).scalar(n, ISITUP_OPT_STRING);
    };
    table_.opt_int = [](const isitup_options* o, const char* n) -> int64_t {
      const char* s = fake_options::from(o).scalar(n, ISITUP_OPT_INT);
      return s ? parse_int64(s).value_or(0) : 0;
    };
    table_.opt_float = [](const isitup_options* o, const char* n) {
      const char* s = fake_options::from(o).scalar(n, ISITUP_OPT_FLOAT);
      return s ? parse_number(s).value_or(0.0) : 0.0;
    };
    table_.opt_bool = [](const isitup_options* o, const char* n) -> int {
      const char* s = fake_options::from(o).scalar(n, ISITUP_OPT_BOOL);
      return s && parse_bool(s).value_or(false);
    };
    table_.opt_duration_ms = [](const isitup_options* o, const char* n) -> int64_t {
      const char* s = fake_options::from(o).scalar(n, ISITUP_OPT_DURATION);
      return s ? parse_duration_ms(s).value_or(0) : 0;
    };
    table_.opt_list_size = [](const isitup_options* o, const char* n) -> size_t {
      const list_value* l = fake_options::from(o).list(n);
      return l ? l->size() : 0;
    };
    table_.opt_list_item = [](const isitup_options* o, const char* n, size_t i) {
      const list_value* l = fake_options::from(o).list(n);
      return l && i < l->size() ? (*l)[i].c_str() : nullptr;
    };
    table_.opt_map_size = [](const isitup_options* o, const char* n) -> size_t {
      const map_value* m = fake_options::from(o).map(n);
      return m ? m->size() : 0;
    };
    table_.opt_map_key = [](const isitup_options* o, const char* n, size_t i) {
      const map_value* m = fake_options::from(o).map(n);
      return m && i < m->size() ? (*m)[i].first.c_str() : nullptr;
    };
    table_.opt_map_value = [](const isitup_options* o, const char* n, size_t i) {
      const map_value* m = fake_options::from(o).map(n);
      return m && i < m->size() ? (*m)[i].second.c_str() : nullptr;
    };
    table_.record_to_json = &record_to_json;
    table_.record_parse = &record_parse;
    table_.record_view = [](const isitup_parsed_record* p) {
      return reinterpret_cast<const parsed*>(p)->record.get();
    };
    table_.record_free = [](isitup_parsed_record* p) { delete reinterpret_cast<parsed*>(p); };
    table_.submit = [](isitup_host_ctx* c, const isitup_record_v1* const* r, size_t n,
                       uint64_t token) -> uint32_t {
      auto* h = self(c);
      return h ? h->do_submit(r, n, token) : static_cast<uint32_t>(ISITUP_ERROR);
    };
    table_.counter_add = [](isitup_host_ctx* c, const char* name, int64_t delta) {
      if (auto* h = self(c)) {
        std::lock_guard lock(h->mu_);
        h->counters_[name ? name : "(null)"] += delta;
      }
    };
  }
  ~fake_host() {
    if (current() == this) current() = nullptr;
  }
  fake_host(const fake_host&) = delete;
  fake_host& operator=(const fake_host&) = delete;

  const isitup_host_v1* table() const { return &table_; }
  isitup_host_ctx* ctx() { return reinterpret_cast<isitup_host_ctx*>(this); }

  std::vector<log_line> logs() const {
    std::lock_guard lock(mu_);
    return logs_;
  }
  // True when some log line contains `text`.
  bool logged(std::string_view text) const {
    std::lock_guard lock(mu_);
    for (const log_line& l : logs_)
      if (l.message.find(text) != std::string::npos) return true;
    return false;
  }
  int64_t counter(const std::string& name) const {
    std::lock_guard lock(mu_);
    const auto it = counters_.find(name);
    return it == counters_.end() ? 0 : it->second;
  }
  // Tokens of the batches accepted while `submit` is unset.
  std::vector<uint64_t> submitted_tokens() const {
    std::lock_guard lock(mu_);
    return tokens_;
  }
  // Misuse of the table: a foreign ctx, a codec service without its hook, a completion
  // called twice (under_test.hpp).
  std::vector<std::string> problems() const {
    std::lock_guard lock(mu_);
    return problems_;
  }
  void report_problem(std::string what) { problem(std::move(what)); }

 private:
  struct parsed {
    std::shared_ptr<const isitup_record_v1> record;
  };
  static fake_host* self(isitup_host_ctx* c) {
    if (c) return reinterpret_cast<fake_host*>(c);
    if (fake_host* h = current()) h->problem("a host service was called with a null ctx");
    return nullptr;
  }
  // The codec services take no ctx, so the most recently constructed host serves them.
  static fake_host*& current() {
    static fake_host* h = nullptr;
    return h;
  }

  static size_t record_to_json(const isitup_record_v1* r, char* buf, size_t cap) {
    fake_host* h = current();
    if (!h || !r) {
      if (h) h->problem("record_to_json called with a null record");
      if (buf && cap) buf[0] = '\0';
      return 0;
    }
    const std::string json = h->to_json ? h->to_json(*r) : record_json(*r);
    if (buf && cap > json.size()) std::memcpy(buf, json.c_str(), json.size() + 1);
    return json.size();
  }
  static isitup_parsed_record* record_parse(const char* json, size_t len, char* err, size_t cap) {
    fake_host* h = current();
    std::string error = "fake_host::parse is not set";
    std::shared_ptr<const isitup_record_v1> r;
    if (h && h->parse) r = h->parse(std::string_view(json, len), error);
    if (r) return reinterpret_cast<isitup_parsed_record*>(new parsed{std::move(r)});
    if (h && !h->parse) h->problem(error);
    if (err && cap) {
      const size_t n = error.size() < cap - 1 ? error.size() : cap - 1;
      std::memcpy(err, error.data(), n);
      err[n] = '\0';
    }
    return nullptr;
  }

  uint32_t do_submit(const isitup_record_v1* const* r, size_t n, uint64_t token) {
    if (submit) return submit(r, n, token);
    std::lock_guard lock(mu_);
    tokens_.push_back(token);
    return ISITUP_OK;
  }
  void add_log(uint32_t level, std::string message) {
    std::lock_guard lock(mu_);
    logs_.push_back({level, std::move(message)});
  }
  void problem(std::string what) {
    std::lock_guard lock(mu_);
    problems_.push_back(std::move(what));
  }

  isitup_host_v1 table_{};
  mutable std::mutex mu_;
  std::vector<log_line> logs_;
  std::map<std::string, int64_t> counters_;
  std::vector<uint64_t> tokens_;
  std::vector<std::string> problems_;
};

}  // namespace isitup::sdk::testing
