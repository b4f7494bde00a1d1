#include "browser.hpp"

#include <chrono>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "process.hpp"

namespace isitup::test {

std::string browser_path() {
  const std::string path = ISITUP_CHROMIUM;
  if (path.empty() || path.find("NOTFOUND") != std::string::npos || !std::filesystem::exists(path))
    throw std::runtime_error(
        "no browser: install chromium-headless-shell (scripts/install-deps.sh does) and "
        "configure the build again");
  return path;
}

browser_run browse(const std::vector<std::string>& args, const std::string& url) {
  std::vector<std::string> argv{browser_path(),
                                "--no-sandbox",
                                "--disable-gpu",
                                "--hide-scrollbars",
                                "--enable-logging=stderr",
                                "--v=0"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  const run_result r = run(argv, std::chrono::seconds(60));
  browser_run b;
  b.code = r.code;
  b.out = r.out;
  std::istringstream err(r.err);
  for (std::string line; std::getline(err, line);)
    if (line.find(":CONSOLE") != std::string::npos) b.console += line + "\n";
  return b;
}

png_size read_png_size(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < 24 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return {};
  const auto be32 = [&](std::size_t at) {
    uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(bytes[at + i]);
    return v;
  };
  return {be32(16), be32(20)};
}

}  // namespace isitup::test
