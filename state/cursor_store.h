// Where tombsync keeps its sync cursors. The confirmed position of a slot is
// the end LSN of the last transaction whose every record Kafka acknowledged;
// save_confirmed() returns only once it is durable, and only then may the
// position be reported to Postgres as the flush LSN.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/lsn.h"
#include "state/ledger_delta.h"

namespace tombsync {

// How far the snapshot of one table got. `last_key` holds the key column
// values, in Postgres text form, of the last row whose chunk Kafka
// acknowledged; the next chunk starts after it.
struct SnapshotProgress {
  bool done = false;
  std::optional<std::vector<std::string>> last_key;
  uint64_t rows = 0;
  // A reconciliation's re-read (docs/deletes.md "Reconciliation"): its mark (never 0; 0: a plain
  // snapshot). While the re-read runs, every key it reads or the stream makes live is stamped
  // with the mark in the ledger; when it is done, the keys not stamped are the ones the source no
  // longer has. `dry_run`: the re-read publishes nothing and only counts them.
  uint32_t reconcile_mark = 0;
  bool dry_run = false;
  std::string request_id;  // the `tombsync reconcile` request it answers; empty: none (a lost slot)
};

// Streams the keys one table holds in the key ledger, in byte order, from a
// consistent view taken when it was made (later writes are not seen). Holds
// one key at a time: a table's keys are never all in memory.
class LedgerKeys {
 public:
  virtual ~LedgerKeys() = default;
  // The next key (the Kafka record key bytes) into `key`; false at the end.
  // Throws Error(kState) when the store cannot be read (a damaged block too).
  virtual bool next(std::string& key) = 0;
  // The reconciliation mark the key was last stamped with (0: none), for the key `next` gave.
  virtual uint32_t mark() const = 0;
  // Its row (`ledger: rows`), valid until the next call of next(); empty: none kept.
  virtual std::string_view row() const { return {}; }
};

class CursorStore {
 public:
  virtual ~CursorStore() = default;
  virtual std::optional<Lsn> load_confirmed(const std::string& slot) = 0;
  // Durable (synced) on return, together with `ledger` (one write: the ledger
  // moves with the cursor, never without it). Throws Error(kState) on failure,
  // and every call after a failure throws too: a store that lost a write is not
  // written again.
  virtual void save_confirmed(const std::string& slot, Lsn lsn, const LedgerDelta& ledger) = 0;
  void save_confirmed(const std::string& slot, Lsn lsn) { save_confirmed(slot, lsn, LedgerDelta{}); }
  // The source (cluster system identifier + database) a slot's cursor belongs
  // to, so a state dir reused against another database is refused, not trusted.
  virtual std::optional<std::string> load_source_identity(const std::string& slot) = 0;
  virtual void save_source_identity(const std::string& slot, const std::string& identity) = 0;
  // Per table ("schema.table") of a slot; synced like the cursor.
  virtual std::optional<SnapshotProgress> load_snapshot(const std::string& slot, const std::string& table) = 0;
  // `ledger` (the keys of the chunk's rows) is written in the same synced write as `p`.
  virtual void save_snapshot(const std::string& slot, const std::string& table, const SnapshotProgress& p,
                             const LedgerDelta& ledger) = 0;
  void save_snapshot(const std::string& slot, const std::string& table, const SnapshotProgress& p) {
    save_snapshot(slot, table, p, LedgerDelta{});
  }
  virtual void clear_snapshot(const std::string& slot, const std::string& table) = 0;
  // Forgets everything kept for `slot` (cursor, source identity, snapshot
  // progress of every table), in one synced batch: after the slot is dropped,
  // the next run starts over with a new slot and fresh snapshots. The key
  // ledger is kept: the topics still hold its keys as live (a fresh snapshot
  // puts the live ones again; the others are what reconciliation deletes).
  virtual void forget_slot(const std::string& slot) = 0;

  // The key ledger. A table's id, assigned (and synced) at its first call and
  // the same ever after for that slot and table ("schema.table").
  virtual LedgerTableId ledger_table(const std::string& slot, const std::string& table) = 0;
  // Keys the ledger holds for the table: a counter kept with the keys, no scan.
  // 0 for a table that has none (or no id yet).
  virtual uint64_t ledger_count(const std::string& slot, const std::string& table) = 0;
  // Every key of the table, streamed (see LedgerKeys).
  virtual std::unique_ptr<LedgerKeys> ledger_keys(const std::string& slot, const std::string& table) = 0;
  // `ledger: rows`: the row stored with `key` (the Kafka record key bytes) of table `table`, as
  // saved (not the changes held in memory: LedgerRecorder merges those). Unset: the ledger lacks
  // the key; empty: it holds the key without a row. Throws Error(kState) when the read fails.
  virtual std::optional<std::string> ledger_row(LedgerTableId table, std::string_view key) = 0;

  // Starts a reconciliation of each of `tables` ("schema.table", each keeping a ledger), in one
  // synced write: per table a new mark, one more than any it had (kept with the ledger, so
  // forget_slot keeps it too), and its snapshot progress reset to the first row with that mark
  // and `dry_run` (and `request_id`). With `forget_cursor` (a lost slot), the same write forgets the slot's cursor,
  // source identity and the snapshot progress of every other table, as forget_slot does: a crash
  // cannot leave the cursor gone and the reconciliation not recorded; it also counts the slot's
  // incarnation up (slot_incarnation). Returns the marks, in the
  // order of `tables`. Throws Error(kState) like the other writes.
  virtual std::vector<uint32_t> begin_reconcile(const std::string& slot, const std::vector<std::string>& tables,
                                                bool dry_run, bool forget_cursor,
                                                const std::string& request_id = "") = 0;
  // A TRUNCATE of a table being reconciled: the stamps made before it no longer show a live key.
  // Gives the table a new mark (one more than any it had) and saves `progress` with it, in one
  // synced write; returns the mark.
  virtual uint32_t renew_reconcile_mark(const std::string& slot, const std::string& table, SnapshotProgress progress) = 0;
  // How many times begin_reconcile with forget_cursor started the slot over (0: never): a slot
  // made again after a restore or failover streams positions that records of the lost one may
  // already have in Kafka, so records name the incarnation (header tombsync.source) and a restart
  // tells them apart (RedeliveryFilter).
  virtual uint32_t slot_incarnation(const std::string& slot) = 0;
  // A first start of the slot in a store that never held its state (a fresh state_dir): a random
  // incarnation, so that records an earlier state_dir wrote for the same slot name are never
  // taken for this one's. Keeps one already set. forget_slot counts the incarnation up too.
  virtual void start_incarnation(const std::string& slot) = 0;
};

// Opens (creating if needed) the RocksDB store in `dir`. Throws Error(kState)
// naming the directory and the reason (e.g. locked by another tombsync). A
// damaged store is refused, here or at the read that meets the damage, with the
// line of state/store_integrity.h: a corrupt WAL record (anywhere, the tail
// too), an SST block whose checksum fails (every block is verified at open),
// or a cursor value whose checksum fails.
std::unique_ptr<CursorStore> open_rocksdb_cursor_store(const std::string& dir);

// Opens the store in `dir` as the agent does (so not while one runs), compacts all of it into
// its last level, and returns the bytes of its SST files: what the state costs on disk, the
// key ledger included (scripts/bench, the hidden `tombsync compact-state`). Throws as the open.
uint64_t compact_rocksdb_cursor_store(const std::string& dir);

}  // namespace tombsync
