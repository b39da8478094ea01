// Completes events from the rows the key ledger keeps (`ledger: rows`,
// docs/deletes.md "Deleted rows"): a delete (hard, soft, TRUNCATE-expanded or
// inferred) gets the row it deleted, which the default replica identity does
// not send; an update gets the unchanged TOAST values it lacks. The row is the
// one the ledger holds for the key as of the event (LedgerRecorder::row_of):
// the key's last complete record, never a later one. The new key of a
// primary-key change takes its values from the old key's row, which the delete
// just before it (the same change, in the same transaction) carried.
// What the ledger cannot fill (a key it never saw complete: an upgraded agent,
// a table switched to rows) stays a gap: RowFiller then reads the source for an
// update; a delete goes out with what Postgres sent, counted as missing.
// Redaction (redact_on_delete) applies afterwards, in RecordBuilder, to the
// filled row as to any other.
// Pipeline thread only, called by StreamLoop for every event before its records are built.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/ops/metrics.h"
#include "agent/stream/ledger_recorder.h"
#include "schemas/change.h"
#include "schemas/encoder.h"

namespace tombsync {

class LedgerRowFill {
 public:
  LedgerRowFill(LedgerRecorder& ledger, const Encoder& encoder, Metrics* metrics)
      : ledger_(ledger), encoder_(encoder), metrics_(metrics) {}

  // When `e` is of a table with `ledger: rows` and has gaps the ledger can fill: `out` becomes
  // the filled copy and the result is true; otherwise `out` is untouched. Keeps the row of a
  // delete for a key change's update that may follow it. Throws Error(kState) when the store
  // cannot be read.
  bool complete(const ChangeEvent& e, ChangeEvent& out);

  // While RowFiller holds events (their changes not in the ledger yet): the loop completes an event
  // before holding it only when no held event changed its key (held_key false), so the ledger's
  // row is still the one as of the event; the source is then read only for what the ledger lacks.
  bool held_key(const ChangeEvent& e) const;
  void on_held(const ChangeEvent& e);
  void on_released() { held_keys_.clear(); }
  // An event the loop did not complete here (its key held): a key change's update after it must
  // not take the row of an earlier delete.
  void passed_over() { last_deleted_table_ = RelationId(0); }

 private:
  Metrics::Table* counters(const TableSchema& t);
  bool applies(const ChangeEvent& e) const {
    return e.op != Op::kTruncate && !e.table->key_indexes.empty() && ledger_.keeps_rows(*e.table);
  }
  std::string held_id(const ChangeEvent& e) const;

  LedgerRecorder& ledger_;
  const Encoder& encoder_;
  Metrics* metrics_;
  // The last delete of a ledger: rows table, complete as far as the ledger knew it.
  RelationId last_deleted_table_{0};
  std::vector<Datum> last_deleted_;
  std::unordered_map<RelationId, Metrics::Table*> tables_;
  std::unordered_set<std::string> held_keys_;  // relation id + key bytes of the held events
};

}  // namespace tombsync
