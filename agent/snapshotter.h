// Initial snapshots and backfills that run while the stream keeps flowing,
// with the watermark technique of Netflix's DBLog (also Debezium's
// incremental snapshots): per chunk of rows, in key order,
//   1. a low watermark is written to the WAL (pg_logical_emit_message),
//   2. the chunk is read: SELECT ... WHERE key > last ORDER BY key LIMIT n,
//   3. a high watermark is written.
// Reading the stream on, every row the stream changes between the two
// watermarks is dropped from the chunk (the stream's newer value wins), and at
// the high watermark the rest is emitted as op=read events, in the stream's
// order. So nothing is lost or applied twice at the hand-off, and no
// exported snapshot is needed: a crash resumes after the last chunk Kafka
// acknowledged (progress in RocksDB), re-reading at most one chunk.
// Single-threaded: the pipeline thread calls everything.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "change.h"
#include "change_builder.h"
#include "config.h"
#include "cursor_store.h"
#include "pg_connection.h"
#include "source_catalog.h"

namespace tombsync {

class Snapshotter {
 public:
  // Tables whose progress is missing or unfinished are snapshotted, in config
  // order. Throws Error(kSource) for a table that cannot be paged (no key).
  Snapshotter(const Config& config, const std::string& slot, CursorStore& store,
              const std::vector<pg::ResolvedTable>& tables,
              const std::unordered_map<uint32_t, std::string>& type_names);
  ~Snapshotter();

  // A chunk may start: tables remain, none is between its watermarks, and the
  // last one's progress is saved. One chunk at a time keeps what a crash can
  // send twice to a single chunk.
  bool wants_chunk() const;
  // A chunk's rows are all acknowledged at `acked` but its progress is not saved yet.
  bool confirmable(Lsn acked) const {
    return !confirmations_.empty() && confirmations_.front().end_lsn <= acked;
  }
  // Writes the low watermark, reads the next chunk, writes the high watermark.
  void start_chunk();

  // Stream side, in stream order.
  void on_change(const ChangeEvent& e);
  // At the chunk's high watermark, appends its surviving rows to `out` as read events.
  void on_message(const pg::LogicalMsg& m, const pg::TxnBegin& txn, Lsn wal_start, std::vector<ChangeEvent>& out);
  void on_commit(Lsn commit_lsn, Lsn end_lsn);
  // Kafka acknowledged everything up to `acked`: persists the progress of the
  // chunks that position covers. Called before the cursor itself is saved.
  void on_acknowledged(Lsn acked);

  // Snapshots `resolved` again from its first row (an on-demand backfill): its
  // progress must already be cleared in the store. Returns false when it is
  // being read already, or while a chunk is in flight (ask again later).
  bool add_table(const pg::ResolvedTable& resolved);
  bool is_reading(uint32_t relid) const;  // a snapshot of the table is under way
  bool chunk_in_flight() const { return chunk_ != nullptr; }

  // Every table done and its last chunk acknowledged.
  bool finished() const;
  // A line per table in progress, at most every few seconds; empty otherwise.
  std::vector<std::string> progress_lines();

 private:
  struct Table;
  struct Chunk;
  struct Confirmation {
    Lsn end_lsn;
    size_t table;
    SnapshotProgress progress;
  };

  Table* next_table();
  void prepare(Table& t);  // reads the table's columns and key, builds its queries
  void emit_watermark(const std::string& kind);

  const Config& config_;
  std::string slot_;
  CursorStore& store_;
  std::unordered_map<uint32_t, std::string> type_names_;
  std::unique_ptr<pg::PgConnection> conn_;
  std::vector<Table> tables_;
  std::unique_ptr<Chunk> chunk_;  // between its low watermark and its high watermark's commit
  std::deque<Confirmation> confirmations_;
  uint64_t nonce_;
  uint64_t next_chunk_id_ = 0;
  std::chrono::steady_clock::time_point next_progress_;
};

}  // namespace tombsync
