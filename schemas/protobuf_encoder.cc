#include "schemas/protobuf_encoder.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "base/error.h"
#include "tombsync/v1/change_event.pb.h"
#include "schemas/stream_position.h"
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

namespace {
// The datum to_proto_value wrote as `value`, for a column of `type`.
std::optional<Datum> datum_from_proto(ColumnType type, const v1::Value& value) {
  Datum d = Datum::of(Datum::State::kPresent);
  switch (value.kind_case()) {
    case v1::Value::kNull: return Datum::null();
    case v1::Value::kIntValue: d.i = value.int_value(); break;
    case v1::Value::kBoolValue: d.b = value.bool_value(); break;
    case v1::Value::kDoubleValue: d.d = value.double_value(); break;
    case v1::Value::kBytesValue: d.text = value.bytes_value(); break;
    case v1::Value::kJsonValue: d.text = value.json_value(); break;
    case v1::Value::kStringValue: d.text = value.string_value(); break;
    default: return std::nullopt;  // unchanged, or nothing: never in a key
  }
  (void)type;  // the round trip through key() checks that the kind fits the column's type
  return d;
}
}  // namespace

std::optional<std::vector<Datum>> ProtobufEncoder::decode_key(const TableSchema& table, std::string_view key) const {
  v1::Key message;
  if (!message.ParseFromArray(key.data(), static_cast<int>(key.size()))) return std::nullopt;
  if (static_cast<size_t>(message.columns_size()) != table.key_indexes.size()) return std::nullopt;
  std::vector<Datum> out;
  for (size_t i = 0; i < table.key_indexes.size(); ++i) {
    const v1::Column& c = message.columns(static_cast<int>(i));
    const ColumnSpec& spec = table.columns[table.key_indexes[i]];
    if (c.name() != spec.name) return std::nullopt;
    auto d = datum_from_proto(spec.type, c.value());
    if (!d) return std::nullopt;
    out.push_back(std::move(*d));
  }
  return out;
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

std::string ProtobufEncoder::value(const ChangeEvent& event, uint32_t seq) const {
  to_message(event, *scratch_event_);
  scratch_event_->set_seq(seq);
  scratch_event_->set_pos(stream_position(event.source.commit_lsn, seq));
  return serialize(*scratch_event_);
}

}  // namespace tombsync
