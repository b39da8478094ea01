#include "agent/ops/periodic_worker.h"

namespace tombsync {

PeriodicWorker::PeriodicWorker(std::chrono::milliseconds every, std::function<void()> work)
    : every_(every), work_(std::move(work)), thread_([this] { run(); }) {}

PeriodicWorker::~PeriodicWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool PeriodicWorker::stopping() const {
  std::lock_guard lock(mu_);
  return stop_;
}

void PeriodicWorker::run() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, every_, [this] { return stop_; })) {
    lock.unlock();
    work_();
    lock.lock();
  }
}

}  // namespace tombsync
