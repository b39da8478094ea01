#include "agent/ops/kafka_prober.h"

#include <chrono>

#include "base/log.h"

namespace tombsync {

constexpr auto kEvery = std::chrono::seconds(2);
constexpr int kTimeoutMs = 3000;

KafkaProber::KafkaProber(const KafkaSink& sink, Metrics& metrics, std::string brokers)
    : sink_(sink), metrics_(metrics), brokers_(std::move(brokers)), worker_(kEvery, [this] { probe(); }) {}

void KafkaProber::probe() {
  const bool ok = sink_.probe(kTimeoutMs);
  if (worker_.stopping()) return;
  metrics_.kafka_reachable.store(ok);
  if (ok == reachable_) return;
  reachable_ = ok;
  if (!ok) {
    down_since_ = std::chrono::steady_clock::now();
    log::warn("kafka: no broker at {} answers; records wait in the producer, which keeps retrying, and "
              "Postgres keeps the WAL until they are acknowledged",
              brokers_);
  } else {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - down_since_);
    log::info("kafka: brokers at {} answer again after {} s", brokers_, secs.count());
  }
}

}  // namespace tombsync
