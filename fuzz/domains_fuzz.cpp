// Fuzz target: the domains file reader (core/config_domains.cpp) and the domain rules, on any
// bytes as the file's content, through the loader as `domains_file:` reads it. The input is
// written to a private temporary file. Promises checked: bad input is a config_error naming a
// place, never another exception; every entry read becomes an http:// or https:// target, at
// most one check per line.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <isitup/core/config.hpp>
#include "fuzz_check.hpp"

namespace {

using isitup::fuzz::require;
namespace config = isitup::config;

// A file of this process's own, removed at exit.
const std::string& domains_path() {
  static const std::string path = [] {
    const auto p = std::filesystem::temp_directory_path() /
                   ("isitup-fuzz-domains-" + std::to_string(getpid()) + ".txt");
    std::atexit([] { std::remove(domains_path().c_str()); });
    return p.string();
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = domains_path();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  require(f != nullptr, "the temporary domains file can be written");
  require((size == 0 || std::fwrite(data, 1, size, f) == size) && std::fclose(f) == 0,
          "the temporary domains file is written");
  const std::string text = "agent: {id: fuzz}\ndomains_file: '" + path + "'\n";
  config::agent a;
  try {
    a = config::load_string(text, "fuzz.yml");
  } catch (const config::config_error& e) {
    require(!e.message().empty() && !e.where().file.empty(),
            "a domains file error names its file and says what is wrong");
    return 0;
  }
  const auto lines = static_cast<size_t>(std::count(
      reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size, '\n'));
  require(a.checks.size() <= lines + 1, "at most one check per line");
  for (const auto& c : a.checks) {
    std::string scheme = c.target.substr(0, c.target.find("://") + 3);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    require(scheme == "http://" || scheme == "https://",
            "a domain becomes an http:// or https:// target");
    require(c.where.file == path && c.where.line >= 1 && c.where.column >= 1,
            "a domain's check points at its line");
  }
  return 0;
}
