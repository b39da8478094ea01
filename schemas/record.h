// A Kafka record ready to send: encoded key and value plus headers.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lsn.h"

namespace tombsync {

struct Record {
  std::string topic;
  std::optional<std::string> key;    // nullopt only for events without a key (truncate)
  std::optional<std::string> value;  // nullopt = tombstone
  std::vector<std::pair<std::string, std::string>> headers;
  bool all_partitions = false;  // truncate: one copy per partition, so every key's consumer sees it in order
  Lsn end_lsn;                  // the transaction this record belongs to (drives the cursor)
};

}  // namespace tombsync
