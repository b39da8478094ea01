// Asks the Kafka brokers for metadata every couple of seconds on its own
// thread, so /readyz and the log learn of a broker outage even when nothing is
// being produced (with records pending, the stall shows in Metrics too).
// librdkafka keeps retrying undelivered records on its own; this only observes.
#pragma once

#include <chrono>
#include <string>

#include "connectors/kafka/kafka_sink.h"
#include "agent/ops/metrics.h"
#include "agent/ops/periodic_worker.h"

namespace tombsync {

class KafkaProber {
 public:
  // `sink` must outlive the prober (declare the prober after the sink).
  KafkaProber(const KafkaSink& sink, Metrics& metrics, std::string brokers);
  ~KafkaProber() = default;  // waits for a probe in progress (at most its timeout)
  KafkaProber(const KafkaProber&) = delete;
  KafkaProber& operator=(const KafkaProber&) = delete;

 private:
  void probe();  // on the worker's thread

  const KafkaSink& sink_;
  Metrics& metrics_;
  std::string brokers_;
  bool reachable_ = true;  // the worker's
  std::chrono::steady_clock::time_point down_since_;
  PeriodicWorker worker_;  // last: stopped before the members above go
};

}  // namespace tombsync
