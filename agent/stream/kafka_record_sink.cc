#include "agent/stream/kafka_record_sink.h"

namespace tombsync {

KafkaRecordSink::KafkaRecordSink(KafkaSink& sink) : sink_(sink) {
  sink_.on_delivered = [this](const Delivery& d) {
    if (on_delivered) on_delivered(d.commit_lsn);
  };
  sink_.while_blocked = [this] {
    if (while_blocked) while_blocked();
  };
}

KafkaRecordSink::~KafkaRecordSink() {
  sink_.on_delivered = nullptr;
  sink_.while_blocked = nullptr;
}

}  // namespace tombsync
