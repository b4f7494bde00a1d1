// Test helper: runs a program as a child process with its output captured to files.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace isitup::test {

// A fresh directory under the system temp dir, removed on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Writes `text` to path()/name and returns the full path.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& p);

class child_process {
 public:
  // Starts argv[0] with the given arguments; stdout and stderr go to files in a temp dir.
  // `env` entries ("NAME=value") are added to the environment.
  explicit child_process(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {});
  ~child_process();  // kills the child if it still runs
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for the child to exit; returns its exit code (128+signal when killed by one), or -1
  // after killing it when the timeout passed first.
  int wait(std::chrono::milliseconds timeout);
  bool running();
  std::string out() const;
  std::string err() const;

 private:
  temp_dir dir_;
  pid_t pid_ = -1;
  int status_ = -1;
  bool exited_ = false;
};

// Runs a program to completion (at most `timeout`), returning its exit code.
struct run_result {
  int code;
  std::string out, err;
};
run_result run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
               const std::vector<std::string>& env = {});

}  // namespace isitup::test
