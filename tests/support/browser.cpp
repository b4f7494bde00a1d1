#include "browser.hpp"

#include <chrono>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "process.hpp"

namespace isitup::test {

std::string browser_path() {
  std::string path = ISITUP_CHROMIUM;
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

std::vector<std::string> screenshot_problems(const std::string& prefix, const std::string& url) {
  struct size_case {
    const char* name;
    uint32_t width, height;
  };
  const std::filesystem::path dir = std::filesystem::path(ISITUP_BINARY_DIR) / "status-page";
  std::filesystem::create_directories(dir);
  std::vector<std::string> problems;
  for (const size_case& c : {size_case{"desktop", 1280, 800}, size_case{"phone", 390, 844}}) {
    const std::string png = (dir / (prefix + "-" + c.name + ".png")).string();
    std::filesystem::remove(png);
    const browser_run shot =
        browse({"--screenshot=" + png,
                "--window-size=" + std::to_string(c.width) + "," + std::to_string(c.height)},
               url);
    if (shot.code != 0)
      problems.push_back(png + ": the browser exited with " + std::to_string(shot.code));
    if (!shot.console.empty()) problems.push_back(png + ": console: " + shot.console);
    const png_size size = read_png_size(png);
    if (size.width != c.width || size.height != c.height)
      problems.push_back(png + ": " + std::to_string(size.width) + "x" +
                         std::to_string(size.height) + ", expected " + std::to_string(c.width) +
                         "x" + std::to_string(c.height));
  }
  return problems;
}

}  // namespace isitup::test
