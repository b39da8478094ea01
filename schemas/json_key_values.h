// Private to schemas: a key column's value read back from the JSON a key encoder wrote for it
// (JsonEncoder and DebeziumJsonEncoder::decode_key). Any thread; no state.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "schemas/change.h"

namespace tombsync {

// How a format wrote values: tombsync's JSON (append_json_datum), or Debezium's, whose key
// payloads tombsync reads back only for integers, bool and strings (text, varchar, uuid).
enum class KeyJsonDialect { kTombsync, kDebezium };

// The datum that wrote `value` for a column of `type`, or nullopt when this type's encoding is
// not read back (json; most Debezium logical types) or `value` has the wrong JSON type. A float
// key of -0.0 (written `-0`, which the parser reads as the integer 0) comes back as 0.0: the
// round trip in ledger_delete refuses it.
std::optional<Datum> datum_from_key_json(ColumnType type, const nlohmann::json& value, KeyJsonDialect dialect);

// The key columns of `table`, in key order, from `object` (their names as members); nullopt
// when a member is missing, the object holds others, or a value does not read back.
std::optional<std::vector<Datum>> key_datums_from_json(const TableSchema& table, const nlohmann::json& object,
                                                       KeyJsonDialect dialect);

}  // namespace tombsync
