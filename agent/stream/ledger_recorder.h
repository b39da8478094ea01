// Collects the key ledger's changes (docs/architecture.md "The key ledger")
// from the records the stream builds, and holds them until the position they
// belong to is saved:
//  - every keyed record of a table with `ledger: keys`, before the
//    RedeliveryFilter (a record already in Kafka after a restart is skipped,
//    but its change to the ledger is not): a record with a value that is not
//    a delete event puts its key (insert, update, snapshot read, a soft-delete
//    restore, the new side of a key change); a delete event or a tombstone
//    erases it (hard delete, soft delete, the old side of a key change). The key
//    is the Kafka record key bytes exactly as written. A truncate's event
//    changes nothing here (it has no key); an expanded TRUNCATE records one
//    clear of the table (on_clear) instead of one erase per key, so that its
//    memory does not grow with the table (TruncateExpander).
//  - per transaction: the stream's changes go out with the cursor that passes
//    the transaction's end LSN (take_acknowledged, in the same synced write,
//    CursorStore::save_confirmed); a snapshot chunk's rows go out with that
//    chunk's progress (take_snapshot_rows, CursorStore::save_snapshot), since a
//    restart re-reads a chunk only when its progress was not saved.
// With `ledger: rows` a put also carries the key's complete row
// (agent/stream/ledger_row_codec.h), and row_of() answers what the ledger
// holds for a key as of the record last built: the newest unsaved change, else
// the store. LedgerRowFill uses it to give deletes their old row.
// Memory: only transactions that are not saved yet hold changes, about the key
// size + 6 bytes per change (LedgerDelta), plus the row with `ledger: rows`
// and, for those tables, one index entry per key changed (its newest change);
// a transaction of N changes holds N until Kafka acknowledged all of it and the
// next checkpoint saved it.
// Pipeline thread only.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/config/config.h"
#include "agent/ops/metrics.h"
#include "agent/stream/pending_row_index.h"
#include "base/lsn.h"
#include "schemas/change.h"
#include "schemas/record.h"
#include "state/cursor_store.h"
#include "state/ledger_delta.h"

namespace tombsync {

class LedgerRecorder {
 public:
  // Ids of the tables are taken from `store` for `slot` at each table's first record.
  LedgerRecorder(const Config& config, CursorStore& store, std::string slot);
  LedgerRecorder(const LedgerRecorder&) = delete;  // the row index refers back to txns_
  LedgerRecorder& operator=(const LedgerRecorder&) = delete;

  // A transaction the loop delivers begins (not one the start position skips). An earlier one
  // that never committed (a forced stop) is dropped: nothing of it is confirmed.
  void on_begin(Lsn commit_lsn);
  // `records`: what RecordBuilder made of one change (or snapshot row) of `table`. A key made
  // live is stamped with the table's reconciliation mark, while one runs (set_mark).
  // `row`: the event's complete row (after filling; before the soft-delete and redaction rules),
  // stored with the key by a table with `ledger: rows`; null for the others.
  void on_records(const TableSchema& table, const std::vector<Record>& records, bool snapshot_row,
                  const std::vector<Datum>* row = nullptr);
  // A dry-run reconciliation's re-read row (nothing was published): its key is stamped with the
  // table's mark if the ledger holds it, and the ledger's keys do not change. With the snapshot
  // rows' changes (saved with the chunk's progress).
  void on_marks(const TableSchema& table, const std::vector<Record>& records);
  // A reconciliation of `table` ("schema.table") starts (mark) or is swept (0). A table's mark is
  // also read from its snapshot progress at its first record (a restart during a reconciliation).
  void set_mark(const std::string& table, uint32_t mark);
  void on_commit(Lsn commit_lsn, Lsn end_lsn);
  // Every key of `table` is gone (an expanded TRUNCATE, in the transaction being read).
  void on_clear(const TableSchema& table);

  // The table's ledger id; unset when it keeps none (ledger: none, or no key).
  std::optional<LedgerTableId> table_id(const TableSchema& table);
  // Whether the table keeps rows (`ledger: rows`).
  bool keeps_rows(const TableSchema& table) const;
  // `ledger: rows`: the row the ledger holds for `key` (the Kafka record key bytes) as of the
  // record last built. Unset: the key is not live (never put, erased, or cleared); an empty view:
  // live without a row (put before the table kept rows). The view is valid until the next call
  // of any method. Throws Error(kState) when the store cannot be read.
  std::optional<std::string_view> row_of(const TableSchema& table, std::string_view key);
  // The changes to `table`'s keys held here, not saved yet, collapsed in stream order. With the
  // store's keys (CursorStore::ledger_keys) they give the ledger as of the record last built.
  // A copy: its size is the table's pending changes, which this recorder holds anyway.
  struct Key {
    enum class State : uint8_t { kLive, kGone, kMarked } state;  // kMarked: stamped if the store holds it
    uint32_t mark = 0;  // of kLive or kMarked; 0 leaves the store's mark of a key it holds
  };
  struct Pending {
    bool cleared = false;             // a clear not saved yet: the store's keys no longer count
    std::map<std::string, Key> keys;  // per key, what its changes made it
  };
  Pending pending_of(const TableSchema& table);

  // Appends to `out`, and forgets, the stream's changes of every committed transaction ending at
  // or before `acked` (and the snapshot rows' changes no chunk progress took).
  void take_acknowledged(Lsn acked, LedgerDelta& out);
  // Appends to `out`, and forgets, the snapshot rows' changes of the transaction ending at `end_lsn`.
  void take_snapshot_rows(Lsn end_lsn, LedgerDelta& out);
  // When committed transactions before the one ending at `end_lsn` hold changes not saved yet:
  // the end LSN of the last of them. The cursor must be saved there first
  // (Checkpointer::save_through), so that a snapshot chunk's rows are applied after every earlier
  // change: saved after them, an earlier clear (an expanded TRUNCATE) would wipe them, and an
  // earlier put would be missing when a dry run's kMark of the same key is applied (it stamps
  // only keys the store holds); also when a crash makes the restart read those again.
  std::optional<Lsn> unsaved_before(Lsn end_lsn) const;

  size_t pending_entries() const;  // changes held, for tests and the memory bound
  // Sets each ledger table's tombsync_ledger_keys from the store's counter (no scan).
  void publish(Metrics& metrics);

 private:
  struct Txn {
    Lsn commit_lsn;
    Lsn end_lsn;
    bool committed = false;
    LedgerDelta stream;
    LedgerDelta snapshot;
    uint64_t serial = 0;  // increasing along txns_, for the row index
  };
  struct Cleared {
    uint64_t serial;  // of the transaction with the clear
    uint64_t order;   // changes before it no longer count
  };
  void forget_rows(const Txn& t, bool stream, bool snapshot);
  void rebuild_rows_index();
  Txn* txn_by_serial(uint64_t serial);
  const Config& config_;
  CursorStore& store_;
  std::string slot_;
  std::deque<Txn> txns_;  // in commit order; only those with changes once committed
  struct TableState {
    std::string name;                // "schema.table"
    std::optional<LedgerTableId> id;  // unset: ledger: none
    uint32_t mark = 0;               // of the reconciliation under way; 0: none
    bool rows = false;               // ledger: rows
  };
  PendingRowIndex pending_rows_;  // ledger: rows tables only
  std::unordered_map<uint32_t, Cleared> cleared_in_;  // ledger: rows table id -> its last unsaved clear
  std::unordered_set<uint32_t> rows_ids_;             // ledger ids of the ledger: rows tables
  uint64_t next_serial_ = 1;
  uint64_t next_order_ = 1;
  std::string encoded_;  // a row being encoded, reused
  std::string read_;     // the last row read from the store (row_of's view)
  TableState& state_of(const TableSchema& table);
  std::unordered_map<RelationId, TableState> ids_;
  std::vector<std::string> tables_;  // "schema.table" of the configured tables with ledger: keys
};

}  // namespace tombsync
