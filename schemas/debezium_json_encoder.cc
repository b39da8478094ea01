#include "schemas/debezium_json_encoder.h"

#include <charconv>
#include <chrono>

#include "schemas/debezium_types.h"
#include "base/error.h"
#include "schemas/stream_position.h"
#include "schemas/json_key_values.h"
#include "schemas/json_string.h"

namespace tombsync {
namespace {

// The Source block's schema (PostgresSourceInfoStructMaker + SchemaFactory,
// Debezium 3.6), in field order. Fixed for every table.
constexpr std::string_view kSourceSchema =
    R"({"type":"struct","fields":[)"
    R"({"type":"string","optional":false,"field":"version"},)"
    R"({"type":"string","optional":false,"field":"connector"},)"
    R"({"type":"string","optional":false,"field":"name"},)"
    R"({"type":"int64","optional":false,"field":"ts_ms"},)"
    R"({"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,)"
    R"("parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},)"
    R"("default":"false","field":"snapshot"},)"
    R"({"type":"string","optional":false,"field":"db"},)"
    R"({"type":"string","optional":true,"field":"sequence"},)"
    R"({"type":"int64","optional":true,"field":"ts_us"},)"
    R"({"type":"int64","optional":true,"field":"ts_ns"},)"
    R"({"type":"string","optional":false,"field":"schema"},)"
    R"({"type":"string","optional":false,"field":"table"},)"
    R"({"type":"int64","optional":true,"field":"txId"},)"
    R"({"type":"int64","optional":true,"field":"lsn"},)"
    R"({"type":"int64","optional":true,"field":"xmin"},)"
    R"({"type":"string","optional":true,"field":"origin"},)"
    R"({"type":"int64","optional":true,"field":"origin_lsn"},)"
    // tombsync's own: the record's position (schemas/stream_position.h), a decimal string.
    R"({"type":"string","optional":true,"field":"tombsync_pos"}],)"
    R"("optional":false,"name":"io.debezium.connector.postgresql.Source","version":1,"field":"source"})";

// The envelope's fields after `source`.
constexpr std::string_view kEnvelopeTail =
    R"({"type":"struct","fields":[)"
    R"({"type":"string","optional":false,"field":"id"},)"
    R"({"type":"int64","optional":false,"field":"total_order"},)"
    R"({"type":"int64","optional":false,"field":"data_collection_order"}],)"
    R"("optional":true,"name":"event.block","version":1,"field":"transaction"},)"
    R"({"type":"string","optional":false,"field":"op"},)"
    R"({"type":"int64","optional":true,"field":"ts_ms"},)"
    R"({"type":"int64","optional":true,"field":"ts_us"},)"
    R"({"type":"int64","optional":true,"field":"ts_ns"}])";

void append_int(std::string& out, int64_t n) {
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
  out.append(buf, end);
}

// Debezium names schemas after its topic: <server>.<schema>.<table>
// (schema.name.adjustment.mode=none, the default since 2.0).
std::string schema_prefix(const EncoderContext& context, const TableSchema& table) {
  return context.server_name + "." + table.schema + "." + table.table;
}

// Key columns are the primary key (or configured key_columns): never null.
// tombsync does not know other columns' NOT NULL constraints, so they are all
// optional (Debezium marks NOT NULL columns optional:false).
void append_field_schema(std::string& out, const ColumnSpec& column, bool optional) {
  const debezium::FieldType type = debezium::field_type(column);
  out.append(R"({"type":")");
  out.append(type.type);
  out.append(optional ? R"(","optional":true,)" : R"(","optional":false,)");
  if (!type.name.empty()) {
    out.append(R"("name":")");
    out.append(type.name);
    out.append(R"(","version":1,)");
  }
  out.append(R"("field":)");
  append_json_string(out, column.name);
  out.push_back('}');
}

void append_row_schema(std::string& out, const TableSchema& table, const std::string& prefix, const char* field) {
  out.append(R"({"type":"struct","fields":[)");
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (i) out.push_back(',');
    append_field_schema(out, table.columns[i], !table.columns[i].key);
  }
  out.append(R"(],"optional":true,"name":)");
  append_json_string(out, prefix + ".Value");
  out.append(R"(,"field":")");
  out.append(field);
  out.append("\"}");
}

void append_column_value(std::string& out, const ColumnSpec& column, const Datum& datum) {
  switch (datum.state) {
    case Datum::State::kPresent: debezium::append_value(out, column, datum); return;
    case Datum::State::kUnchanged: debezium::append_unavailable_value(out, column); return;
    case Datum::State::kNull:
    case Datum::State::kAbsent: out.append("null"); return;
  }
}

void append_row(std::string& out, const ChangeEvent& event) {
  const TableSchema& table = *event.table;
  out.push_back('{');
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (i) out.push_back(',');
    append_json_string(out, table.columns[i].name);
    out.push_back(':');
    append_column_value(out, table.columns[i], event.row[i]);
  }
  out.push_back('}');
}

// Debezium's `sequence`: a JSON array, as a string, of two LSNs as decimal
// strings. Debezium's first element is the last commit it had processed;
// tombsync writes this transaction's commit LSN, which orders the same way.
void append_sequence(std::string& out, const ChangeEvent& event) {
  out.append(R"("[)");
  if (event.op == Op::kRead) {
    out.append("null");
  } else {
    out.append(R"(\")");
    append_int(out, static_cast<int64_t>(event.source.commit_lsn.value()));
    out.append(R"(\")");
  }
  out.append(R"(,\")");
  append_int(out, static_cast<int64_t>(event.source.lsn.value()));
  out.append(R"(\"]")");
}

}  // namespace

DebeziumJsonEncoder::DebeziumJsonEncoder(EncoderContext context) : context_(std::move(context)) {
  if (context_.server_name.empty())
    throw Error(ErrorKind::kInternal, "the debezium-json encoder needs a server name (the topic prefix)");
  source_head_.append(R"("version":)");
  append_json_string(source_head_, context_.version.empty() ? std::string("tombsync") : context_.version);
  source_head_.append(R"(,"connector":"postgresql","name":)");
  append_json_string(source_head_, context_.server_name);
}

int64_t DebeziumJsonEncoder::now_us() const {
  if (context_.now_us) return context_.now_us();
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const DebeziumJsonEncoder::Schemas& DebeziumJsonEncoder::schemas(
    const std::shared_ptr<const TableSchema>& table) const {
  auto it = schemas_.find(table->relid);
  if (it != schemas_.end() && it->second.table == table) return it->second;
  const std::string prefix = schema_prefix(context_, *table);
  Schemas s;
  s.table = table;
  s.key.append(R"("schema":{"type":"struct","fields":[)");
  bool first = true;
  for (size_t index : table->key_indexes) {
    if (index >= table->columns.size()) break;  // check_key_encodable reports it
    if (!first) s.key.push_back(',');
    first = false;
    append_field_schema(s.key, table->columns[index], false);
  }
  s.key.append(R"(],"optional":false,"name":)");
  append_json_string(s.key, prefix + ".Key");
  s.key.push_back('}');

  s.value.append(R"("schema":{"type":"struct","fields":[)");
  append_row_schema(s.value, *table, prefix, "before");
  s.value.push_back(',');
  append_row_schema(s.value, *table, prefix, "after");
  s.value.push_back(',');
  s.value.append(kSourceSchema);
  s.value.push_back(',');
  s.value.append(kEnvelopeTail);
  s.value.append(R"(,"optional":false,"name":)");
  append_json_string(s.value, prefix + ".Envelope");
  s.value.append(R"(,"version":2})");
  return schemas_[table->relid] = std::move(s);
}

std::string DebeziumJsonEncoder::key(const ChangeEvent& event) const {
  check_key_encodable(event);
  const TableSchema& table = *event.table;
  std::string out;
  out.reserve(256 + 64 * table.key_indexes.size());
  out.push_back('{');
  out.append(schemas(event.table).key);
  out.append(R"(,"payload":{)");
  bool first = true;
  for (size_t index : table.key_indexes) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, table.columns[index].name);
    out.push_back(':');
    append_column_value(out, table.columns[index], event.row[index]);
  }
  out.append("}}");
  return out;
}

std::optional<std::vector<Datum>> DebeziumJsonEncoder::decode_key(const TableSchema& table,
                                                                 std::string_view key) const {
  nlohmann::json doc = nlohmann::json::parse(key, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("payload")) return std::nullopt;
  return key_datums_from_json(table, doc["payload"], KeyJsonDialect::kDebezium);
}

std::string DebeziumJsonEncoder::value(const ChangeEvent& event, uint32_t seq) const {
  check_value_encodable(event);
  const TableSchema& table = *event.table;
  const std::string& schema = schemas(event.table).value;
  std::string out;
  out.reserve(schema.size() + 512 + 48 * event.row.size());
  out.push_back('{');
  out.append(schema);
  // A delete, hard or soft (a soft_delete_column set: docs/contract.md 1.3), is "d"
  // with the row in `before`, so Debezium consumers delete it.
  const bool deleted = event.op == Op::kDelete || event.is_deleted;
  out.append(R"(,"payload":{"before":)");
  if (deleted) append_row(out, event);
  else out.append("null");
  out.append(R"(,"after":)");
  if (deleted || event.op == Op::kTruncate) out.append("null");
  else append_row(out, event);

  const int64_t commit_us = event.source.commit_ts_us.value();
  out.append(R"(,"source":{)");
  out.append(source_head_);
  out.append(R"(,"ts_ms":)");
  append_int(out, debezium::floor_div(commit_us, 1000));
  out.append(event.op == Op::kRead ? R"(,"snapshot":"true","db":)" : R"(,"snapshot":"false","db":)");
  append_json_string(out, context_.database);
  out.append(R"(,"sequence":)");
  append_sequence(out, event);
  out.append(R"(,"ts_us":)");
  append_int(out, commit_us);
  out.append(R"(,"ts_ns":)");
  append_int(out, commit_us * 1000);
  out.append(R"(,"schema":)");
  append_json_string(out, table.schema);
  out.append(R"(,"table":)");
  append_json_string(out, table.table);
  out.append(R"(,"txId":)");
  append_int(out, event.source.xid);
  out.append(R"(,"lsn":)");
  append_int(out, static_cast<int64_t>(event.source.lsn.value()));
  out.append(R"(,"xmin":null,"origin":null,"origin_lsn":null,"tombsync_pos":")");
  append_stream_position(out, event.source.commit_lsn, seq);
  out.append(R"("},"transaction":null,"op":")");
  // A row moved to a new key is a create for Debezium: the old key's delete came before it.
  out.push_back(deleted ? 'd' : event.key_changed && event.op == Op::kUpdate ? 'c' : op_code(event.op));
  const int64_t now = now_us();
  out.append(R"(","ts_ms":)");
  append_int(out, debezium::floor_div(now, 1000));
  out.append(R"(,"ts_us":)");
  append_int(out, now);
  out.append(R"(,"ts_ns":)");
  append_int(out, now * 1000);
  out.append("}}");
  return out;
}

}  // namespace tombsync
