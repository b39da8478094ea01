// Turning a ChangeEvent into the bytes of a Kafka record's key and value.
// The formats are specified for consumers in docs/event-format.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/change.h"

namespace tombsync {

enum class Format { kJson, kProtobuf, kDebeziumJson };

const char* to_string(Format format);  // "json", "protobuf", "debezium-json"
std::optional<Format> parse_format(std::string_view name);     // inverse of to_string

// Encoders are the per-event hot path. An instance is used from one thread at
// a time (it may keep scratch buffers); create one per thread if needed.
// Malformed events (row not aligned with table->columns, a missing table, a
// key column without a value) are bugs upstream: they throw Error(kInternal).
class Encoder {
 public:
  virtual ~Encoder() = default;

  // The record key, from the key columns (table->key_indexes, in that order) of
  // event.row. Deterministic: the same key values give the same bytes, whatever
  // the op and the other columns. A key column must be present or null; an
  // unchanged-TOAST or absent key column throws Error(kInternal).
  // A truncate event has no key: calling key() for one throws Error(kInternal).
  virtual std::string key(const ChangeEvent& event) const = 0;

  // The record value (never a tombstone: tombstones are made by the sink). `seq`: the record's
  // ordinal among its transaction's records (the tombsync.seq header); with the commit LSN it is
  // the record's position (schemas/stream_position.h), which every format carries.
  virtual std::string value(const ChangeEvent& event, uint32_t seq) const = 0;
  // The same with seq 0 (tests, and tools that encode one event on its own).
  std::string value(const ChangeEvent& event) const { return value(event, 0); }

  // The inverse of key(): the key columns' values, in table.key_indexes order, of a key this
  // encoder writes for `table`; nullopt when `key` does not parse as one (another format, other
  // key columns, a type whose key encoding is not decoded: json, and for debezium-json every
  // type but integers, bool and strings). Values are what key() needs to give the same bytes,
  // not necessarily Postgres' text form (ledger_delete.h checks the round trip).
  virtual std::optional<std::vector<Datum>> decode_key(const TableSchema& table, std::string_view key) const = 0;
};

// What an encoder may need beyond the event itself: where the events come
// from. Only kDebeziumJson uses it (docs/formats.md), for the schema names and
// the `source` block that Debezium's PostgreSQL connector writes.
struct EncoderContext {
  std::string server_name;  // Debezium's topic.prefix: tombsync's kafka.topic_prefix
  std::string database;     // the source database (source.db)
  std::string version;      // source.version, e.g. "tombsync-0.1.0"
  // Processing time in Unix-epoch microseconds (the envelope's ts_ms/ts_us/ts_ns);
  // unset: the system clock. Tests set it to get stable bytes.
  std::function<int64_t()> now_us;
};

// kJson and kProtobuf need no context. kDebeziumJson without a server name
// throws Error(kInternal): schema names built from an empty prefix would
// silently differ from Debezium's.
std::unique_ptr<Encoder> make_encoder(Format format);
std::unique_ptr<Encoder> make_encoder(Format format, const EncoderContext& context);

// For Encoder implementations: the invariants they rely on, checked once per
// call. Both throw Error(kInternal) naming the table and what is wrong.
void check_value_encodable(const ChangeEvent& event);  // table set, row aligned with columns
void check_key_encodable(const ChangeEvent& event);    // also: not a truncate, key values usable

}  // namespace tombsync
