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

// The options a plugin folder does not document: a line naming what is missing where, empty
// when nothing is.
struct undocumented {
  std::vector<std::string> readme, example;  // no README table row / not set in example*.yml

  std::string text(const std::string& plugin) const {
    std::string out;
    const auto names = [](const std::vector<std::string>& v) {
      std::string joined;
      for (const std::string& n : v) joined += (joined.empty() ? "" : ", ") + n;
      return joined;
    };
    if (!readme.empty()) out += plugin + "/README.md has no table row for: " + names(readme);
    if (!example.empty())
      out += (out.empty() ? "" : "; ") + plugin + "/example*.yml do not set: " + names(example);
    return out;
  }
};

undocumented missing_from(const std::string& readme, const std::string& example,
                          const std::vector<std::string>& options) {
  undocumented u;
  for (const std::string& option : options) {
    if (!readme_lists(readme, option)) u.readme.push_back(option);
    if (!example_sets(example, option)) u.example.push_back(option);
  }
  return u;
}

// Every option the built plugin declares, each kind it provides (check, sink, source, catalog),
// each name once.
std::vector<std::string> declared_options(const std::string& so) {
  void* lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    ADD_FAILURE() << dlerror();  // NOLINT(concurrency-mt-unsafe): glibc keeps it per thread
    return {};
  }
  std::vector<std::string> out;
  auto entry = reinterpret_cast<isitup_plugin_entry_fn>(dlsym(lib, "isitup_plugin_entry"));
  const isitup_plugin_v1* d = entry ? entry() : nullptr;
  if (!d) {
    ADD_FAILURE() << so << " has no plugin descriptor";
    dlclose(lib);
    return {};
  }
  struct kind {
    const isitup_option_v1* options;
    size_t count;
  };
  std::vector<kind> kinds;
  if (d->check) kinds.push_back({d->check->options, d->check->option_count});
  if (d->sink) kinds.push_back({d->sink->options, d->sink->option_count});
  if (d->source) kinds.push_back({d->source->options, d->source->option_count});
  if (d->struct_size > offsetof(isitup_plugin_v1, catalog) && d->catalog)
    kinds.push_back({d->catalog->options, d->catalog->option_count});
  std::set<std::string> seen;
  for (const kind& k : kinds)
    for (size_t i = 0; i < k.count; ++i)
      if (seen.insert(k.options[i].name).second) out.emplace_back(k.options[i].name);
  dlclose(lib);
  return out;
}

TEST(plugin_docs, names_the_plugin_and_each_option_its_docs_miss) {
  const std::string readme =
      "| option | type |\n| --- | --- |\n| `port` | int |\n"
      "Mentions `timeout` in a sentence, not a row.\n";
  const std::string example =
      "checks:\n  - options:\n      port: 80\n"
      "      # ca_file: /etc/ca.pem\n      verify_x: true\n";
  const undocumented u = missing_from(readme, example, {"port", "timeout", "ca_file", "verify"});
  EXPECT_EQ(u.text("demo"),
            "demo/README.md has no table row for: timeout, ca_file, verify; "
            "demo/example*.yml do not set: timeout, verify");
  EXPECT_EQ(missing_from(readme, example, {"port"}).text("demo"), "");
}

TEST(plugin_docs, readme_and_example_list_every_declared_option) {
  size_t declared = 0;
  for (const auto& dir : plugin_folders()) {
    const std::string name = dir.filename().string();
    const std::string so = plugin_dir + "/" + name + ".so";
    ASSERT_TRUE(std::filesystem::exists(so)) << so << " was not built";
    const std::vector<std::string> options = declared_options(so);
    declared += options.size();
    EXPECT_EQ(missing_from(slurp(dir / "README.md"), examples(dir), options).text(name), "");
  }
  EXPECT_GE(declared, 50u) << "the plugins' descriptors were not read";
}

}  // namespace
