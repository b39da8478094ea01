// What a consumer that reads a topic from its beginning ends up with: the topic "materialised"
// (last value per key, tombstones and flagged deletes applied), and compacted topics on the
// plain test broker whose log cleaner can be made to run within seconds. For the tests of the
// delete contract (docs/deletes.md): a compacted topic or a key-based sink must forget every key
// the source deleted.
//
// Thread: test thread only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/integration/harness.h"

namespace tombsync::it {

// The last state of each key, over records in partition order, offsets ascending within one
// (read_topic's order: per key, the stream's order). JSON values.
struct Materialized {
  std::map<std::string, nlohmann::json> live;     // key JSON text -> its last value
  std::map<std::string, nlohmann::json> deleted;  // key JSON text -> the delete event that ended it
  std::map<std::string, int> reads;               // key JSON text -> snapshot read events
  std::map<std::string, int> truncated;           // key JSON text -> deletes marked tombsync.truncate
  std::map<std::string, int> inferred;            // key JSON text -> deletes marked tombsync.inferred
};
Materialized materialize(const std::vector<KafkaRecord>& records);

// Creates `topic` on the plain broker with cleanup.policy=compact and settings that make the log
// cleaner take every segment but the active one at once (segment.ms, min.cleanable.dirty.ratio,
// delete.retention.ms 0, so tombstones go too at the next pass). The broker checks for work every
// log.cleaner.backoff.ms (1 s in tests/services/kafka-server.properties.in).
void create_compacted_topic(const std::string& topic, int partitions);

// Reads `topic` from the beginning again and again until `done` holds for what one pass read
// (the cleaner works in the background), and returns that pass. FAILs after `timeout`, printing
// how many records the last pass held.
std::vector<KafkaRecord> read_once_compacted(const std::string& topic,
                                             const std::function<bool(const std::vector<KafkaRecord>&)>& done,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(90));

}  // namespace tombsync::it
