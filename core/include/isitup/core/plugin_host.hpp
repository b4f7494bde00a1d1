// Finds, checks and loads plugin shared objects (Boost.DLL) from one directory.
// Every refusal is a plugin_error whose what() is one line starting with the file's path
// ("/p/x.so: built for plugin ABI 2, this agent supports up to 1"); only the refusal of a name
// that is not bare names no file. Main thread only.
//
// Older and newer structs: the host reads each struct only within its struct_size and copies
// it into a zero-filled struct of its own size, so a field the plugin's header lacked reads
// as 0/NULL. A struct must still reach its last required field (the descriptor through
// `kinds`; an ops table through `destroy`). A sink table of the first release ends before
// sink_flags and write_events: it loads as a sink that takes no events; a descriptor that ends
// before `catalog` provides no catalog; a sink table that ends before read_history answers no
// history. The option array is
// laid out with the plugin's sizeof, so the first element's struct_size is the stride and every
// element must agree.
#pragma once

#include <isitup/plugin.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <isitup/core/options.hpp>

namespace isitup {

class plugin_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A loaded plugin. Keeps the shared object mapped for as long as it lives: hold the
// shared_ptr while anything the plugin made is in use.
class loaded_plugin {
 public:
  ~loaded_plugin();
  const std::string& name() const { return name_; }
  const std::filesystem::path& path() const { return path_; }
  uint32_t abi_version() const { return abi_version_; }
  uint32_t kinds() const { return kinds_; }
  const std::string& version() const { return version_; }
  const std::string& description() const { return description_; }

  // The plugin's tables copied into full-size, zero-filled structs: a field beyond the
  // plugin's struct_size reads as 0/NULL. nullptr when the plugin lacks that kind. Every
  // required function is non-NULL. Their `options` still point into the plugin with the
  // plugin's stride: read the schemas below instead.
  const isitup_check_ops_v1* check_ops() const;
  const isitup_sink_ops_v1* sink_ops() const;
  const isitup_source_ops_v1* source_ops() const;
  const isitup_catalog_ops_v1* catalog_ops() const;
  // A sink that takes state transitions (write_events within its struct_size and non-NULL).
  bool takes_events() const { return sink_ops() && sink_ops()->write_events; }
  // A sink that receives only the events of checks naming it, and no results.
  bool is_notifier() const { return sink_ops() && (sink_ops()->sink_flags & ISITUP_SINK_NOTIFIER); }

  // A sink that persists alert state with its rows (ISITUP_SINK_ALERT_STATE; the host checked
  // that write_with_state, load_state and events_delivered are there).
  bool keeps_alert_state() const {
    return sink_ops() && (sink_ops()->sink_flags & ISITUP_SINK_ALERT_STATE);
  }

  // A sink that answers read_history (ISITUP_SINK_HISTORY, within its struct_size; the host
  // checked that read_history is there).
  bool answers_history() const {
    return sink_ops() && (sink_ops()->sink_flags & ISITUP_SINK_HISTORY);
  }

  // Declared options as schemas (empty for a kind the plugin lacks). A required option has no
  // default_yaml (the ABI says its default is ignored).
  const std::vector<option_schema>& check_schema() const { return check_schema_; }
  const std::vector<option_schema>& sink_schema() const { return sink_schema_; }
  const std::vector<option_schema>& source_schema() const { return source_schema_; }
  const std::vector<option_schema>& catalog_schema() const { return catalog_schema_; }

 private:
  friend class plugin_host;
  loaded_plugin() = default;
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string name_, version_, description_;
  std::filesystem::path path_;
  uint32_t abi_version_ = 0;
  uint32_t kinds_ = 0;
  std::vector<option_schema> check_schema_, sink_schema_, source_schema_, catalog_schema_;
};

// "check", "sink", "source", "catalog" joined with "," in that order ("check,sink"); "" for 0.
std::string kinds_to_string(uint32_t kinds);

class plugin_host {
 public:
  explicit plugin_host(std::filesystem::path dir);
  const std::filesystem::path& dir() const { return dir_; }

  // Loads <dir>/<name>.so (once; later calls return the same object). Refuses a name that is
  // not a bare [a-z0-9_]+ name, a missing file (listing what is available), a file that is not
  // a shared object, one without the entry symbol, an unsupported ABI version, a descriptor
  // that is malformed or whose name differs from the file's, a plugin file or directory
  // writable by group/others, a symlink pointing outside the directory, a descriptor whose
  // tables lack a required function, an option without a name, of an unknown type or declared
  // twice. Throws plugin_error; a refused name is tried again on the next call.
  // The file and directory checks run before dlopen, which runs the object's initialisers.
  std::shared_ptr<loaded_plugin> load(std::string_view name);

  struct listing {
    std::string file;                       // file name in dir
    std::shared_ptr<loaded_plugin> plugin;  // null when refused
    std::string error;                      // why it was refused
  };
  // Every *.so in the directory, sorted by file name, loaded or refused (for --list-plugins).
  // Two files declaring the same plugin name: the second is refused as a duplicate (load()
  // refuses a name that differs from the file's first, so within one directory a copy under
  // another file name reports that mismatch). Throws plugin_error when the directory cannot
  // be read.
  std::vector<listing> list();

 private:
  std::filesystem::path dir_;
  std::vector<std::shared_ptr<loaded_plugin>> loaded_;
};

// Where the agent looks without --plugins-dir: <exe dir>/../plugins when that holds plugins
// (the build tree), else <exe dir>/../<libdir>/isitup/plugins (an install under any prefix),
// else the configured installed plugin directory.
std::filesystem::path default_plugins_dir();

}  // namespace isitup
