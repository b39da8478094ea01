#include "schemas/json_encoder.h"

#include <array>
#include <charconv>
#include <cmath>

#include "schemas/base64.h"
#include "base/error.h"
#include "schemas/json_key_values.h"
#include "schemas/json_string.h"
#include "schemas/stream_position.h"
#include "schemas/time_format.h"
#include "schemas/utf8.h"

namespace tombsync {
namespace {

constexpr std::array<std::string_view, 12> kReservedNames = {
    "is_deleted", "deleted_at", "__op",       "__lsn",      "__commit_lsn", "__xid",
    "__commit_ts", "__table",   "__unchanged", "__truncate", "__inferred",  "__pos"};

template <typename Number>
void append_number(std::string& out, Number n) {
  char buf[32];
  auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
  out.append(buf, end);
}

void append_double(std::string& out, double d) {
  if (std::isnan(d)) {
    out.append("\"NaN\"");
  } else if (std::isinf(d)) {
    out.append(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    append_number(out, d);  // shortest form that reads back as the same double
  }
}

// Postgres guarantees json/jsonb text is valid JSON; only the encoding can be
// off (a SQL_ASCII database), and repairing it keeps the document parseable.
void append_embedded_json(std::string& out, const std::string& text) {
  if (text.empty()) throw Error(ErrorKind::kInternal, "a json value has empty text");
  if (is_valid_utf8(text)) {
    out.append(text);
  } else {
    out.append(to_valid_utf8(text));
  }
}

void append_member_name(std::string& out, std::string_view name) {
  append_json_string(out, name);
  out.push_back(':');
}

void append_column(std::string& out, const ColumnSpec& column, const Datum& datum) {
  append_member_name(out, column.name);
  if (datum.state == Datum::State::kNull) {
    out.append("null");
  } else {
    append_json_datum(out, column.type, datum);
  }
}

void append_metadata(std::string& out, const ChangeEvent& event, uint32_t seq) {
  out.append("\"is_deleted\":");
  out.append(event.is_deleted ? "true" : "false");
  out.append(",\"deleted_at\":");
  if (event.is_deleted && event.deleted_at_us) {
    out.push_back('"');
    append_utc_micros(out, event.deleted_at_us->value());
    out.push_back('"');
  } else {
    out.append("null");
  }
  // Only on the deletes tombsync made from its ledger: row deletes stay byte for byte as before.
  if (event.is_deleted && event.origin == DeleteOrigin::kTruncate) out.append(",\"__truncate\":true");
  if (event.is_deleted && event.origin == DeleteOrigin::kInferred) out.append(",\"__inferred\":true");
  out.append(",\"__op\":\"");
  out.append(to_string(event.op));
  out.append("\",\"__lsn\":\"");
  out.append(event.source.lsn.str());
  out.append("\",\"__commit_lsn\":\"");
  out.append(event.source.commit_lsn.str());
  out.append("\",\"__xid\":");
  append_number(out, event.source.xid);
  out.append(",\"__commit_ts\":\"");
  append_utc_micros(out, event.source.commit_ts_us.value());
  out.append("\",\"__table\":");
  append_json_string(out, event.table->qualified());
  // A string: up to 96 bits, beyond what many JSON parsers read exactly (RFC 8259 section 6).
  out.append(",\"__pos\":\"");
  append_stream_position(out, event.source.commit_lsn, seq);
  out.push_back('"');
}

}  // namespace

bool is_reserved_json_name(std::string_view name) {
  // Cheap reject first: this runs for every column of every event.
  if (name.empty() || (name[0] != '_' && name[0] != 'i' && name[0] != 'd')) return false;
  for (std::string_view reserved : kReservedNames) {
    if (name == reserved) return true;
  }
  return false;
}

void append_json_datum(std::string& out, ColumnType type, const Datum& datum) {
  switch (type) {
    case ColumnType::kInt16:
    case ColumnType::kInt32:
    case ColumnType::kInt64:
      append_number(out, datum.i);
      return;
    case ColumnType::kBool:
      out.append(datum.b ? "true" : "false");
      return;
    case ColumnType::kFloat32:
    case ColumnType::kFloat64:
      append_double(out, datum.d);
      return;
    case ColumnType::kJson:
      append_embedded_json(out, datum.text);
      return;
    case ColumnType::kBytea:
      out.push_back('"');
      append_base64(out, datum.text);
      out.push_back('"');
      return;
    case ColumnType::kNumeric:
    case ColumnType::kText:
    case ColumnType::kUuid:
    case ColumnType::kDate:
    case ColumnType::kTime:
    case ColumnType::kTimestamp:
    case ColumnType::kTimestampTz:
    case ColumnType::kInterval:
    case ColumnType::kOther:
      append_json_string(out, datum.text);
      return;
  }
  throw Error(ErrorKind::kInternal, "unknown column type");
}

std::string JsonEncoder::key(const ChangeEvent& event) const {
  check_key_encodable(event);
  const TableSchema& table = *event.table;
  std::string out;
  out.reserve(16 + 32 * table.key_indexes.size());
  out.push_back('{');
  bool first = true;
  for (size_t index : table.key_indexes) {
    if (!first) out.push_back(',');
    first = false;
    append_column(out, table.columns[index], event.row[index]);
  }
  out.push_back('}');
  return out;
}

std::optional<std::vector<Datum>> JsonEncoder::decode_key(const TableSchema& table, std::string_view key) const {
  nlohmann::json object = nlohmann::json::parse(key, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return std::nullopt;
  return key_datums_from_json(table, object, KeyJsonDialect::kTombsync);
}

std::string JsonEncoder::value(const ChangeEvent& event, uint32_t seq) const {
  check_value_encodable(event);
  const TableSchema& table = *event.table;
  std::string out;
  out.reserve(256 + 32 * event.row.size());
  out.push_back('{');
  bool any_unchanged = false;
  for (size_t i = 0; i < event.row.size(); ++i) {
    const Datum& datum = event.row[i];
    const ColumnSpec& column = table.columns[i];
    if (is_reserved_json_name(column.name)) continue;
    if (datum.state == Datum::State::kUnchanged) {
      any_unchanged = true;
      continue;
    }
    if (datum.state == Datum::State::kAbsent) continue;
    append_column(out, column, datum);
    out.push_back(',');
  }
  append_metadata(out, event, seq);
  if (any_unchanged) {
    out.append(",\"__unchanged\":[");
    bool first = true;
    for (size_t i = 0; i < event.row.size(); ++i) {
      const std::string& name = table.columns[i].name;
      if (event.row[i].state != Datum::State::kUnchanged || is_reserved_json_name(name)) continue;
      if (!first) out.push_back(',');
      first = false;
      append_json_string(out, name);
    }
    out.push_back(']');
  }
  out.push_back('}');
  return out;
}

}  // namespace tombsync
