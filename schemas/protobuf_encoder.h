// The binary encoding: tombsync.v1.ChangeEvent values and tombsync.v1.Key
// keys (schemas/tombsync/v1/change_event.proto), serialized deterministically.
// Key columns carry only name and value (no type, no key flag), so a key's
// bytes survive a widening ALTER of a key column.
// Every column of the row image is carried with its Postgres type name: null
// as Value.null, unchanged TOAST as Value.unchanged; absent columns (non-key
// columns of a key-only delete image) are left out. Strings are made valid
// UTF-8 as proto3 requires (see utf8.h).
#pragma once

#include <memory>
#include <string>

#include "schemas/change.h"
#include "schemas/encoder.h"

namespace tombsync {
namespace v1 {
class ChangeEvent;
class Key;
class Value;
}  // namespace v1

class ProtobufEncoder final : public Encoder {
 public:
  ProtobufEncoder();
  ~ProtobufEncoder() override;

  std::string key(const ChangeEvent& event) const override;
  using Encoder::value;
  std::string value(const ChangeEvent& event, uint32_t seq) const override;
  std::optional<std::vector<Datum>> decode_key(const TableSchema& table, std::string_view key) const override;

  // The message value() serializes; for tests and tools.
  void to_message(const ChangeEvent& event, v1::ChangeEvent& message) const;

 private:
  // Scratch messages reused across calls: Clear() keeps their allocations, which
  // saves about a third of the cost per event. This is why an encoder is
  // single-threaded.
  std::unique_ptr<v1::ChangeEvent> scratch_event_;
  std::unique_ptr<v1::Key> scratch_key_;
};

// Fills `value` from a present or null datum of the given type.
void to_proto_value(ColumnType type, const Datum& datum, v1::Value& value);

}  // namespace tombsync
