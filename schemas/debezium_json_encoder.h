// format: debezium-json. The records Debezium's PostgreSQL connector (3.6)
// writes through Kafka Connect's JsonConverter with schemas.enable=true, so
// sinks and consumers written for Debezium read tombsync's topics unchanged.
// Which connector settings this matches, and every remaining difference, are in
// docs/formats.md; the field-by-field comparison with recorded Debezium events
// is tests/unit/schemas/debezium_json_encoder_test.cc.
//
//   key:   {"schema":{"type":"struct","fields":[...],"optional":false,
//           "name":"<server>.<schema>.<table>.Key"},"payload":{"id":1}}
//   value: {"schema":{... "name":"<server>.<schema>.<table>.Envelope","version":2},
//           "payload":{"before":null,"after":{...},"source":{...},
//                      "transaction":null,"op":"c","ts_ms":...,"ts_us":...,"ts_ns":...}}
//
// A ChangeEvent carries one row image: inserts, updates and snapshot reads put
// it in `after` (`before` is null, as Debezium writes with REPLICA IDENTITY
// DEFAULT); deletes put it in `before`, absent columns as null, and so do
// events a soft_delete_column marks deleted (is_deleted: op "d"). Unchanged TOAST
// values are Debezium's placeholder "__debezium_unavailable_value".
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "schemas/change.h"
#include "schemas/encoder.h"

namespace tombsync {

class DebeziumJsonEncoder final : public Encoder {
 public:
  explicit DebeziumJsonEncoder(EncoderContext context);

  std::string key(const ChangeEvent& event) const override;
  using Encoder::value;
  std::string value(const ChangeEvent& event, uint32_t seq) const override;
  std::optional<std::vector<Datum>> decode_key(const TableSchema& table, std::string_view key) const override;

 private:
  struct Schemas {
    std::shared_ptr<const TableSchema> table;  // held so the address is never reused
    std::string key;                          // `"schema":{...}` of the key
    std::string value;                        // `"schema":{...}` of the envelope
  };
  const Schemas& schemas(const std::shared_ptr<const TableSchema>& table) const;
  int64_t now_us() const;

  EncoderContext context_;
  std::string source_head_;  // `"version":..,"connector":"postgresql","name":..`, formatted once
  // By relation OID, for the table version last seen (a TableSchema is replaced, never
  // mutated, on ALTER TABLE): a new version replaces the entry, so the cache does not grow
  // with every Relation message. Mutable: an Encoder is used from one thread at a time.
  mutable std::unordered_map<RelationId, Schemas> schemas_;
};

}  // namespace tombsync
