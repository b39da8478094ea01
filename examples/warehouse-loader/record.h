// One Kafka record of a tombsync table topic (format: json), as the example
// consumers need it: what to do, the stream position from the headers, key and value.
// docs/event-format.md is the contract this parses.
#pragma once

#include <librdkafka/rdkafka.h>

#include <compare>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/lsn.h"

namespace tombsync::loader {

// (tombsync.commit_lsn, tombsync.seq): strictly increasing along the stream and,
// within a partition, along offsets; the two parts of the value's `__pos` (commit LSN
// * 2^32 + seq), which parse_record requires to agree. Stored per row as
// (_synced_lsn, _synced_seq).
struct Position {
  Lsn commit_lsn;
  int64_t seq = 0;
  auto operator<=>(const Position&) const = default;
  std::string str() const { return commit_lsn.str() + ":" + std::to_string(seq); }
};

enum class RecordKind {
  kRow,        // insert, update, snapshot read or delete event: a row image with is_deleted
  kTombstone,  // null value: the key is gone
  kTruncate,   // every row of the table at this position is deleted
};

struct LoaderRecord {
  size_t table = 0;  // index into the loader's tables
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t produced_ms = 0;  // Kafka CreateTime: when tombsync handed it to its producer
  RecordKind kind = RecordKind::kRow;
  std::string op;  // tombsync.op header
  Position position;
  std::string commit_ts;  // tombsync.commit_ts header
  std::string source;     // tombsync.source header: which source, slot and slot history; empty when absent
  nlohmann::json key;     // null when the record has no key
  nlohmann::json value;   // null on a tombstone
};

// Throws Error(kProtocol) naming topic, partition and offset when the record
// lacks tombsync's headers or its value is not tombsync's JSON.
LoaderRecord parse_record(const rd_kafka_message_t* m, size_t table);

}  // namespace tombsync::loader
