// Turns decoded pgoutput messages into ChangeEvents: keeps the relation cache
// (following ALTER TABLE through new Relation messages), maps tuples to typed
// rows, and applies the change contract of docs/contract.md section 1: deletes are
// flagged with the commit time, and an UPDATE that changes the key becomes a
// delete of the old key followed by an upsert of the new one.
// Called from the pipeline thread only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "schemas/change.h"
#include "connectors/postgres/pgoutput_messages.h"
#include "connectors/postgres/source_catalog.h"

namespace tombsync::pg {

struct TxnBegin {
  Lsn commit_lsn;
  uint32_t xid = 0;
  UnixMicros commit_ts_us;
};

struct TxnCommit {
  Lsn commit_lsn;
  Lsn end_lsn;
};

// What one message meant, besides the events it appended.
struct BuildStep {
  std::optional<TxnBegin> begin;
  std::optional<TxnCommit> commit;
  std::optional<LogicalMsg> message;
  std::optional<std::string> notice;  // something an operator should read once (e.g. an unconfigured table)
};

class ChangeBuilder {
 public:
  ChangeBuilder(const std::vector<ResolvedTable>& tables,
                std::unordered_map<uint32_t, std::string> type_names);

  // `wal_start` is the XLogData's start LSN. Data changes are appended to
  // `out`. Throws Error(kProtocol) for a change outside a transaction or of
  // an unknown relation, Error(kSource) when a key column disappeared. Every
  // event of a keyed table carries its key columns (present or NULL): a row
  // image without one is Error(kSource) (the replica identity does not cover
  // it) or Error(kProtocol) (an unchanged TOAST key without an old key image).
  // Values are moved out of `msg`'s tuples (a large value is not copied): pass a temporary.
  BuildStep apply(PgOutputMessage msg, Lsn wal_start, std::vector<ChangeEvent>& out);

  bool in_transaction() const { return current_.has_value(); }

 private:
  struct Relation {
    std::shared_ptr<const TableSchema> schema;
    std::vector<bool> in_identity;  // per column, from the Relation message
  };

  BuildStep on_relation(const RelationMsg& m);
  static void check_commit_time(const BeginMsg& m, Lsn wal_start);
  const Relation& relation(RelationId relid, Lsn wal_start, const char* what);
  std::vector<Datum> to_row(const Relation& rel, Tuple& tuple, bool key_only_image, Lsn wal_start);
  // Error(kSource) for a key column absent from the row image, Error(kProtocol) for one unchanged.
  void require_key(Op op, const Relation& rel, const std::vector<Datum>& row, Lsn wal_start) const;
  ChangeEvent event(Op op, const Relation& rel, std::vector<Datum> row, Lsn wal_start) const;
  bool same_key(const TableSchema& t, const std::vector<Datum>& a, const std::vector<Datum>& b) const;
  std::string type_name(uint32_t oid) const;

  struct Configured {
    std::string name;                      // "schema.table" as configured
    std::vector<std::string> key_columns;
  };
  std::unordered_map<RelationId, Configured> configured_;
  std::unordered_map<uint32_t, std::string> type_names_;
  std::unordered_map<RelationId, Relation> relations_;
  std::unordered_map<RelationId, bool> ignored_;  // relids published but not configured
  std::optional<TxnBegin> current_;
};

}  // namespace tombsync::pg
