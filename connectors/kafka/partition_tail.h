// Reads the last record of every partition of a topic. After a crash the
// agent uses the tails to recognise records Kafka already holds (sent and
// written, but not yet confirmed to Postgres) and not write them twice.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "connectors/kafka/kafka_sink.h"

namespace tombsync {

struct PartitionTail {
  KafkaPartition partition{0};
  std::map<std::string, std::string> headers;  // of the partition's last record
};

// One entry per non-empty partition. Throws Error(kSink) naming the topic
// when the brokers cannot be read within options.connect_timeout_ms. A topic
// that does not exist yet has no tails.
std::vector<PartitionTail> read_partition_tails(const KafkaSinkOptions& options, const std::string& topic);

}  // namespace tombsync
