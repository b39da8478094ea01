#include "schemas/protobuf_encoder.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "base/error.h"
#include "tombsync/v1/change_event.pb.h"
#include "schemas/utf8.h"

namespace tombsync {
namespace {

// proto3 string fields must hold valid UTF-8, or consumers fail to parse.
const std::string& valid_utf8(const std::string& text, std::string& repaired) {
  if (is_valid_utf8(text)) return text;
  repaired = to_valid_utf8(text);
  return repaired;
}

v1::Op to_proto_op(Op op) {
  switch (op) {
    case Op::kInsert: return v1::OP_INSERT;
    case Op::kUpdate: return v1::OP_UPDATE;
    case Op::kDelete: return v1::OP_DELETE;
    case Op::kTruncate: return v1::OP_TRUNCATE;
    case Op::kRead: return v1::OP_READ;
  }
  return v1::OP_UNSPECIFIED;
}

void fill_column(const ColumnSpec& spec, const Datum& datum, v1::Column& column) {
  std::string repaired;
  column.set_name(valid_utf8(spec.name, repaired));
  column.set_type(valid_utf8(spec.type_name, repaired));
  column.set_key(spec.key);
  v1::Value& value = *column.mutable_value();
  if (datum.state == Datum::State::kUnchanged) {
    value.set_unchanged(true);
  } else {
    to_proto_value(spec.type, datum, value);
  }
}

// Deterministic serialization: today's messages have no maps, so this is what
// plain serialization does anyway; the flag keeps it true if a map is added.
std::string serialize(const google::protobuf::MessageLite& message) {
  const size_t size = message.ByteSizeLong();
  std::string out(size, '\0');
  google::protobuf::io::ArrayOutputStream array(out.data(), static_cast<int>(size));
  google::protobuf::io::CodedOutputStream coded(&array);
  coded.SetSerializationDeterministic(true);
  message.SerializeWithCachedSizes(&coded);
  if (coded.HadError()) throw Error(ErrorKind::kInternal, "protobuf serialization failed");
  return out;
}

}  // namespace

void to_proto_value(ColumnType type, const Datum& datum, v1::Value& value) {
  if (datum.state != Datum::State::kPresent) {
    value.set_null(true);
    return;
  }
  std::string repaired;
  switch (type) {
    case ColumnType::kInt16:
    case ColumnType::kInt32:
    case ColumnType::kInt64:
      value.set_int_value(datum.i);
      return;
    case ColumnType::kBool:
      value.set_bool_value(datum.b);
      return;
    case ColumnType::kFloat32:
    case ColumnType::kFloat64:
      value.set_double_value(datum.d);
      return;
    case ColumnType::kBytea:
      value.set_bytes_value(datum.text);
      return;
    case ColumnType::kJson:
      value.set_json_value(valid_utf8(datum.text, repaired));
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
      value.set_string_value(valid_utf8(datum.text, repaired));
      return;
  }
  throw Error(ErrorKind::kInternal, "unknown column type");
}

ProtobufEncoder::ProtobufEncoder()
    : scratch_event_(std::make_unique<v1::ChangeEvent>()),
      scratch_key_(std::make_unique<v1::Key>()) {}

ProtobufEncoder::~ProtobufEncoder() = default;

void ProtobufEncoder::to_message(const ChangeEvent& event, v1::ChangeEvent& message) const {
  check_value_encodable(event);
  const TableSchema& table = *event.table;
  std::string repaired;
  message.Clear();
  message.set_op(to_proto_op(event.op));
  message.set_schema(valid_utf8(table.schema, repaired));
  message.set_table(valid_utf8(table.table, repaired));
  for (size_t i = 0; i < event.row.size(); ++i) {
    if (event.row[i].state == Datum::State::kAbsent) continue;
    fill_column(table.columns[i], event.row[i], *message.add_columns());
  }
  message.set_is_deleted(event.is_deleted);
  message.set_deleted_at_us(event.is_deleted && event.deleted_at_us ? event.deleted_at_us->value() : 0);
  message.set_lsn(event.source.lsn.str());
  message.set_commit_lsn(event.source.commit_lsn.str());
  message.set_xid(event.source.xid);
  message.set_commit_ts_us(event.source.commit_ts_us.value());
  if (event.is_deleted && event.origin == DeleteOrigin::kTruncate)
    message.set_delete_origin(v1::DELETE_ORIGIN_TRUNCATE);
  else if (event.is_deleted && event.origin == DeleteOrigin::kInferred)
    message.set_delete_origin(v1::DELETE_ORIGIN_INFERRED);
}

std::string ProtobufEncoder::key(const ChangeEvent& event) const {
  check_key_encodable(event);
  const TableSchema& table = *event.table;
  v1::Key& message = *scratch_key_;
  message.Clear();
  std::string repaired;
  for (size_t index : table.key_indexes) {
    // Name and value only: leaving the type out keeps a key's bytes, and so its
    // partition, stable when a key column is widened (int4 -> int8, varchar -> text).
    v1::Column& column = *message.add_columns();
    column.set_name(valid_utf8(table.columns[index].name, repaired));
    to_proto_value(table.columns[index].type, event.row[index], *column.mutable_value());
  }
  return serialize(message);
}

std::string ProtobufEncoder::value(const ChangeEvent& event) const {
  to_message(event, *scratch_event_);
  return serialize(*scratch_event_);
}

}  // namespace tombsync
