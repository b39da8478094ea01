// RecordSink over the Kafka producer (connectors/kafka/kafka_sink.h, which
// states the guarantees: idempotent, acks=all, never drops a record).
// Pipeline thread only, like KafkaSink.
#pragma once

#include "agent/stream/record_sink.h"
#include "connectors/kafka/kafka_sink.h"

namespace tombsync {

class KafkaRecordSink final : public RecordSink {
 public:
  // Takes over sink.on_delivered and sink.while_blocked; `sink` must outlive this object.
  explicit KafkaRecordSink(KafkaSink& sink);
  ~KafkaRecordSink() override;

  int partitions(const std::string& topic) override { return sink_.partitions(topic); }
  size_t send(const Record& r) override { return sink_.send(r); }
  void poll(int timeout_ms) override { sink_.poll(timeout_ms); }
  bool flush(int timeout_ms) override { return sink_.flush(timeout_ms); }
  size_t in_flight() const override { return sink_.in_flight(); }
  bool interrupted() const override { return sink_.interrupted(); }

 private:
  KafkaSink& sink_;
};

}  // namespace tombsync
