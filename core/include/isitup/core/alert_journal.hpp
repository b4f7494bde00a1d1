// The alert journal under agent.state_dir: an append-only file that makes state and events
// survive a restart (a transactional outbox on a file). Every transition is one line holding
// the check's state after it, the event and the sinks that must get it, written and fsync'd
// before the event is handed to any sink; each delivery appends a mark (not fsync'd: a lost
// mark only means the event is sent again, with the same id). On open the journal is read,
// a torn last line is ignored, and it is rewritten with only what is live (every check's state
// and the events some sink has not had yet); the owner compacts it again when it grows.
//
// Files: <dir>/alerts.journal, and <dir>/alerts.lock, held (flock) while the journal is open
// so that two agents cannot share a state_dir. Not thread-safe: the owner serialises calls.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <isitup/core/alert_event.hpp>
#include <isitup/core/alert_state.hpp>

namespace isitup::alert {

class journal {
 public:
  struct pending {
    event ev;
    std::vector<std::string> sinks;  // the sinks that have not had it yet
  };
  struct contents {
    std::map<std::string, check_state, std::less<>> states;
    std::vector<pending> undelivered;  // in the order they were decided
    std::size_t skipped_lines = 0;     // lines open() could not read (a torn last line: 1)
  };

  // Opens (creating the directory and files) and reads the journal into `restored`, then
  // compacts it. Throws std::runtime_error naming the path on any I/O failure or when another
  // process holds the lock.
  static std::unique_ptr<journal> open(const std::string& dir, contents& restored);
  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  // Appends a transition and fsyncs. Throws std::runtime_error on a write failure.
  void append_event(const check_state& state, const event& e,
                    const std::vector<std::string>& sinks);
  // Appends a delivery mark (no fsync).
  void append_delivered(std::string_view event_id, std::string_view sink);
  // Rewrites the journal with only `live` (atomically: a new file renamed over the old one).
  void compact(const contents& live);
  // Bytes in the journal now; the owner compacts past compact_threshold().
  uint64_t size() const { return size_; }
  static constexpr uint64_t compact_threshold() { return 4u << 20; }
  const std::string& path() const { return path_; }

 private:
  journal(std::string dir, int lock_fd);
  void write_line(const std::string& line, bool sync);

  std::string dir_, path_;
  int lock_fd_ = -1;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace isitup::alert
