// isitup plugin SDK: typed options, header-only (C++17), after Fluent Bit's config_map. One line
// declares an option's name, type, default, description, allowed range and the member of the
// plugin's config struct it fills, so the declaration the agent validates and prints
// (--describe-plugin), the range checks and the struct cannot drift apart:
//
//   struct settings {
//     std::string format = "json";
//     int64_t port = 443;
//     std::chrono::milliseconds timeout{2000};
//   };
//   const sdk::config_map<settings>& settings_map() {
//     static const auto map = sdk::config_map<settings>()
//         .string("format", &settings::format, "json", "json or text").one_of({"json", "text"})
//         .integer("port", &settings::port, "443", "TCP port", 1, 65535)
//         .duration("timeout", &settings::timeout, "2s", "give up after this",
//                   std::chrono::milliseconds(1), std::chrono::hours(1));
//     return map;
//   }
//   ... .sink<my_sink>(settings_map().options())
//   my_sink(const host&, const options_view& o) : settings_(settings_map().read(o)) {}
//
// read() starts from a default-constructed struct and sets every member whose option has a
// value (given, or its declared default); one with neither keeps the struct's initializer,
// except lists and maps, which are always set (empty when there is no value).
// A value outside its range throws std::invalid_argument("port: expected 1..65535, got 0"),
// which the agent reports at the option's file:line:column ("<name>: ..." points there). A
// std::optional<std::string> member tells "no value" (nullopt) from "given empty"; given()
// tells an option the config gives from its declared default. The map's
// strings (names, defaults, descriptions) are not copied: pass literals. A map is immutable once
// built and may be read from any thread.
#pragma once

#include <isitup/plugin.hpp>
#include <isitup/text.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace isitup::sdk {

namespace detail {

// "1h", "90s", "1500ms": the largest unit that divides `ms` exactly, as the agent parses it.
inline std::string duration_text(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  constexpr std::pair<int64_t, const char*> units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}};
  for (const auto& [size, suffix] : units)
    if (ms != 0 && ms % size == 0) return std::to_string(ms / size) + suffix;
  return std::to_string(ms) + "ms";
}

}  // namespace detail

template <class Config>
class config_map {
 public:
  using milliseconds = std::chrono::milliseconds;

  config_map& string(const char* name, std::string Config::*member, const char* default_value,
                     const char* description) {
    return add({name, ISITUP_OPT_STRING, default_value, description},
               [name, member](const options_view& o, Config& c) {
                 if (o.has_value(name)) c.*member = o.string(name);
               });
  }
  // A string whose absence matters (a body that may be empty, a pattern): the member is set
  // only when the option has a value, given or by default, and otherwise keeps its initializer
  // (std::nullopt).
  config_map& string(const char* name, std::optional<std::string> Config::*member,
                     const char* default_value, const char* description) {
    return add({name, ISITUP_OPT_STRING, default_value, description},
               [name, member](const options_view& o, Config& c) {
                 if (o.has_value(name)) c.*member = o.string(name);
               });
  }
  config_map& integer(const char* name, int64_t Config::*member, const char* default_value,
                      const char* description, int64_t min, int64_t max) {
    return add({name, ISITUP_OPT_INT, default_value, description},
               ranged(name, member, min, max, &options_view::integer,
                      [](int64_t v) { return std::to_string(v); }));
  }
  config_map& number(const char* name, double Config::*member, const char* default_value,
                     const char* description, double min, double max) {
    return add({name, ISITUP_OPT_FLOAT, default_value, description},
               ranged(name, member, min, max, &options_view::number, &number_text));
  }
  config_map& boolean(const char* name, bool Config::*member, const char* default_value,
                      const char* description) {
    return add({name, ISITUP_OPT_BOOL, default_value, description},
               [name, member](const options_view& o, Config& c) {
                 if (o.has_value(name)) c.*member = o.boolean(name);
               });
  }
  config_map& duration(const char* name, milliseconds Config::*member, const char* default_value,
                       const char* description, milliseconds min, milliseconds max) {
    return add({name, ISITUP_OPT_DURATION, default_value, description},
               ranged(name, member, min, max, &options_view::duration, &detail::duration_text));
  }
  config_map& list(const char* name, std::vector<std::string> Config::*member,
                   const char* default_value, const char* description) {
    return add({name, ISITUP_OPT_LIST, default_value, description},
               [name, member](const options_view& o, Config& c) { c.*member = o.list(name); });
  }
  config_map& map(const char* name,
                  std::vector<std::pair<std::string, std::string>> Config::*member,
                  const char* default_value, const char* description) {
    return add({name, ISITUP_OPT_MAP, default_value, description},
               [name, member](const options_view& o, Config& c) { c.*member = o.map(name); });
  }

  // Every option of `part` (options shared by several plugins, declared once), filling the
  // member `member` of this struct; `part` must outlive this map. Its names count as declared
  // here: one declared in both is a std::logic_error. required() and one_of() after include()
  // apply to the part's last option.
  template <class Part>
  config_map& include(const config_map<Part>& part, Part Config::*member) {
    for (const option& o : part.options_) add_option(o);
    readers_.push_back(
        [&part, member](const options_view& o, Config& c) { part.read_into(o, c.*member); });
    return *this;
  }

  // The option declared last must be given in the config (its default is then ignored).
  config_map& required() {
    options_.back().required = true;
    return *this;
  }
  // The string option declared last may not be given empty: "brokers: must not be empty", or
  // with `hint` "secret: must not be empty (leave it out for no signature)".
  config_map& non_empty(const char* hint = nullptr) {
    const option& o = options_.back();
    if (o.type != ISITUP_OPT_STRING)
      throw std::logic_error(std::string(o.name) + ": non_empty() applies to a string option");
    std::string why = std::string(o.name) + ": must not be empty";
    if (hint) why += std::string(" (") + hint + ")";
    readers_.push_back([name = o.name, why](const options_view& view, Config&) {
      if (view.has_value(name) && view.string(name).empty()) throw std::invalid_argument(why);
    });
    return *this;
  }
  // The option declared last also sets `flag`: true when the config gives it, false when it
  // has its declared default or no value. For a setting whose default must not count as asked
  // for, such as a plugin-wide limit that only the checks naming it change; the option's own
  // member is filled as usual.
  config_map& given(bool Config::*flag) {
    readers_.push_back([name = options_.back().name, flag](const options_view& o, Config& c) {
      c.*flag = o.is_set(name);
    });
    return *this;
  }
  // The string option declared last takes only one of `allowed`.
  config_map& one_of(std::initializer_list<const char*> allowed) {
    const option& o = options_.back();
    if (o.type != ISITUP_OPT_STRING)
      throw std::logic_error(std::string(o.name) + ": one_of() applies to a string option");
    std::vector<std::string> values(allowed.begin(), allowed.end());
    readers_.push_back([name = o.name, values](const options_view& view, Config&) {
      if (!view.has_value(name)) return;
      const std::string v = view.string(name);
      for (const std::string& a : values)
        if (v == a) return;
      std::string expected;
      for (const std::string& a : values) expected += (expected.empty() ? "\"" : ", \"") + a + "\"";
      throw std::invalid_argument(std::string(name) + ": expected one of " + expected + ", got \"" +
                                  shown_value(v, 60) + "\"");
    });
    return *this;
  }

  // The declarations, for plugin_def's check<T>(), sink<T>(), source<T>() or catalog<T>().
  const std::vector<option>& options() const { return options_; }

  // A config struct filled from validated options; throws std::invalid_argument naming the
  // option whose value is outside its range.
  Config read(const options_view& o) const {
    Config c{};
    read_into(o, c);
    return c;
  }

 private:
  template <class>
  friend class config_map;
  using reader = std::function<void(const options_view&, Config&)>;

  void read_into(const options_view& o, Config& c) const {
    for (const auto& r : readers_) r(o, c);
  }
  void add_option(const option& o) {
    for (const option& d : options_)
      if (std::string(d.name) == o.name)
        throw std::logic_error(std::string(o.name) + ": declared twice");
    options_.push_back(o);
  }
  config_map& add(option o, reader r) {
    add_option(o);
    readers_.push_back(std::move(r));
    return *this;
  }
  // Reads a value with `get` and refuses it outside [min, max] (NaN included), shown by `text`.
  template <class T, class Get, class Text>
  static reader ranged(const char* name, T Config::*member, T min, T max, Get get, Text text) {
    return [name, member, min, max, get, text](const options_view& o, Config& c) {
      if (!o.has_value(name)) return;
      const T v = (o.*get)(name);
      if (!(v >= min && v <= max)) out_of_range(name, text(min), text(max), text(v));
      c.*member = v;
    };
  }
  [[noreturn]] static void out_of_range(const char* name, const std::string& min,
                                        const std::string& max, const std::string& got) {
    throw std::invalid_argument(std::string(name) + ": expected " + min + ".." + max + ", got " +
                                got);
  }
  static std::string number_text(double v) {
    std::string s = std::to_string(v);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }

  std::vector<option> options_;
  std::vector<reader> readers_;
};

}  // namespace isitup::sdk
