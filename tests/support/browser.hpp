// For tests: pages in a real browser, chromium-headless-shell (Debian's package of that name,
// or `chromium`), found when the build is configured. No sandbox and no GPU (tests run as root
// in a container); scrollbars hidden so screenshots have the page's width.
//
// browse({"--dump-dom"}, url)                              // .out = the DOM after loading
// browse({"--screenshot=F", "--window-size=1280,800"}, url)
//
// Every line the browser logs from the page's console (messages, CSP violations, failed loads)
// is collected in .console; a page without script that loads cleanly logs nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace isitup::test {

// The browser's path; throws std::runtime_error naming the package when none was found.
std::string browser_path();

struct browser_run {
  int code = -1;
  std::string out, console;
};
// Runs the browser once on `url` (at most 60 s).
browser_run browse(const std::vector<std::string>& args, const std::string& url);

// Width and height of a PNG file's image; {0, 0} when it is not a PNG.
struct png_size {
  uint32_t width = 0, height = 0;
};
png_size read_png_size(const std::string& path);

// Screenshots of `url` as a desktop (1280x800) and a phone (390x844) show it, written to
// <build>/status-page/<prefix>-desktop.png and <prefix>-phone.png (kept for the READMEs). Returns
// one line per problem (the browser failed, the page logged to the console, the image has another
// size); empty when both are right.
std::vector<std::string> screenshot_problems(const std::string& prefix, const std::string& url);

}  // namespace isitup::test
