#include <isitup/core/alert_journal.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <isitup/util/error_text.hpp>

#include <rapidjson/document.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace isitup::alert {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void io_error(const std::string& what, const std::string& path, int err) {
  throw std::runtime_error(what + " " + path + ": " + sdk::error_text(err));
}

void write_all(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_error("cannot write", path, errno);
    done += static_cast<size_t>(n);
  }
}

std::string json_string(std::string_view s) {
  // A JSON string for the names and ids in the journal's own lines.
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string event_line(const check_state& state, const event& e,
                       const std::vector<std::string>& sinks) {
  std::string line = "{\"k\":\"e\",\"state\":" + encode_state(state) +
                     ",\"ev\":" + encode_event(e) + ",\"sinks\":[";
  for (size_t i = 0; i < sinks.size(); ++i)
    line += std::string(i ? "," : "") + json_string(sinks[i]);
  return line + "]}\n";
}

std::string state_line(std::string_view check, const check_state& state) {
  return "{\"k\":\"s\",\"check\":" + json_string(check) + ",\"state\":" + encode_state(state) +
         "}\n";
}

// Replays the journal's lines into `out`. A line that does not parse is skipped (a torn
// last line after a crash); the count of skipped lines is returned.
size_t replay(const std::string& path, journal::contents& out) {
  std::ifstream in(path, std::ios::binary);
  std::map<std::string, size_t> index;  // event id -> position in out.undelivered
  std::string line;
  size_t skipped = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    const auto k = d.IsObject() ? d.FindMember("k") : rapidjson::Value::MemberIterator();
    if (!d.IsObject() || k == d.MemberEnd() || !k->value.IsString()) {
      ++skipped;
      continue;
    }
    const std::string kind = k->value.GetString();
    if (kind == "e" || kind == "s") {
      check_state st;
      const auto s = d.FindMember("state");
      if (s == d.MemberEnd() || !decode_state(&s->value, st)) {
        ++skipped;
        continue;
      }
      std::string check;
      if (kind == "s") {
        const auto c = d.FindMember("check");
        if (c == d.MemberEnd() || !c->value.IsString()) {
          ++skipped;
          continue;
        }
        check = c->value.GetString();
      } else {
        journal::pending p;
        const auto ev = d.FindMember("ev");
        const auto sinks = d.FindMember("sinks");
        if (ev == d.MemberEnd() || !decode_event(&ev->value, p.ev) || sinks == d.MemberEnd() ||
            !sinks->value.IsArray()) {
          ++skipped;
          continue;
        }
        for (const auto& n : sinks->value.GetArray())
          if (n.IsString()) p.sinks.emplace_back(n.GetString());
        check = p.ev.check;
        if (!index.count(p.ev.event_id) && !p.sinks.empty()) {
          index[p.ev.event_id] = out.undelivered.size();
          out.undelivered.push_back(std::move(p));
        }
      }
      out.states[check] = std::move(st);
    } else if (kind == "d") {
      const auto id = d.FindMember("id");
      const auto sink = d.FindMember("sink");
      if (id == d.MemberEnd() || !id->value.IsString() || sink == d.MemberEnd() ||
          !sink->value.IsString()) {
        ++skipped;
        continue;
      }
      const auto at = index.find(id->value.GetString());
      if (at == index.end()) continue;
      auto& sinks = out.undelivered[at->second].sinks;
      std::erase(sinks, std::string(sink->value.GetString()));
    } else {
      ++skipped;
    }
  }
  std::erase_if(out.undelivered, [](const journal::pending& p) { return p.sinks.empty(); });
  return skipped;
}

void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) io_error("cannot open", dir, errno);
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::unique_ptr<journal> journal::open(const std::string& dir, contents& restored) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error("cannot create the state directory " + dir + ": " + ec.message());
  const std::string lock_path = dir + "/alerts.lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) io_error("cannot open", lock_path, errno);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd);
    if (err == EWOULDBLOCK)
      throw std::runtime_error("the state directory " + dir + " is in use by another agent (" +
                               lock_path + " is locked)");
    io_error("cannot lock", lock_path, err);
  }
  std::unique_ptr<journal> j(new journal(dir, lock_fd));
  restored = contents{};
  restored.skipped_lines = replay(j->path_, restored);
  j->compact(restored);
  return j;
}

journal::journal(std::string dir, int lock_fd)
    : dir_(std::move(dir)), path_(dir_ + "/alerts.journal"), lock_fd_(lock_fd) {}

journal::~journal() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the lock
}

void journal::write_line(const std::string& line, bool sync) {
  write_all(fd_, line, path_);
  size_ += line.size();
  if (sync && ::fdatasync(fd_) != 0) io_error("cannot sync", path_, errno);
}

void journal::append_event(const check_state& state, const event& e,
                           const std::vector<std::string>& sinks) {
  write_line(event_line(state, e, sinks), true);
}

void journal::append_delivered(std::string_view event_id, std::string_view sink) {
  write_line(
      "{\"k\":\"d\",\"id\":" + json_string(event_id) + ",\"sink\":" + json_string(sink) + "}\n",
      false);
}

void journal::compact(const contents& live) {
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) io_error("cannot create", tmp, errno);
  std::string data;
  for (const pending& p : live.undelivered) {
    const auto st = live.states.find(p.ev.check);
    data += event_line(st == live.states.end() ? check_state{} : st->second, p.ev, p.sinks);
  }
  // State lines after the events: the latest state of each check wins on replay.
  for (const auto& [check, st] : live.states) data += state_line(check, st);
  try {
    write_all(fd, data, tmp);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    io_error("cannot sync", tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) io_error("cannot replace", path_, errno);
  sync_dir(dir_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) io_error("cannot open", path_, errno);
  size_ = data.size();
}

}  // namespace isitup::alert
