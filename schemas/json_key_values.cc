// Reading key values back from JSON keys (see json_key_values.h).
#include "schemas/json_key_values.h"

#include <cmath>
#include <limits>

#include "schemas/base64.h"

namespace tombsync {

namespace {

Datum present() { return Datum::of(Datum::State::kPresent); }

std::optional<Datum> float_datum(const nlohmann::json& value) {
  Datum d = present();
  if (value.is_number()) {
    d.d = value.get<double>();
  } else if (value == "NaN") {
    d.d = std::numeric_limits<double>::quiet_NaN();
  } else if (value == "Infinity" || value == "-Infinity") {
    d.d = value == "Infinity" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  } else {
    return std::nullopt;
  }
  d.text = value.is_string() ? value.get<std::string>() : value.dump();
  return d;
}

}  // namespace

std::optional<Datum> datum_from_key_json(ColumnType type, const nlohmann::json& value, KeyJsonDialect dialect) {
  if (value.is_null()) return Datum::null();
  Datum d = present();
  switch (type) {
    case ColumnType::kInt16:
    case ColumnType::kInt32:
    case ColumnType::kInt64:
      if (!value.is_number_integer()) return std::nullopt;
      d.i = value.get<int64_t>();
      return d;
    case ColumnType::kBool:
      if (!value.is_boolean()) return std::nullopt;
      d.b = value.get<bool>();
      return d;
    case ColumnType::kText:
    case ColumnType::kUuid:
      if (!value.is_string()) return std::nullopt;
      d.text = value.get<std::string>();
      return d;
    default:
      break;
  }
  if (dialect == KeyJsonDialect::kDebezium) return std::nullopt;  // logical types: not read back
  switch (type) {
    case ColumnType::kFloat32:
    case ColumnType::kFloat64:
      return float_datum(value);
    case ColumnType::kBytea: {
      if (!value.is_string()) return std::nullopt;
      auto bytes = base64_decode(value.get<std::string>());
      if (!bytes) return std::nullopt;
      d.text = std::move(*bytes);
      return d;
    }
    case ColumnType::kJson:
      return std::nullopt;  // written as the column's own JSON text, which a parse does not keep
    default:
      if (!value.is_string()) return std::nullopt;
      d.text = value.get<std::string>();
      return d;
  }
}

std::optional<std::vector<Datum>> key_datums_from_json(const TableSchema& table, const nlohmann::json& object,
                                                       KeyJsonDialect dialect) {
  if (!object.is_object() || object.size() != table.key_indexes.size()) return std::nullopt;
  std::vector<Datum> out;
  out.reserve(table.key_indexes.size());
  for (size_t index : table.key_indexes) {
    const ColumnSpec& column = table.columns[index];
    auto it = object.find(column.name);
    if (it == object.end()) return std::nullopt;
    auto d = datum_from_key_json(column.type, *it, dialect);
    if (!d) return std::nullopt;
    out.push_back(std::move(*d));
  }
  return out;
}

}  // namespace tombsync
