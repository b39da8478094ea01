#include "schemas/change.h"

namespace tombsync {

const char* to_string(ColumnType type) {
  switch (type) {
    case ColumnType::kInt16: return "int16";
    case ColumnType::kInt32: return "int32";
    case ColumnType::kInt64: return "int64";
    case ColumnType::kBool: return "bool";
    case ColumnType::kFloat32: return "float32";
    case ColumnType::kFloat64: return "float64";
    case ColumnType::kNumeric: return "numeric";
    case ColumnType::kText: return "text";
    case ColumnType::kUuid: return "uuid";
    case ColumnType::kDate: return "date";
    case ColumnType::kTime: return "time";
    case ColumnType::kTimestamp: return "timestamp";
    case ColumnType::kTimestampTz: return "timestamptz";
    case ColumnType::kInterval: return "interval";
    case ColumnType::kJson: return "json";
    case ColumnType::kBytea: return "bytea";
    case ColumnType::kOther: return "other";
  }
  return "other";
}

const char* to_string(Op op) {
  switch (op) {
    case Op::kInsert: return "insert";
    case Op::kUpdate: return "update";
    case Op::kDelete: return "delete";
    case Op::kTruncate: return "truncate";
    case Op::kRead: return "read";
  }
  return "unknown";
}

const char* to_string(DeleteOrigin origin) {
  switch (origin) {
    case DeleteOrigin::kRow: return "row";
    case DeleteOrigin::kTruncate: return "truncate";
    case DeleteOrigin::kInferred: return "inferred";
  }
  return "unknown";
}

char op_code(Op op) {
  switch (op) {
    case Op::kInsert: return 'c';
    case Op::kUpdate: return 'u';
    case Op::kDelete: return 'd';
    case Op::kTruncate: return 't';
    case Op::kRead: return 'r';
  }
  return '?';
}

}  // namespace tombsync
