// The messages of the pgoutput logical replication protocol, version 1, as
// PostgreSQL 15 sends them inside XLogData frames.
// Spec: https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/lsn.h"
#include "schemas/change.h"
#include "base/timestamps.h"

namespace tombsync::pg {

// One column of a TupleData: 'n' null, 'u' unchanged TOAST, 't' text, 'b' binary.
struct TupleValue {
  char kind = 'n';
  std::string data;  // bytes for 't' and 'b'; empty otherwise
};
using Tuple = std::vector<TupleValue>;

struct BeginMsg {        // 'B'
  Lsn final_lsn;         // LSN of the transaction's commit record
  PgMicros commit_ts;    // on the wire: microseconds since 2000-01-01 UTC
  uint32_t xid = 0;
};

struct CommitMsg {       // 'C'
  uint8_t flags = 0;
  Lsn commit_lsn;
  Lsn end_lsn;
  PgMicros commit_ts;
};

struct OriginMsg {       // 'O'
  Lsn commit_lsn;
  std::string name;
};

struct RelationColumn {
  uint8_t flags = 0;     // 1 = part of the replica identity
  std::string name;
  uint32_t type_oid = 0;
  int32_t type_mod = -1;
  bool in_identity() const { return (flags & 1) != 0; }
};

struct RelationMsg {     // 'R'
  RelationId relid;
  std::string nspname;
  std::string relname;
  char replica_identity = 'd';  // d default, n nothing, f full, i index
  std::vector<RelationColumn> columns;
};

struct TypeMsg {         // 'Y'
  uint32_t oid = 0;
  std::string nspname;
  std::string typname;
};

struct InsertMsg {       // 'I'
  RelationId relid;
  Tuple new_tuple;
};

struct UpdateMsg {       // 'U'
  RelationId relid;
  char old_kind = 0;     // 'K' key-only old tuple, 'O' full old tuple, 0 none
  Tuple old_tuple;       // empty when old_kind == 0
  Tuple new_tuple;
};

struct DeleteMsg {       // 'D'
  RelationId relid;
  char old_kind = 'K';   // 'K' or 'O'
  Tuple old_tuple;
};

struct TruncateMsg {     // 'T'
  uint8_t options = 0;   // 1 CASCADE, 2 RESTART IDENTITY
  std::vector<RelationId> relids;
};

struct LogicalMsg {      // 'M' (pg_logical_emit_message)
  bool transactional = false;
  Lsn lsn;
  std::string prefix;
  std::string content;
};

using PgOutputMessage = std::variant<BeginMsg, CommitMsg, OriginMsg, RelationMsg, TypeMsg,
                                     InsertMsg, UpdateMsg, DeleteMsg, TruncateMsg, LogicalMsg>;

}  // namespace tombsync::pg
