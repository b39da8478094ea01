// Asks the Kafka brokers for metadata every couple of seconds on its own
// thread, so /readyz and the log learn of a broker outage even when nothing is
// being produced (with records pending, the stall shows in Metrics too).
// librdkafka keeps retrying undelivered records on its own; this only observes.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "connectors/kafka/kafka_sink.h"
#include "agent/ops/metrics.h"

namespace tombsync {

class KafkaProber {
 public:
  // `sink` must outlive the prober (declare the prober after the sink).
  KafkaProber(const KafkaSink& sink, Metrics& metrics, std::string brokers);
  ~KafkaProber();
  KafkaProber(const KafkaProber&) = delete;
  KafkaProber& operator=(const KafkaProber&) = delete;

 private:
  void run();

  const KafkaSink& sink_;
  Metrics& metrics_;
  std::string brokers_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tombsync
