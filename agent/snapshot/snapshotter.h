// Initial snapshots and backfills that run while the stream keeps flowing,
// with the watermark technique of Netflix's DBLog (also Debezium's
// incremental snapshots): per chunk of rows, in key order,
//   1. a low watermark is written to the WAL (pg_logical_emit_message),
//   2. the chunk is read: COPY (SELECT ... WHERE key > last ORDER BY key LIMIT n),
//   3. a high watermark is written.
// Reading the stream on, every row the stream changes between the two
// watermarks is dropped from the chunk (the stream's newer value wins), and at
// the high watermark the rest is emitted as op=read events, in the stream's
// order. So nothing is lost or applied twice at the hand-off, and no
// exported snapshot is needed: a crash resumes after the last chunk Kafka
// acknowledged (progress in RocksDB).
//
// Parallelism: up to `snapshot_max_connections` tables are read at once, each
// by a reader thread with its own connection (SnapshotReader), each chunk in
// its own watermark window; the watermark's content names the chunk (and its
// table), so the stream side knows which window it opens or closes. A table
// keeps its reader until its last chunk is read, and reads the next chunk
// while the previous one is produced.
// Bounds:
//  - memory: chunks read or being read but not yet emitted are at most
//    snapshot_max_connections, so at most that many times snapshot_chunk_rows
//    rows are held; a chunk starts only when the pipeline asks (it does so while
//    the producer has room);
//  - a crash re-sends at most kMaxUnsavedChunks chunks of each table being read
//    (a chunk starts only while fewer of its table's chunks await Kafka's
//    acknowledgement and their saved progress).
// Threads: every public method is called from the pipeline thread; the reader
// threads only read Postgres and hand rows over (state below `mu_`).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "schemas/change.h"
#include "connectors/postgres/change_builder.h"
#include "agent/config/config.h"
#include "state/cursor_store.h"
#include "connectors/postgres/source_catalog.h"

namespace tombsync {

// A table's snapshot, for metrics.
struct SnapshotTableStatus {
  std::string table;                  // "schema.table"
  uint64_t rows_done = 0;             // rows Kafka acknowledged (saved progress, this run and earlier ones)
  uint64_t rows_estimated_total = 0;  // pg_class.reltuples when its snapshot began, at least rows_done
  bool done = false;                  // every row read and acknowledged
  bool reconciling = false;           // a reconciliation's re-read, not swept yet
};

// A reconciliation's re-read (SnapshotProgress::reconcile_mark) reached the high watermark of
// its last chunk: its sweep is due there, in that transaction, after the chunk's rows.
struct ReconcileSweep {
  std::shared_ptr<const TableSchema> table;
  uint32_t mark = 0;
  bool dry_run = false;
  std::string request_id;
  uint64_t rows_read = 0;  // by the whole re-read, restarts included
  double read_seconds = 0;  // by this run's part of it
  SourcePosition at;        // the high watermark's
};

// What a high watermark ended: the rows appended are a dry run's (mark them, publish nothing),
// and the sweep that is due after them.
struct ChunkEnd {
  bool dry_run = false;
  std::optional<ReconcileSweep> sweep;
};

class Snapshotter {
 public:
  // A crash re-sends at most this many chunks per table being read. Three keep
  // a table's reader busy: the chunk being produced, the one before it (its
  // acknowledgements are served once the pipeline is done producing), and the
  // one read ahead.
  static constexpr int kMaxUnsavedChunks = 3;

  // Tables whose progress is missing or unfinished are snapshotted, in config
  // order. Reads their columns and keys now, over the first reader's
  // connection. Throws Error(kSource) for a table that cannot be paged (no key,
  // a nullable key column).
  Snapshotter(const Config& config, const std::string& slot, CursorStore& store,
              const std::vector<pg::ResolvedTable>& tables,
              const std::unordered_map<uint32_t, std::string>& type_names);
  // Stops the readers; a read under way is cancelled.
  ~Snapshotter();

  // Whether start_chunk() would hand a chunk to a reader now. Rethrows a
  // reader's failure (Error(kSource), ...).
  bool wants_chunk();
  // Hands the next chunks to the readers, as many as the bounds allow. Does
  // not wait for Postgres: the rows come back through on_message.
  void start_chunk();
  // A chunk's rows are all acknowledged at `acked` but its progress is not saved yet.
  bool confirmable(Lsn acked) const {
    return !confirmations_.empty() && confirmations_.front().end_lsn <= acked;
  }

  // Stream side, in stream order. A TRUNCATE of a table being reconciled renews its mark
  // (CursorStore::renew_reconcile_mark): keys stamped before it are no longer shown live.
  void on_change(const ChangeEvent& e);
  // The mark of the reconciliation re-reading the table, while it has not swept; unset otherwise.
  std::optional<uint32_t> reconcile_mark(RelationId relid) const;
  // At a chunk's high watermark, appends its surviving rows to `out` as read events.
  ChunkEnd on_message(const pg::LogicalMsg& m, const pg::TxnBegin& txn, Lsn wal_start, std::vector<ChangeEvent>& out);
  void on_commit(Lsn commit_lsn, Lsn end_lsn);
  // Kafka acknowledged everything up to `acked`: persists the progress of the
  // chunks that position covers. Called before the cursor itself is saved.
  // `rows_ledger(end_lsn, out)` appends the key-ledger changes of the rows of
  // the chunk whose high watermark's transaction ends at end_lsn; they are
  // written in the same synced write as its progress.
  using RowsLedger = std::function<void(Lsn end_lsn, LedgerDelta& out)>;
  void on_acknowledged(Lsn acked, const RowsLedger& rows_ledger = nullptr);

  // Snapshots `resolved` again from its first row (an on-demand backfill, or a
  // reconciliation's re-read): its progress must already be cleared (or reset by
  // CursorStore::begin_reconcile) in the store. Returns false when it is being
  // read already. Its columns are read by the reader that takes it.
  bool add_table(const pg::ResolvedTable& resolved);
  bool is_reading(RelationId relid) const;  // a snapshot of the table is under way

  // Every table done and its last chunk acknowledged.
  bool finished() const;
  // A line per table in progress, at most every few seconds; empty otherwise.
  std::vector<std::string> progress_lines();
  // Every table this snapshotter reads or has read, in config order.
  std::vector<SnapshotTableStatus> status() const;

 private:
  struct Table;
  struct Chunk;
  struct Reader;
  struct Job;
  struct Confirmation {
    Lsn end_lsn;
    Table* table;
    SnapshotProgress progress;
  };

  void reader_loop(Reader& r);
  void check_readers();                    // rethrows a reader's failure
  void absorb(Chunk& c);                   // takes a finished read's rows over; mu_ held
  void absorb_ready();                     // absorb() for every finished read
  Reader* reader_for(const Table& t) const;  // its own reader, or a free one
  Table* next_table(Reader*& reader);      // the next table a chunk may start for, and its reader
  static std::string title(const Table& t);
  Table* reconciling(RelationId relid) const;  // a table being re-read by a reconciliation, not swept yet
  bool keeps_ledger(const TableConfig& tc, const pg::ResolvedTable& resolved) const;
  void end_reconcile(const pg::ResolvedTable& resolved, SnapshotProgress& progress);
  void finish_job(const Table& t) const;
  void renew_mark(RelationId relid);
  void log_start(const Table& t) const;
  void publish_reading(const Table& t, double rate, double total) const;  // a reconciliation's job progress
  std::string watermark(const char* kind, const Chunk& c) const;

  const Config& config_;
  std::string slot_;
  CursorStore& store_;
  std::unordered_map<uint32_t, std::string> type_names_;  // read by the reader threads too (never written)
  std::vector<std::unique_ptr<Table>> tables_;            // stable addresses: chunks point at them
  std::map<uint64_t, std::unique_ptr<Chunk>> chunks_;     // by id: started, until the high watermark's commit
  std::deque<Confirmation> confirmations_;
  size_t held_ = 0;  // chunks started whose rows are not emitted yet (the memory bound)
  uint64_t nonce_;
  uint64_t next_chunk_id_ = 0;
  std::chrono::steady_clock::time_point next_progress_;

  // Shared with the reader threads: each Reader's job and connection, each
  // Chunk's result fields, and the first failure.
  mutable std::mutex mu_;
  std::exception_ptr failure_;
  bool stopping_ = false;
  std::vector<std::unique_ptr<Reader>> readers_;  // snapshot_max_connections of them
};

}  // namespace tombsync
