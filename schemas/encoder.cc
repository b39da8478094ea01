#include "schemas/encoder.h"

#include "schemas/debezium_json_encoder.h"
#include "base/error.h"
#include "schemas/json_encoder.h"
#include "schemas/protobuf_encoder.h"

namespace tombsync {
namespace {

[[noreturn]] void fail(const ChangeEvent& event, const std::string& what) {
  const std::string table = event.table ? event.table->qualified() : "(no table)";
  throw Error(ErrorKind::kInternal, "cannot encode " + std::string(to_string(event.op)) +
                                        " event of " + table + ": " + what);
}

}  // namespace

const char* to_string(Format format) {
  switch (format) {
    case Format::kJson: return "json";
    case Format::kProtobuf: return "protobuf";
    case Format::kDebeziumJson: return "debezium-json";
  }
  return "unknown";
}

std::optional<Format> parse_format(std::string_view name) {
  if (name == "json") return Format::kJson;
  if (name == "protobuf") return Format::kProtobuf;
  if (name == "debezium-json") return Format::kDebeziumJson;
  return std::nullopt;
}

std::unique_ptr<Encoder> make_encoder(Format format) { return make_encoder(format, EncoderContext{}); }

std::unique_ptr<Encoder> make_encoder(Format format, const EncoderContext& context) {
  switch (format) {
    case Format::kJson: return std::make_unique<JsonEncoder>();
    case Format::kProtobuf: return std::make_unique<ProtobufEncoder>();
    case Format::kDebeziumJson:
      if (context.server_name.empty())
        throw Error(ErrorKind::kInternal,
                    "the debezium-json encoder needs the topic prefix (Debezium's server name) and the "
                    "database name: create it with make_encoder(format, EncoderContext{...})");
      return std::make_unique<DebeziumJsonEncoder>(context);
  }
  throw Error(ErrorKind::kInternal, "unknown encoder format");
}

void check_value_encodable(const ChangeEvent& event) {
  if (!event.table) fail(event, "the event has no table schema");
  if (event.op == Op::kTruncate) return;  // a truncate carries no row
  if (event.row.size() != event.table->columns.size()) {
    fail(event, "the row has " + std::to_string(event.row.size()) + " values for " +
                    std::to_string(event.table->columns.size()) + " columns");
  }
}

void check_key_encodable(const ChangeEvent& event) {
  if (event.op == Op::kTruncate) fail(event, "a truncate event has no key");
  check_value_encodable(event);
  const TableSchema& table = *event.table;
  for (size_t index : table.key_indexes) {
    if (index >= table.columns.size()) {
      fail(event, "key column index " + std::to_string(index) + " is out of range");
    }
    const Datum::State state = event.row[index].state;
    if (state == Datum::State::kUnchanged || state == Datum::State::kAbsent) {
      // The pipeline must fill these from the old key; a guessed key would
      // send the record to the wrong partition.
      fail(event, "key column \"" + table.columns[index].name + "\" has no value (" +
                      (state == Datum::State::kUnchanged ? "unchanged TOAST" : "absent") + ")");
    }
  }
}

}  // namespace tombsync
