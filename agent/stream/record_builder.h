// Applies the per-table output policy to change events: topic routing, the
// delete policy (flagged event, tombstone, or both), encoding and headers.
// Every record, tombstones included, carries the headers tombsync.op,
// tombsync.lsn, tombsync.commit_lsn, tombsync.seq, tombsync.xid,
// tombsync.commit_ts, tombsync.table and tombsync.source (commit_lsn, seq and
// source let RedeliveryFilter recognise records already in Kafka). A record
// cut to fit message.max.bytes also carries tombsync.oversized (OversizedGuard).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "schemas/change.h"
#include "agent/config/config.h"
#include "schemas/encoder.h"
#include "schemas/record.h"
#include "agent/ops/metrics.h"
#include "agent/stream/oversized_guard.h"
#include "agent/stream/row_policy.h"

namespace tombsync {

class RecordBuilder {
 public:
  // `source` names the database and slot ("<system id>/<database>/<slot>"). Records are kept
  // within the producer's message.max.bytes (OversizedGuard); its cuts are counted in
  // `metrics` when given.
  RecordBuilder(const Config& config, const Encoder& encoder, std::string source, Metrics* metrics = nullptr);
  // Restarts the per-transaction record ordinal; call at each Begin.
  void begin_transaction() { seq_ = 0; }
  // Appends the records for `event` to `out`, in the order they must reach Kafka.
  // The table's soft-delete and redaction rules (RowPolicy) apply first, to a copy of the
  // event, made only when a rule may change it: every row image but a delete's for a table
  // with soft_delete_column, and every delete for a table with redact_on_delete. Otherwise,
  // and for oversized cuts, no value is copied whole.
  void build(const ChangeEvent& event, std::vector<Record>& out);

 private:
  struct Route {
    std::string topic;
    DeletePolicy deletes;
    std::string table;  // "schema.table", for the header
    bool soft_delete;   // soft_delete_column set
    bool redact;        // redact_on_delete set
    OversizedPolicy oversized;
    Metrics::Table* counters;  // null without Metrics
  };
  struct TxnHeaders {
    Lsn commit_lsn;
    std::string text_commit_lsn, xid, commit_ts;
  };
  const Route& route(const TableSchema& table);
  Record base(const ChangeEvent& e, const Route& r, const char* op);
  void build_records(const ChangeEvent& event, std::vector<Record>& out);

  const Config& config_;
  const Encoder& encoder_;
  RowPolicy policy_;
  OversizedGuard oversized_;
  Metrics* metrics_;
  std::string source_;
  uint32_t seq_ = 0;
  TxnHeaders txn_;
  std::unordered_map<RelationId, Route> routes_;
};

}  // namespace tombsync
