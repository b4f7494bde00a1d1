// The markup is terse on purpose (styles by element and short class names, unquoted attribute
// values where HTML allows, merged bar segments, relative path commands with integer
// coordinates): 1,000 checks with 90 days of history and a 24 h plot each must stay under
// 500 KB of HTML (status_page_test; render time in bench/status_page).
#include <isitup/core/status_page.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <unordered_map>

#include <isitup/core/status_page_text.hpp>
#include "status_plot.hpp"

namespace isitup {

namespace {

namespace st = status_text;

constexpr std::size_t max_name = 200, max_group = 100, max_target = 300, max_message = 300,
                      max_title = 200, max_locations = 10, max_note = 400;
constexpr std::size_t max_incidents_shown = 50;
constexpr std::size_t max_runs_listed = 20;  // in a dense bar's tooltip
constexpr int64_t dense_plot_bucket_ms = int64_t{3} * 3'600'000;
// Above this many checks the page is dense: cards without plugin/interval line, one SVG with
// the bar and the plot, the bar drawn as the colour most days have with runs of the other
// colours on top and every figure in one tooltip, the latency plot at 3 h instead of 30 min.
constexpr std::size_t dense_above = 100;
constexpr int64_t day_ms = 86'400'000;

constexpr std::string_view css =
    ":root{color-scheme:light dark;--ok:#1a7f37;--ok2:#7bc96f;--warn:#d4a72c;--bad:#cf222e;"
    "--none:#8c959f;--fg:#1f2328;--mut:#59636e;--bg:#fff;--card:#f6f8fa;--line:#d0d7de;"
    "--p50:#0969da;--p95:#bc4c00}"
    "@media(prefers-color-scheme:dark){:root{--fg:#e6edf3;--mut:#9198a1;--bg:#0d1117;"
    "--card:#161b22;--line:#30363d;--p50:#58a6ff;--p95:#f0883e}}"
    "*{box-sizing:border-box}"
    "body{margin:0 auto;max-width:980px;padding:12px;font:15px/1.45 system-ui,sans-serif;"
    "color:var(--fg);background:var(--bg)}"
    "h1{font-size:1.35em;margin:4px 0 10px}h2{font-size:1.1em;margin:22px 0 8px}"
    "h3{font-size:1em;margin:0}"
    ".ov{padding:12px 16px;border-radius:8px;color:#fff;font-weight:600;font-size:1.1em}"
    ".up{--st:var(--ok)}.down{--st:var(--bad)}.unknown{--st:var(--none)}"
    ".ov,h3 b{background:var(--st)}"
    "article{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--st);"
    "border-radius:8px;padding:10px 12px;margin:8px 0}"
    "h3{display:flex;flex-wrap:wrap;gap:4px 12px;align-items:center;"
    "justify-content:space-between;margin:0}"
    "h3,.e,li{overflow-wrap:anywhere}"
    "h3 b{padding:1px 9px;border-radius:10px;color:#fff;font-size:.85em}"
    ".m{color:var(--mut);font-size:.85em;overflow-wrap:anywhere}"
    ".e{color:var(--bad);font-size:.9em}"
    ".u,.d{display:flex;flex-wrap:wrap;gap:2px 16px;font-size:.9em;margin:4px 0}"
    "svg{display:block;width:100%}"
    ".b{height:26px;margin:6px 0 2px}.d+svg{height:64px;margin-top:6px;"
    "background:linear-gradient(var(--ok),var(--ok)) 0 0/100% 11.4px no-repeat}rect{height:10px}"
    ".g{fill:var(--ok)}.l{fill:var(--ok2)}.y{fill:var(--warn)}.r{fill:var(--bad)}"
    "rect.n{fill:var(--none);opacity:.4}.d+svg rect.n{opacity:1;fill:var(--line)}"
    "rect:not([width]){width:.8px}"
    ".d b:nth-child(1):before{content:'24 h '}.d b:nth-child(2):before{content:'7 d '}"
    ".d b:nth-child(3):before{content:'30 d '}.d b:nth-child(4):before{content:'90 d '}"
    ".d b:before{font-weight:400}"
    ".t{height:44px;margin-top:6px;border-bottom:1px solid var(--line)}"
    "svg path{fill:none;stroke-width:1.5;stroke-linejoin:round;stroke-linecap:round;"
    "vector-effect:non-scaling-stroke}"
    ".a,.k50,.d+svg path+path{stroke:var(--p50);color:var(--p50)}"
    ".z,.k95,.d+svg path{stroke:var(--p95);color:var(--p95)}"
    "ul.i{padding-left:18px;margin:0}li{margin:4px 0}"
    "footer{margin:24px 0 8px}";

const char* state_word(status_state s) {
  switch (s) {
    case status_state::up:
      return "up";
    case status_state::down:
      return "down";
    default:
      return "unknown";
  }
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string with_thousands(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

class page_writer {
 public:
  explicit page_writer(const status_view& v) : v_(v), dense_(v.checks.size() > dense_above) {
    for (const incident_view& i : v.incidents)
      if (i.resolved_at_ms == 0) {
        const incident_view*& slot = open_by_check_[i.check];
        if (!slot || slot->opened_at_ms < i.opened_at_ms) slot = &i;
      }
  }

  std::string render() {
    out_.reserve(4096 + v_.checks.size() * 900 + v_.incidents.size() * 300);
    out_ +=
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content=\"width=device-width,initial-scale=1\">";
    if (v_.refresh_seconds > 0)
      out_ += "<meta http-equiv=refresh content=" + std::to_string(v_.refresh_seconds) + ">";
    out_ += "<title>";
    const std::string title = v_.title.empty() ? "isitup status" : v_.title;
    text(title, max_title);
    out_ += "</title><style>";
    out_ += css;
    out_ += "</style></head><body><header><h1>";
    text(title, max_title);
    out_ += "</h1>";
    overall();
    out_ += "</header>";
    incidents();
    checks();
    footer();
    out_ += "</body></html>\n";
    return std::move(out_);
  }

 private:
  void text(std::string_view s, std::size_t max) { append_html_escaped(out_, s, max); }

  void overall() {
    std::size_t up = 0, down = 0;
    for (const check_view& c : v_.checks) {
      up += c.state == status_state::up;
      down += c.state == status_state::down;
    }
    const std::size_t n = v_.checks.size();
    const std::string count = with_thousands(n);
    if (n == 0) {
      out_ += "<div class=\"ov unknown\" id=overall>No checks</div>";
    } else if (down > 0) {
      out_ += "<div class=\"ov down\" id=overall>" + with_thousands(down) + " of " + count +
              (n == 1 ? " check" : " checks") + " down</div>";
    } else if (n > 0 && up == n) {
      out_ += "<div class=\"ov up\" id=overall>" +
              (n == 1 ? std::string("The check is up") : "All " + count + " checks up") + "</div>";
    } else {
      out_ += "<div class=\"ov unknown\" id=overall>" + with_thousands(up) + " of " + count +
              (n == 1 ? " check" : " checks") + " up, the others have no result yet</div>";
    }
  }

  void incident_line(const incident_view& i) {
    const bool open = i.resolved_at_ms == 0;
    out_ += open ? "<li class=down><b>" : "<li><b>";
    text(i.check, max_name);
    out_ += "</b> ";
    if (open)
      out_ += "down for " + st::duration(v_.generated_at_ms - i.opened_at_ms) + ", since " +
              st::utc(i.opened_at_ms);
    else
      out_ += "was down " + st::duration(i.resolved_at_ms - i.opened_at_ms) + ", from " +
              st::utc(i.opened_at_ms) + " to " + st::utc(i.resolved_at_ms);
    cause(i.error_kind, i.error_message);
    if (!i.locations.empty()) {
      out_ += " <span class=m>(at ";
      for (std::size_t k = 0; k < i.locations.size() && k < max_locations; ++k) {
        if (k > 0) out_ += ", ";
        text(i.locations[k], max_name);
      }
      if (i.locations.size() > max_locations) out_ += ", \xe2\x80\xa6";
      out_ += ")</span>";
    }
    out_ += "</li>";
  }

  void cause(std::string_view kind, std::string_view message) {
    if (kind.empty() && message.empty()) return;
    out_ += ": <span class=e>";
    text(kind.empty() ? "error" : kind, max_name);
    if (!message.empty()) {
      out_ += " \xe2\x80\x94 ";
      text(message, max_message);
    }
    out_ += "</span>";
  }

  // Open incidents first (newest first), then resolved ones (last resolved first).
  void incidents() {
    std::vector<const incident_view*> list;
    for (const incident_view& i : v_.incidents) list.push_back(&i);
    std::stable_sort(list.begin(), list.end(), [](const incident_view* a, const incident_view* b) {
      const bool ao = a->resolved_at_ms == 0, bo = b->resolved_at_ms == 0;
      if (ao != bo) return ao;
      if (ao) return a->opened_at_ms > b->opened_at_ms;
      return a->resolved_at_ms > b->resolved_at_ms;
    });
    out_ += "<section id=incidents><h2>Incidents</h2>";
    if (list.empty()) {
      out_ += "<p class=m>No open or recent incidents.</p></section>";
      return;
    }
    out_ += "<ul class=i>";
    for (std::size_t k = 0; k < list.size() && k < max_incidents_shown; ++k)
      incident_line(*list[k]);
    out_ += "</ul>";
    if (list.size() > max_incidents_shown)
      out_ += "<p class=m>and " + with_thousands(list.size() - max_incidents_shown) + " more</p>";
    out_ += "</section>";
  }

  // Groups in order of first appearance, checks without a group last. Linear in the checks
  // (a config may give every check its own group).
  void checks() {
    std::vector<std::vector<const check_view*>> groups;
    std::unordered_map<std::string_view, std::size_t> group_index;
    std::vector<const check_view*> ungrouped;
    for (const check_view& c : v_.checks) {
      if (c.group.empty()) {
        ungrouped.push_back(&c);
        continue;
      }
      const auto [it, added] = group_index.try_emplace(c.group, groups.size());
      if (added) groups.emplace_back();
      groups[it->second].push_back(&c);
    }
    for (const auto& g : groups) group(g.front()->group, g);
    if (!ungrouped.empty() || v_.checks.empty())
      group(groups.empty() ? "Checks" : "Other checks", ungrouped);
  }

  void group(std::string_view heading, const std::vector<const check_view*>& members) {
    std::size_t up = 0;
    for (const check_view* c : members) up += c->state == status_state::up;
    out_ += "<section class=grp><h2>";
    text(heading, max_group);
    out_ += " <span class=m>" + with_thousands(up) + " of " + with_thousands(members.size()) +
            " up</span></h2>";
    for (const check_view* c : members) check(*c);
    out_ += "</section>";
  }

  void check(const check_view& c) {
    const char* state = state_word(c.state);
    out_ += "<article class=";
    out_ += state;
    out_ += "><h3>";
    text(c.name, max_name);
    out_ += "<b>";
    out_ += state;
    out_ += "</b></h3>";
    if (dense_) {
      problem(c);
      uptime(c.uptime);
      dense_plots(c);
      out_ += "</article>";
      return;
    }
    // plugin · target · every 30 s · up for 2 h; nothing when none is known (a check only a
    // sink's history knows).
    const std::size_t line_at = out_.size();
    out_ += "<div class=m>";
    const std::size_t empty_size = out_.size();
    const auto part = [&] {
      if (out_.size() > empty_size) out_ += " \xc2\xb7 ";
    };
    text(c.plugin, max_name);
    if (!c.target.empty()) {
      part();
      text(c.target, max_target);
    }
    if (c.interval_ms > 0) {
      part();
      out_ += "every " + st::interval(c.interval_ms);
    }
    if (c.state != status_state::unknown && c.state_since_ms > 0) {
      part();
      out_ += std::string(state) + " for " + st::duration(v_.generated_at_ms - c.state_since_ms);
    }
    if (out_.size() == empty_size)
      out_.resize(line_at);
    else
      out_ += "</div>";
    problem(c);
    uptime(c.uptime);
    if (!c.segments.empty()) {
      const int64_t span = c.segments.front().end_ms - c.segments.front().start_ms;
      out_ += "<svg class=b viewBox=\"0 0 " + std::to_string(c.segments.size()) +
              " 10\" preserveAspectRatio=none role=img aria-label=\"Uptime per " +
              (span >= day_ms ? std::string("day") : st::duration(span)) + ", oldest first\">";
      bar(c.segments);
      out_ += "</svg>";
    }
    latency(c.latency);
    out_ += "</article>";
  }

  // A dense page draws the bar and the plot in one SVG: the bar on top (y 0 to 10), the plot
  // below (y 14 to 54), both stretched to the card's width. Its one tooltip has every figure:
  // the runs of days not in the bar's main colour ("09-25 99.86%"), then the plot's last p50
  // and p95.
  void dense_plots(const check_view& c) {
    const std::size_t width = c.segments.empty() ? 90 : c.segments.size();
    out_ += "<svg viewBox=\"0 0 " + std::to_string(width) + " 56\" preserveAspectRatio=none>";
    const std::vector<latency_point> points =
        status_plot::last_day(c.latency, v_.generated_at_ms, dense_plot_bucket_ms);
    std::string title, rects;
    dense_bar(c.segments, width, title, rects);
    if (!points.empty())
      title += (title.empty() ? "p50 " : "; p50 ") + st::millis(points.back().p50_ms) + ", p95 " +
               st::millis(points.back().p95_ms);
    if (!title.empty()) out_ += "<title>" + title + "</title>";
    out_ += rects;
    if (!points.empty()) {
      double top = 0;
      for (const latency_point& p : points) top = std::max({top, p.p50_ms, p.p95_ms});
      for (double latency_point::*line : {&latency_point::p95_ms, &latency_point::p50_ms})
        out_ += "<path d=\"" +
                status_plot::path(points, line, v_.generated_at_ms, static_cast<int>(width), 14, 40,
                                  top, 2 * dense_plot_bucket_ms) +
                "\"/>";
    }
    out_ += "</svg>";
  }

  // The bar of a dense page: the colour most segments have, then one rect per run of
  // segments of another colour; `title` gets those runs and what the main colour means.
  static void dense_bar(const std::vector<status_segment>& segs, std::size_t width,
                        std::string& title, std::string& rects) {
    if (segs.empty()) {
      rects = "<rect width=" + std::to_string(width) + " class=n />";
      return;
    }
    std::size_t per_class[5] = {};
    static constexpr std::string_view classes = "gnlyr";
    for (const status_segment& s : segs) ++per_class[classes.find(segment_class(s))];
    const char main =
        classes[static_cast<std::size_t>(std::max_element(per_class, per_class + 5) - per_class)];
    const bool days = segs.front().end_ms - segs.front().start_ms >= day_ms;
    // The style sheet paints the bar green (the SVG's background): a main colour of 'g' needs
    // no rect.
    if (main != 'g') rects = "<rect width=" + std::to_string(width) + " class=" + main + " />";
    std::size_t listed = 0, more = 0;
    for (std::size_t i = 0; i < segs.size();) {
      const char cls = segment_class(segs[i]);
      std::size_t j = i + 1;
      uint64_t total = segs[i].total, up = std::min(segs[i].up, segs[i].total);
      for (; j < segs.size() && segment_class(segs[j]) == cls; ++j) {
        total += segs[j].total;
        up += std::min(segs[j].up, segs[j].total);
      }
      if (cls != main) {
        rects += "<rect x=" + std::to_string(i);
        if (j - i > 1) rects += " width=" + number(static_cast<double>(j - i) - .2);
        rects += " class=";
        rects += cls;
        rects += " />";
        if (listed == max_runs_listed) {
          ++more;
        } else {
          if (listed++ > 0) title += ", ";
          title += short_time(segs[i].start_ms, days);
          if (j - i > 1) title += "\u2013" + short_time(segs[j - 1].end_ms - 1, days);
          title += ' ';
          title +=
              total == 0 ? std::string("no data") : st::percent(static_cast<double>(up) / total);
        }
      }
      i = j;
    }
    if (more > 0) title += " and " + std::to_string(more) + " more";
    title += listed > 0 ? ", else " : "";
    title += class_label(main);
  }

  // What a bar colour means, for the dense bar's tooltip ("\u2265" is the sign >=, "\u2013" a
  // dash).
  static const char* class_label(char cls) {
    switch (cls) {
      case 'g':
        return "\u2265"
               "99.9%";
      case 'l':
        return "99\u2013"
               "99.9%";
      case 'y':
        return "95\u2013"
               "99%";
      case 'r':
        return "under 95%";
      default:
        return "no data";
    }
  }

  // "09-25" for a day, "21:30" for a time (UTC).
  static std::string short_time(int64_t ms, bool day) {
    const std::string t = st::utc(ms);  // "2026-12-02 21:40 UTC"
    return day ? t.substr(5, 5) : t.substr(11, 5);
  }

  // Why a check is down: its open incident, else its last result's error.
  void problem(const check_view& c) {
    if (c.state != status_state::down) return;
    const auto it = open_by_check_.find(c.name);
    out_ += "<div class=e>";
    if (it != open_by_check_.end()) {
      out_ += "Incident open since " + st::utc(it->second->opened_at_ms);
      cause(it->second->error_kind, it->second->error_message);
    } else if (c.last) {
      out_ += "Last result " + st::utc(c.last->at_ms);
      cause(c.last->error_kind, c.last->error_message);
    } else {
      out_ += "Down";
    }
    out_ += "</div>";
  }

  // A dense page leaves the window names to the style sheet.
  void uptime(const uptime_windows& u) {
    out_ += dense_ ? "<div class=d>" : "<div class=u>";
    const std::pair<const char*, const std::optional<double>*> windows[] = {
        {"24 h", &u.h24}, {"7 d", &u.d7}, {"30 d", &u.d30}, {"90 d", &u.d90}};
    for (const auto& [label, value] : windows) {
      if (!dense_) {
        out_ += "<span>";
        out_ += label;
        out_ += ' ';
      }
      out_ += "<b>";
      out_ += *value ? st::percent(**value) : "\xe2\x80\x94";
      out_ += dense_ ? "</b>" : "</b></span>";
    }
    out_ += "</div>";
  }

  static char segment_class(const status_segment& s) {
    if (s.total == 0) return 'n';
    const double f = static_cast<double>(std::min(s.up, s.total)) / s.total;
    return f >= 0.999 ? 'g' : f >= 0.99 ? 'l' : f >= 0.95 ? 'y' : 'r';
  }

  // Adjacent segments merge when all of them are fully up or all have no data.
  static bool mergeable(const status_segment& a, const status_segment& b) {
    return (a.total == 0 && b.total == 0) ||
           (a.total > 0 && b.total > 0 && a.up >= a.total && b.up >= b.total);
  }

  // A run of segments [first, last] as dates (day segments) or times: "from" or "from – to".
  static std::string segment_time(const status_segment& first, const status_segment& last) {
    const bool days = first.end_ms - first.start_ms >= day_ms;
    std::string from = st::utc(first.start_ms, !days);
    if (&first == &last) return from;
    return from + " \xe2\x80\x93 " + st::utc(last.end_ms - 1, !days);
  }

  // The bar's rects (the caller opens the SVG): one per segment or run of merged segments.
  void bar(const std::vector<status_segment>& segs) {
    for (std::size_t i = 0; i < segs.size();) {
      std::size_t j = i + 1;
      uint64_t total = segs[i].total, up = std::min(segs[i].up, segs[i].total);
      while (j < segs.size() && mergeable(segs[i], segs[j])) {
        total += segs[j].total;
        up += std::min(segs[j].up, segs[j].total);
        ++j;
      }
      out_ += "<rect x=" + std::to_string(i) + " width=" + number(static_cast<double>(j - i) - .2) +
              " class=";
      out_ += segment_class(segs[i]);
      out_ += "><title>" + segment_time(segs[i], segs[j - 1]) + ": ";
      if (total == 0)
        out_ += "no data";
      else
        out_ += st::percent(static_cast<double>(up) / total) + " up";
      if (total > 0) out_ += " (" + with_thousands(up) + " of " + with_thousands(total) + ")";
      out_ += "</title></rect>";
      i = j;
    }
  }

  void latency(const std::vector<latency_point>& points);

  void footer() {
    out_ += "<footer class=m>Generated " + st::utc(v_.generated_at_ms);
    if (!v_.agent.empty()) {
      out_ += " by agent ";
      text(v_.agent, max_name);
    }
    if (!v_.location.empty()) {
      out_ += " at ";
      text(v_.location, max_name);
    }
    out_ += ". Times in UTC.";
    if (!v_.history_note.empty()) {
      out_ += ' ';
      text(v_.history_note, max_note);
    }
    out_ += "</footer>";
  }

  const status_view& v_;
  const bool dense_;
  std::string out_;
  std::unordered_map<std::string_view, const incident_view*> open_by_check_;
};

// The last 24 h at the points' own resolution, x in 15 min steps, y from 0 to the highest
// value; a new line after a gap of more than an hour.
void page_writer::latency(const std::vector<latency_point>& points) {
  const std::vector<latency_point> shown = status_plot::last_day(points, v_.generated_at_ms, 0);
  if (shown.empty()) {
    out_ += "<div class=m>No response times in the last 24 h.</div>";
    return;
  }
  double top = 0;
  for (const latency_point& p : shown) top = std::max({top, p.p50_ms, p.p95_ms});
  const auto line = [&](double latency_point::*field) {
    return status_plot::path(shown, field, v_.generated_at_ms, 96, 0, 40, top, 3'600'000);
  };
  const latency_point& last = shown.back();
  out_ +=
      "<svg class=t viewBox=\"0 0 96 40\" preserveAspectRatio=none role=img "
      "aria-label=\"Total time, last 24 h\"><title>Total time over the last 24 h, 0 to " +
      st::millis(top) + "</title><path class=z d=\"" + line(&latency_point::p95_ms) +
      "\"/><path class=a d=\"" + line(&latency_point::p50_ms) +
      "\"/></svg><div class=m>Total time: <span class=k50>p50</span> " + st::millis(last.p50_ms) +
      ", <span class=k95>p95</span> " + st::millis(last.p95_ms) + " (from " + st::utc(last.at_ms) +
      ")" + "; highest " + st::millis(top) + " in 24 h</div>";
}

}  // namespace

std::string render_status_page(const status_view& view) { return page_writer(view).render(); }

}  // namespace isitup
