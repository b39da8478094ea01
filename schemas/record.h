// A Kafka record ready to send: encoded key and value plus headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/lsn.h"
#include "base/named_type.h"

namespace tombsync {

// A Kafka partition number (not a count: counts stay plain ints).
using KafkaPartition = NamedType<int32_t, struct KafkaPartitionTag>;

struct Record {
  std::string topic;
  std::optional<std::string> key;    // nullopt only for events without a key (truncate)
  std::optional<std::string> value;  // nullopt = tombstone
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<KafkaPartition> partition;  // set for keyless tables (partition 0), so their records stay in order
  bool all_partitions = false;  // truncate: one copy per partition, so every key's consumer sees it in order
  Lsn commit_lsn;               // its transaction's commit LSN: tags deliveries for the cursor
  uint32_t seq = 0;             // its ordinal among the records of its transaction, from 0
  bool deleted = false;         // a delete event (hard or soft delete), for counting; not sent
};

}  // namespace tombsync
