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
// when the brokers cannot be read within options.connect_timeout_ms; a denied
// Describe or Read is one line with the kafka-acls grant (kafka_hints.h). A
// topic that does not exist yet has no tails.
std::vector<PartitionTail> read_partition_tails(const KafkaSinkOptions& options, const std::string& topic);

// Proves the Read that read_partition_tails needs on a topic whose partitions may all be empty
// (then read_partition_tails fetches nothing): fetches partition 0 from its end, reading no
// record. Returns the partition count (0: the topic does not exist, nothing was proven). Throws
// as read_partition_tails does; a denied Read or Describe is one permission line naming the
// kafka-acls grant. For `tombsync check`.
int check_read_access(const KafkaSinkOptions& options, const std::string& topic);

}  // namespace tombsync
