// A pool of threads for blocking work (the host's adapter for blocking checks). post() and
// stuck_returned() from any thread; the other members from the thread that owns the pool. stop()
// (or the destructor) runs what is still queued, waits for the threads up to a deadline and leaves
// behind (detaches) those still inside a task: a plugin stuck in a call cannot hold the process
// forever. The pool's state lives as long as its last thread, so a thread left behind never touches
// freed memory.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace isitup {

class worker_pool {
 public:
  explicit worker_pool(int threads) : state_(std::make_shared<state>()) {
    state_->target = threads;
    for (int i = 0; i < threads; ++i) spawn();
  }
  ~worker_pool() { stop(std::chrono::steady_clock::time_point::max()); }
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  void post(std::function<void()> task) {
    {
      std::lock_guard lock(state_->mu);
      state_->tasks.push_back(std::move(task));
    }
    state_->cv.notify_one();
  }

  // A task has been stuck for long: one more thread takes its place, so other tasks still
  // find one. At most `max_extra` such threads at a time; false when that many exist.
  bool replace_stuck(int max_extra) {
    {
      std::lock_guard lock(state_->mu);
      if (state_->extra >= max_extra) return false;
      ++state_->extra;
      ++state_->target;
    }
    spawn();
    return true;
  }
  // A task replace_stuck() was called for came back: one thread too many ends after its task.
  void stuck_returned() {
    std::lock_guard lock(state_->mu);
    --state_->extra;
    --state_->target;
  }

  // Runs the queued tasks (here, if no thread is free to), waits until every thread has
  // ended or `deadline` passes, and returns how many threads were left inside a task. Tasks
  // queued at stop() should be quick (the agent's give up at once).
  int stop(std::chrono::steady_clock::time_point deadline) {
    if (threads_.empty()) return 0;
    state& s = *state_;
    std::unique_lock lock(s.mu);
    s.stopping = true;
    s.cv.notify_all();
    while (!s.tasks.empty() && s.running == s.alive) {
      auto task = std::move(s.tasks.front());
      s.tasks.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
    s.cv.wait_until(lock, deadline, [&] { return s.exited == static_cast<int>(threads_.size()); });
    while (!s.tasks.empty()) {  // every thread still free took its share, the rest is stuck
      auto task = std::move(s.tasks.front());
      s.tasks.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
    const int left = static_cast<int>(threads_.size()) - s.exited;
    lock.unlock();
    for (auto& t : threads_) {
      if (left == 0)
        t.join();
      else
        t.detach();
    }
    threads_.clear();
    return left;
  }

 private:
  struct state {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> tasks;
    bool stopping = false;
    int target = 0;   // threads wanted
    int alive = 0;    // threads started and not ended
    int extra = 0;    // of target: replacements for stuck tasks
    int running = 0;  // threads inside a task
    int exited = 0;
  };

  void spawn() {
    {
      std::lock_guard lock(state_->mu);
      ++state_->alive;
    }
    threads_.emplace_back([s = state_] { work(*s); });
  }

  static void work(state& s) {
    std::unique_lock lock(s.mu);
    for (;;) {
      s.cv.wait(lock, [&] { return s.stopping || !s.tasks.empty(); });
      if (s.tasks.empty()) break;
      auto task = std::move(s.tasks.front());
      s.tasks.pop_front();
      ++s.running;
      lock.unlock();
      task();
      lock.lock();
      --s.running;
      if (s.alive > s.target) break;
    }
    --s.alive;
    ++s.exited;
    s.cv.notify_all();
  }

  std::shared_ptr<state> state_;
  std::vector<std::thread> threads_;
};

}  // namespace isitup
