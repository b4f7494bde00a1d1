#include <isitup/core/plugin_host.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <map>
#include <set>
#include <utility>

#include <boost/dll/shared_library.hpp>

namespace isitup {

namespace fs = std::filesystem;

struct loaded_plugin::impl {
  boost::dll::shared_library library;
  isitup_check_ops_v1 check{};
  isitup_sink_ops_v1 sink{};
  isitup_source_ops_v1 source{};
  isitup_catalog_ops_v1 catalog{};
};

loaded_plugin::~loaded_plugin() = default;

const isitup_check_ops_v1* loaded_plugin::check_ops() const {
  return (kinds_ & ISITUP_KIND_CHECK) ? &impl_->check : nullptr;
}
const isitup_sink_ops_v1* loaded_plugin::sink_ops() const {
  return (kinds_ & ISITUP_KIND_SINK) ? &impl_->sink : nullptr;
}
const isitup_source_ops_v1* loaded_plugin::source_ops() const {
  return (kinds_ & ISITUP_KIND_SOURCE) ? &impl_->source : nullptr;
}
const isitup_catalog_ops_v1* loaded_plugin::catalog_ops() const {
  return (kinds_ & ISITUP_KIND_CATALOG) ? &impl_->catalog : nullptr;
}

std::string kinds_to_string(uint32_t kinds) {
  std::string out;
  for (auto [bit, word] :
       {std::pair{ISITUP_KIND_CHECK, "check"}, std::pair{ISITUP_KIND_SINK, "sink"},
        std::pair{ISITUP_KIND_SOURCE, "source"}, std::pair{ISITUP_KIND_CATALOG, "catalog"}}) {
    if (!(kinds & bit)) continue;
    if (!out.empty()) out += ',';
    out += word;
  }
  return out;
}

namespace {

constexpr uint32_t known_kinds =
    ISITUP_KIND_CHECK | ISITUP_KIND_SINK | ISITUP_KIND_SOURCE | ISITUP_KIND_CATALOG;
constexpr uint32_t known_sink_flags =
    ISITUP_SINK_NOTIFIER | ISITUP_SINK_ALERT_STATE | ISITUP_SINK_HISTORY | ISITUP_SINK_POSITIONS;
constexpr size_t max_options = 1024;

// The smallest structs the host accepts: everything up to the last field it cannot do without.
// These stay fixed when the structs grow at the end.
constexpr size_t min_descriptor_size = offsetof(isitup_plugin_v1, kinds) + sizeof(uint32_t);
constexpr size_t min_check_ops_size = offsetof(isitup_check_ops_v1, destroy) + sizeof(void*);
constexpr size_t min_sink_ops_size = offsetof(isitup_sink_ops_v1, destroy) + sizeof(void*);
constexpr size_t min_source_ops_size = offsetof(isitup_source_ops_v1, destroy) + sizeof(void*);
constexpr size_t min_catalog_ops_size = offsetof(isitup_catalog_ops_v1, destroy) + sizeof(void*);
constexpr size_t min_option_size = offsetof(isitup_option_v1, type) + sizeof(uint32_t);

[[noreturn]] void refuse(const fs::path& file, const std::string& reason) {
  throw plugin_error(file.string() + ": " + reason);
}

bool is_bare_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// A string from a plugin or a config, made safe for a one-line message.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80))
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > 80) out += "...";
  return out;
}

std::string mode_string(fs::perms p) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(p) & 07777u);
  return buf;
}

bool group_or_others_can_write(fs::perms p) {
  return (p & (fs::perms::group_write | fs::perms::others_write)) != fs::perms::none;
}

// True when p lies strictly inside dir (both canonical).
bool is_inside(const fs::path& p, const fs::path& dir) {
  auto [d, q] = std::mismatch(dir.begin(), dir.end(), p.begin(), p.end());
  return d == dir.end() && q != p.end();
}

// File names without ".so" of every *.so in dir, sorted.
std::vector<std::string> plugin_file_stems(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".so") out.push_back(it->path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Boost.DLL's what() reads "... (dlerror system message: TEXT): <misleading errno text>".
// Returns TEXT without the leading "<file>: " that dlerror repeats.
std::string dlerror_text(const std::exception& e, const fs::path& file) {
  std::string what = e.what();
  const std::string marker = "(dlerror system message: ";
  size_t begin = what.find(marker);
  size_t end = what.rfind(')');
  std::string text = what;
  if (begin != std::string::npos && end != std::string::npos && end > begin)
    text = what.substr(begin + marker.size(), end - begin - marker.size());
  const std::string prefix = file.string() + ": ";
  if (text.rfind(prefix, 0) == 0) text.erase(0, prefix.size());
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// Refuses a file that is missing, not regular, writable by group/others, in such a
// directory, or a symlink leading out of dir.
void check_file(const fs::path& dir, const fs::path& file) {
  std::error_code ec;
  const fs::file_status link = fs::symlink_status(file, ec);
  if (ec || !fs::exists(link)) {
    if (!fs::is_directory(dir, ec))
      refuse(file, "no such plugin file (the plugins directory does not exist)");
    std::string available;
    for (const std::string& stem : plugin_file_stems(dir))
      available += (available.empty() ? "" : ", ") + stem;
    refuse(file,
           "no such plugin file (available: " + (available.empty() ? "none" : available) + ")");
  }
  const fs::perms dir_perms = fs::status(dir, ec).permissions();
  if (group_or_others_can_write(dir_perms))
    refuse(file, "the plugins directory " + dir.string() +
                     " is writable by group or others (mode " + mode_string(dir_perms) +
                     "); fix with chmod go-w " + dir.string());
  if (fs::is_symlink(link)) {
    const fs::path real_dir = fs::canonical(dir, ec);
    const fs::path target = fs::canonical(file, ec);
    if (ec) refuse(file, "is a symlink to a missing file");
    if (!is_inside(target, real_dir))
      refuse(file,
             "is a symlink pointing outside the plugins directory (to " + target.string() + ")");
    for (fs::path d = target.parent_path(); d != real_dir; d = d.parent_path()) {
      const fs::perms p = fs::status(d, ec).permissions();
      if (group_or_others_can_write(p))
        refuse(file, "its target's directory " + d.string() +
                         " is writable by group or others (mode " + mode_string(p) + ")");
    }
  }
  const fs::file_status st = fs::status(file, ec);
  if (ec || !fs::is_regular_file(st)) refuse(file, "is not a regular file");
  if (group_or_others_can_write(st.permissions()))
    refuse(file, "is writable by group or others (mode " + mode_string(st.permissions()) +
                     "); fix with chmod go-w " + file.string());
}

// Copies a plugin's table into a zero-filled full-size struct (fields past its struct_size
// read as 0/NULL), refusing a NULL table or one too small for the required functions.
template <class Ops>
Ops copy_table(const fs::path& file, const char* kind, const Ops* raw, size_t min_size) {
  const std::string k = kind;
  if (!raw) refuse(file, "declares kind " + k + " but its " + k + " table is NULL");
  if (raw->struct_size < min_size)
    refuse(file, "the " + k + " table's struct_size " + std::to_string(raw->struct_size) +
                     " is too small (at least " + std::to_string(min_size) + " expected)");
  Ops ops{};
  std::memcpy(&ops, raw, std::min<size_t>(raw->struct_size, sizeof ops));
  return ops;
}

void require_functions(const fs::path& file, const char* kind,
                       std::initializer_list<std::pair<const char*, bool>> present) {
  for (auto [fn, ok] : present)
    if (!ok) refuse(file, std::string("required ") + kind + " function " + fn + " is NULL");
}

// Converts a declared option array. The elements are laid out with the plugin's sizeof, which
// may differ from ours (an older or newer header): the first element's struct_size is the
// stride, every element must carry the same struct_size, and fields past it read as 0/NULL.
std::vector<option_schema> convert_options(const fs::path& file, const char* kind,
                                           const isitup_option_v1* raw, size_t count) {
  const std::string k = kind;
  std::vector<option_schema> out;
  if (count == 0) return out;
  if (!raw)
    refuse(file, "declares " + std::to_string(count) + " " + k + " options but the array is NULL");
  if (count > max_options)
    refuse(file, "declares " + std::to_string(count) + " " + k + " options (more than " +
                     std::to_string(max_options) + ")");
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw);
  const size_t stride = raw->struct_size;
  if (stride < min_option_size)
    refuse(file, k + " option 0 has struct_size " + std::to_string(stride) +
                     ", too small (at least " + std::to_string(min_option_size) + " expected)");
  std::set<std::string> seen;
  for (size_t i = 0; i < count; ++i) {
    isitup_option_v1 o{};
    std::memcpy(&o, bytes + i * stride, std::min(stride, sizeof o));
    const std::string at = k + " option " + std::to_string(i);
    if (o.struct_size != stride)
      refuse(file, at + " has struct_size " + std::to_string(o.struct_size) + " but option 0 has " +
                       std::to_string(stride));
    if (!o.name || !*o.name) refuse(file, at + " has no name");
    const std::string name = printable(o.name);
    const std::optional<option_type> type = option_type_of(o.type);
    if (!type)
      refuse(file, k + " option '" + name + "' has unknown type " + std::to_string(o.type));
    if (!seen.insert(o.name).second) refuse(file, "declares " + k + " option '" + name + "' twice");
    option_schema s;
    s.name = o.name;
    s.type = *type;
    s.required = o.required != 0;
    if (!s.required && o.default_value) s.default_yaml = o.default_value;
    if (o.description) s.description = o.description;
    out.push_back(std::move(s));
  }
  return out;
}

// What a descriptor says, copied out of the plugin and checked.
struct validated {
  isitup_plugin_v1 desc{};
  isitup_check_ops_v1 check{};
  isitup_sink_ops_v1 sink{};
  isitup_source_ops_v1 source{};
  isitup_catalog_ops_v1 catalog{};
  std::vector<option_schema> check_schema, sink_schema, source_schema, catalog_schema;
};

validated validate(const fs::path& file, const std::string& expected_name,
                   const isitup_plugin_v1* raw) {
  if (!raw) refuse(file, "isitup_plugin_entry returned no descriptor (NULL)");
  // Only abi_version is read before the version is known to be supported.
  if (raw->abi_version == 0) refuse(file, "declares plugin ABI 0, which does not exist");
  if (raw->abi_version > ISITUP_ABI_VERSION)
    refuse(file, "built for plugin ABI " + std::to_string(raw->abi_version) +
                     ", this agent supports up to " + std::to_string(ISITUP_ABI_VERSION));
  if (raw->struct_size < min_descriptor_size)
    refuse(file, "descriptor struct_size " + std::to_string(raw->struct_size) +
                     " is too small (at least " + std::to_string(min_descriptor_size) +
                     " expected)");
  validated v;
  isitup_plugin_v1& d = v.desc;
  std::memcpy(&d, raw, std::min<size_t>(raw->struct_size, sizeof d));
  if (!d.name) refuse(file, "descriptor has no name (NULL)");
  if (expected_name != d.name)
    refuse(file, "declares name '" + printable(d.name) + "' but the file is named '" +
                     expected_name + "'");
  if (d.kinds == 0) refuse(file, "provides no kind (kinds is 0)");
  if (d.kinds & ~known_kinds) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", d.kinds & ~known_kinds);
    refuse(file, std::string("declares unknown kinds ") + hex + " (this agent knows " +
                     kinds_to_string(known_kinds) + ")");
  }
  if (d.kinds & ISITUP_KIND_CHECK) {
    const isitup_check_ops_v1& c = v.check = copy_table(file, "check", d.check, min_check_ops_size);
    require_functions(file, "check",
                      {{"create", c.create},
                       {"prepare", c.prepare},
                       {"start", c.start},
                       {"release", c.release},
                       {"destroy", c.destroy}});
    v.check_schema = convert_options(file, "check", c.options, c.option_count);
  }
  if (d.kinds & ISITUP_KIND_SINK) {
    const isitup_sink_ops_v1& s = v.sink = copy_table(file, "sink", d.sink, min_sink_ops_size);
    require_functions(
        file, "sink",
        {{"create", s.create}, {"write", s.write}, {"flush", s.flush}, {"destroy", s.destroy}});
    // sink_flags and write_events read as 0/NULL when the table predates them (copy_table).
    if (s.sink_flags & ~known_sink_flags) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%x", s.sink_flags & ~known_sink_flags);
      refuse(file, std::string("declares unknown sink flags ") + hex);
    }
    if ((s.sink_flags & ISITUP_SINK_NOTIFIER) && !s.write_events)
      refuse(file, "declares a notifier sink (ISITUP_SINK_NOTIFIER) without write_events");
    const bool state_calls = s.write_with_state || s.load_state || s.events_delivered;
    if ((s.sink_flags & ISITUP_SINK_ALERT_STATE) &&
        !(s.write_with_state && s.load_state && s.events_delivered))
      refuse(file,
             "declares ISITUP_SINK_ALERT_STATE without all of write_with_state, load_state and "
             "events_delivered");
    if (!(s.sink_flags & ISITUP_SINK_ALERT_STATE) && state_calls)
      refuse(file,
             "has write_with_state, load_state or events_delivered without "
             "ISITUP_SINK_ALERT_STATE");
    if ((s.sink_flags & ISITUP_SINK_ALERT_STATE) && (s.sink_flags & ISITUP_SINK_NOTIFIER))
      refuse(file, "declares both ISITUP_SINK_NOTIFIER and ISITUP_SINK_ALERT_STATE");
    // read_history reads as NULL when the table ends before it (copy_table).
    if ((s.sink_flags & ISITUP_SINK_HISTORY) && !s.read_history)
      refuse(file, "declares ISITUP_SINK_HISTORY without read_history");
    if (!(s.sink_flags & ISITUP_SINK_HISTORY) && s.read_history)
      refuse(file, "has read_history without ISITUP_SINK_HISTORY");
    if ((s.sink_flags & ISITUP_SINK_POSITIONS) && !s.claim_positions)
      refuse(file, "declares ISITUP_SINK_POSITIONS without claim_positions");
    if (!(s.sink_flags & ISITUP_SINK_POSITIONS) && s.claim_positions)
      refuse(file, "has claim_positions without ISITUP_SINK_POSITIONS");
    v.sink_schema = convert_options(file, "sink", s.options, s.option_count);
  }
  if (d.kinds & ISITUP_KIND_SOURCE) {
    const isitup_source_ops_v1& s = v.source =
        copy_table(file, "source", d.source, min_source_ops_size);
    require_functions(file, "source",
                      {{"create", s.create},
                       {"start", s.start},
                       {"ack", s.ack},
                       {"stop", s.stop},
                       {"destroy", s.destroy}});
    v.source_schema = convert_options(file, "source", s.options, s.option_count);
  }
  // A descriptor that ends before `catalog` reads it as NULL (refused when kinds claims one).
  if (d.kinds & ISITUP_KIND_CATALOG) {
    const isitup_catalog_ops_v1& c = v.catalog =
        copy_table(file, "catalog", d.catalog, min_catalog_ops_size);
    require_functions(file, "catalog",
                      {{"create", c.create},
                       {"read_all", c.read_all},
                       {"publish", c.publish},
                       {"start", c.start},
                       {"stop", c.stop},
                       {"destroy", c.destroy}});
    v.catalog_schema = convert_options(file, "catalog", c.options, c.option_count);
  }
  return v;
}

}  // namespace

plugin_host::plugin_host(std::filesystem::path dir) : dir_(std::move(dir)) {}

std::shared_ptr<loaded_plugin> plugin_host::load(std::string_view name) {
  for (const auto& p : loaded_)
    if (p->name() == name) return p;
  if (!is_bare_name(name))
    throw plugin_error("plugin name '" + printable(name) + "' is not a bare name ([a-z0-9_]+)");
  const std::string stem(name);
  const fs::path file = dir_ / (stem + ".so");
  check_file(dir_, file);

  std::shared_ptr<loaded_plugin> p(new loaded_plugin());
  p->impl_ = std::make_unique<loaded_plugin::impl>();
  boost::dll::shared_library& lib = p->impl_->library;
  // dlopen runs the object's initialisers: the checks above are all we can do before that.
  try {
    lib.load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    refuse(file, "not a loadable shared object (" + dlerror_text(e, file) + ")");
  }
  if (!lib.has(ISITUP_ENTRY_SYMBOL))
    refuse(file, "no entry symbol " ISITUP_ENTRY_SYMBOL " (not an isitup plugin?)");
  auto& entry = lib.get<const isitup_plugin_v1*()>(ISITUP_ENTRY_SYMBOL);
  const isitup_plugin_v1* raw = nullptr;
  try {
    raw = entry();
  } catch (...) {
    refuse(file, "isitup_plugin_entry threw an exception");
  }
  validated v = validate(file, stem, raw);
  p->impl_->check = v.check;
  p->impl_->sink = v.sink;
  p->impl_->source = v.source;
  p->impl_->catalog = v.catalog;
  p->name_ = stem;
  p->path_ = file;
  p->abi_version_ = v.desc.abi_version;
  p->kinds_ = v.desc.kinds;
  p->version_ = v.desc.version ? v.desc.version : "";
  p->description_ = v.desc.description ? v.desc.description : "";
  p->check_schema_ = std::move(v.check_schema);
  p->sink_schema_ = std::move(v.sink_schema);
  p->source_schema_ = std::move(v.source_schema);
  p->catalog_schema_ = std::move(v.catalog_schema);
  loaded_.push_back(p);
  return p;
}

std::vector<plugin_host::listing> plugin_host::list() {
  std::error_code ec;
  fs::directory_iterator it(dir_, ec);
  if (ec)
    throw plugin_error(dir_.string() + ": cannot read the plugins directory (" + ec.message() +
                       ")");
  std::vector<std::string> files;
  for (fs::directory_iterator end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".so") files.push_back(it->path().filename().string());
  std::sort(files.begin(), files.end());

  std::vector<listing> out;
  std::map<std::string, std::string> seen;  // declared name -> file
  for (const std::string& f : files) {
    listing l{f, nullptr, {}};
    const std::string stem = fs::path(f).stem().string();
    if (!is_bare_name(stem)) {
      l.error =
          (dir_ / f).string() + ": plugin name '" + stem + "' is not a bare name ([a-z0-9_]+)";
    } else {
      try {
        l.plugin = load(stem);
      } catch (const plugin_error& e) {
        l.error = e.what();
      }
    }
    // load() already refuses a name that differs from the file's, so in one directory this
    // cannot fire today; it keeps the promise should that rule ever be relaxed.
    if (l.plugin) {
      auto [at, fresh] = seen.emplace(l.plugin->name(), f);
      if (!fresh) {
        l.error = (dir_ / f).string() + ": duplicate plugin name '" + l.plugin->name() +
                  "' (also in " + at->second + ")";
        l.plugin = nullptr;
      }
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::filesystem::path default_plugins_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // The build tree (<build>/bin/isitup-agent, <build>/plugins), then the install tree
    // relative to the binary (so a package installed under any prefix finds its plugins).
    for (const char* rel : {"plugins", ISITUP_INSTALL_PLUGIN_SUBDIR}) {
      fs::path candidate = (exe.parent_path() / ".." / rel).lexically_normal();
      for (fs::directory_iterator it(candidate, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".so" && it->is_regular_file(ec)) return candidate;
    }
  }
  return ISITUP_INSTALLED_PLUGIN_DIR;
}

}  // namespace isitup
