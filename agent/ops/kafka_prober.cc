#include "agent/ops/kafka_prober.h"

#include <chrono>

#include "base/log.h"

namespace tombsync {

constexpr auto kEvery = std::chrono::seconds(2);
constexpr int kTimeoutMs = 3000;

KafkaProber::KafkaProber(const KafkaSink& sink, Metrics& metrics, std::string brokers)
    : sink_(sink), metrics_(metrics), brokers_(std::move(brokers)), thread_([this] { run(); }) {}

KafkaProber::~KafkaProber() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();  // at most one probe's timeout
}

void KafkaProber::run() {
  bool reachable = true;
  auto down_since = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, kEvery, [this] { return stop_; })) {
    lock.unlock();
    const bool ok = sink_.probe(kTimeoutMs);
    lock.lock();
    if (stop_) break;
    metrics_.kafka_reachable.store(ok);
    if (ok == reachable) continue;
    reachable = ok;
    if (!ok) {
      down_since = std::chrono::steady_clock::now();
      log::warn("kafka: no broker at {} answers; records wait in the producer, which keeps retrying, and "
                "Postgres keeps the WAL until they are acknowledged",
                brokers_);
    } else {
      const auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - down_since);
      log::info("kafka: brokers at {} answer again after {} s", brokers_, secs.count());
    }
  }
}

}  // namespace tombsync
