#include "base/stop_signal.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>

namespace tombsync {
namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

StopSignal::StopSignal(std::chrono::milliseconds grace) : grace_(grace) {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this] { run(); });
}

StopSignal::~StopSignal() {
  done_.store(true);
  // Wake the signal thread so it can see done_ and leave.
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
}

void StopSignal::request() { stop_.store(true); }

void StopSignal::set_interrupter(std::function<void()> interrupter) {
  std::lock_guard<std::mutex> lock(mutex_);
  interrupter_ = std::move(interrupter);
}

void StopSignal::interrupt() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (interrupter_) interrupter_();
}

void StopSignal::run() {
  sigset_t set = stop_signals();
  bool interrupted = false;
  std::chrono::steady_clock::time_point deadline{};
  while (!done_.load()) {
    timespec wait{0, 200'000'000};
    siginfo_t info;
    int sig = sigtimedwait(&set, &info, &wait);
    if (done_.load()) return;
    if (sig > 0) {
      if (stop_.exchange(true)) {
        interrupt();  // a second signal: do not wait for the grace period
        interrupted = true;
      } else {
        deadline = std::chrono::steady_clock::now() + grace_;
      }
    }
    if (stop_.load() && !interrupted && deadline != std::chrono::steady_clock::time_point{} &&
        std::chrono::steady_clock::now() >= deadline) {
      interrupt();
      interrupted = true;
    }
  }
}

}  // namespace tombsync
