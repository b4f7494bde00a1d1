// Every plugin folder documents every option its plugin declares: its README.md has a table
// row naming the option (`| \`name\` |`) and an example*.yml sets it (`name:`), for each kind
// the plugin provides (check, sink, source, catalog). The built plugins are opened with dlopen and
// their descriptors read, so declaration and documentation cannot drift.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <isitup/plugin.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

const std::string plugin_dir = ISITUP_PLUGIN_DIR;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Plugin folders: those whose CMakeLists.txt builds a plugin (plugins/common builds none).
std::vector<std::filesystem::path> plugin_folders() {
  std::vector<std::filesystem::path> out;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(ISITUP_SOURCE_DIR) + "/plugins")) {
    if (!e.is_directory()) continue;
    if (slurp(e.path() / "CMakeLists.txt").find("isitup_add_plugin(") == std::string::npos)
      continue;
    out.push_back(e.path());
  }
  return out;
}

// True when `text` has a line of a Markdown table whose first cell is `name`.
bool readme_lists(const std::string& text, const std::string& name) {
  const std::string cell = "| `" + name + "` |";
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(cell, 0) == 0) return true;
  return false;
}

// True when `text` sets `name` as a YAML key (block or flow style), or shows it set in a
// commented-out line ("# ca_file: /etc/x.pem", for a value that needs a real file).
bool example_sets(const std::string& text, const std::string& name) {
  const std::regex key("(^|[\\s{,])" + name + ":(\\s|$)");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    size_t at = line.find_first_not_of(' ');
    if (at != std::string::npos && line[at] == '#') at = line.find_first_not_of(' ', at + 1);
    if (at == std::string::npos) continue;
    std::string setting = line.substr(at);
    if (const auto comment = setting.find(" #"); comment != std::string::npos)
      setting.resize(comment);
    if (std::regex_search(setting, key)) return true;
  }
  return false;
}

// Every example*.yml of the folder (kafka_sink has one per role), concatenated.
std::string examples(const std::filesystem::path& dir) {
  std::string out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string file = e.path().filename().string();
    if (file.rfind("example", 0) == 0 && e.path().extension() == ".yml") out += slurp(e.path());
  }
  return out;
}

TEST(plugin_docs, every_plugin_folder_has_a_readme_and_an_example) {
  const auto folders = plugin_folders();
  ASSERT_GE(folders.size(), 5u);
  for (const auto& dir : folders) {
    EXPECT_TRUE(std::filesystem::exists(dir / "README.md")) << dir;
    EXPECT_TRUE(std::filesystem::exists(dir / "example.yml")) << dir;
  }
}

TEST(plugin_docs, readme_and_example_list_every_declared_option) {
  for (const auto& dir : plugin_folders()) {
    const std::string name = dir.filename().string();
    const std::string so = plugin_dir + "/" + name + ".so";
    ASSERT_TRUE(std::filesystem::exists(so)) << so << " was not built";
    void* lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(lib, nullptr) << dlerror();
    auto entry = reinterpret_cast<isitup_plugin_entry_fn>(dlsym(lib, "isitup_plugin_entry"));
    ASSERT_NE(entry, nullptr) << so;
    const isitup_plugin_v1* d = entry();
    ASSERT_NE(d, nullptr) << so;
    struct kind {
      const char* what;
      const isitup_option_v1* options;
      size_t count;
    };
    std::vector<kind> kinds;
    if (d->check) kinds.push_back({"check", d->check->options, d->check->option_count});
    if (d->sink) kinds.push_back({"sink", d->sink->options, d->sink->option_count});
    if (d->source) kinds.push_back({"source", d->source->options, d->source->option_count});
    if (d->struct_size > offsetof(isitup_plugin_v1, catalog) && d->catalog)
      kinds.push_back({"catalog", d->catalog->options, d->catalog->option_count});
    const std::string readme = slurp(dir / "README.md");
    const std::string example = examples(dir);
    std::set<std::string> seen;
    for (const kind& k : kinds) {
      for (size_t i = 0; i < k.count; ++i) {
        const std::string option = k.options[i].name;
        if (!seen.insert(option).second) continue;
        EXPECT_TRUE(readme_lists(readme, option)) << name << "/README.md has no table row for its "
                                                  << k.what << " option `" << option << "`";
        EXPECT_TRUE(example_sets(example, option))
            << name << "/example*.yml do not show its " << k.what << " option " << option;
      }
    }
    dlclose(lib);
  }
}

}  // namespace
