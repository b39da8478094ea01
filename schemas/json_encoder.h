// The row-shaped JSON encoding for warehouse loaders: one flat object per
// event, the row's columns at top level followed by the tombsync metadata.
// Written straight into a string (no DOM): this is the per-event hot path.
// The format is specified in docs/event-format.md; in short:
//
//   key:   {"id":1,"region":"eu"}            key columns in key order
//   value: {"id":1,"region":"eu","name":"Ann","is_deleted":false,"deleted_at":null,
//           "__op":"insert","__lsn":"0/16B3748","__commit_lsn":"0/16B3800","__xid":731,
//           "__commit_ts":"2024-05-01T10:00:00.123456Z","__table":"public.users"}
//
// Columns: present and null ones in table order; absent ones (non-key columns
// of a key-only delete image) left out; unchanged-TOAST ones left out of the
// top level and listed in "__unchanged" (present only when non-empty), so a
// loader keeps the stored value instead of overwriting it with null.
// A column whose name is one of the metadata names (is_reserved_json_name) is
// left out entirely: the metadata wins, and the object never has duplicate keys.
#pragma once

#include <string>
#include <string_view>

#include "schemas/change.h"
#include "schemas/encoder.h"

namespace tombsync {

class JsonEncoder final : public Encoder {
 public:
  std::string key(const ChangeEvent& event) const override;
  using Encoder::value;
  std::string value(const ChangeEvent& event, uint32_t seq) const override;
  std::optional<std::vector<Datum>> decode_key(const TableSchema& table, std::string_view key) const override;
};

// "is_deleted", "deleted_at", "__op", "__lsn", "__commit_lsn", "__xid",
// "__commit_ts", "__table", "__unchanged". Future metadata fields will also
// start with "__".
bool is_reserved_json_name(std::string_view name);

// Appends one present value as JSON, by column type: ints as numbers, bool as
// true/false, floats as numbers except "NaN"/"Infinity"/"-Infinity" (strings),
// json as the embedded JSON text, bytea as a base64 string, everything else
// (numeric, text, uuid, dates and times, interval, other) as a string.
void append_json_datum(std::string& out, ColumnType type, const Datum& datum);

}  // namespace tombsync
