// The streaming loop of one session:
//   ChangeSource::next -> RecordBuilder -> RecordSink::send
// with acknowledgements feeding the AckTracker and the Checkpointer moving
// the confirmed position (docs/contract.md 1.1). It owns the per-session
// rules of the loop:
//  - a transaction committed before the start position is skipped whole;
//  - after an unclean stop, records the RedeliveryFilter finds in Kafka
//    already are not written again, and nothing after a record that was not
//    wholly handed over is written (the restart's filter would take it as
//    proof that the gap was written);
//  - a stop finishes the transaction being read (a half-sent one would be
//    sent again whole after the restart, duplicating its first records),
//    unless the stop is forced;
//  - snapshot chunks start between transactions and only while the producer
//    keeps up (SnapshotWindow);
//  - a TRUNCATE of a table with truncate: expand is its truncate event (not
//    on a compacted topic, which refuses keyless records) and then one delete
//    per key of the key ledger (TruncateExpander), checkpointing as it goes;
//  - a reconciliation's last re-read chunk is followed, in its high
//    watermark's transaction, by the sweep's inferred deletes (Reconciler); a
//    dry run's rows only stamp the ledger (nothing is published);
//  - an incomplete record (RowFiller::needs_fill) and every later event of
//    its transaction are held, then filled from the source and sent in order:
//    at the bound, before a TRUNCATE, a snapshot chunk's rows or a sweep, and
//    at the latest before the commit goes to the tracker (row_filler.h);
//  - with `ledger: rows`, an event is first completed from the key ledger's
//    rows (ledger_row_fill.h): when nothing is held, before the hold decision
//    (so the ledger's answer is the row as of that event); a held event, a
//    TRUNCATE's and a sweep's deletes, as they are sent.
// Single-threaded: run() and every callback it causes run on the calling
// thread (the pipeline thread); only `stopping` is written by another thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/config/config.h"
#include "agent/ops/metrics.h"
#include "agent/stream/ack_tracker.h"
#include "agent/stream/change_source.h"
#include "agent/stream/checkpointer.h"
#include "agent/stream/ledger_recorder.h"
#include "agent/stream/ledger_row_fill.h"
#include "agent/stream/record_builder.h"
#include "agent/stream/reconciler.h"
#include "agent/stream/row_filler.h"
#include "agent/stream/record_sink.h"
#include "agent/stream/redelivery_filter.h"
#include "agent/stream/snapshot_window.h"
#include "agent/stream/stream_gauges.h"
#include "agent/stream/stream_report.h"
#include "agent/stream/truncate_expander.h"

namespace tombsync {

// What the loop runs on; every part outlives the loop.
struct LoopParts {
  ChangeSource& source;
  RecordSink& sink;
  RecordBuilder& records;
  AckTracker& tracker;
  Checkpointer& checkpointer;
  RedeliveryFilter& redelivered;
  SnapshotWindow& snapshot;
  StreamGauges& gauges;
  Metrics& metrics;
  LedgerRecorder* ledger = nullptr;  // null: no table keeps a ledger
  TruncateExpander* truncates = nullptr;  // null: no table expands its TRUNCATEs
  Reconciler* reconciler = nullptr;       // null: no table keeps a ledger
  RowFiller* filler = nullptr;            // null: incomplete records are sent as they are
  LedgerRowFill* ledger_rows = nullptr;   // null: no table keeps rows in its ledger
};

class StreamLoop {
 public:
  // Messages in flight above which no new snapshot chunk starts (the stream goes first).
  static constexpr size_t kSnapshotMaxInFlight = 50000;

  // `start`: transactions committed before it were delivered by an earlier session.
  StreamLoop(const LoopParts& parts, Lsn start, const std::atomic<bool>& stopping);
  // Takes its callbacks back from the sink and the checkpointer, which outlive it.
  ~StreamLoop();
  StreamLoop(const StreamLoop&) = delete;
  StreamLoop& operator=(const StreamLoop&) = delete;

  // Runs until `stopping` (then finishes the transaction in hand, waits up to
  // 10 s for Kafka, confirms what it acknowledged and finishes the stream) or
  // until an initial_only snapshot is done. An error leaves it as thrown,
  // after save_after_error() saved what Kafka acknowledged.
  void run();

 private:
  bool keep_running() const;
  void iterate();
  void on_data(SourceStep& s);
  void on_keepalive(const SourceStep& s);
  void on_commit(const pg::TxnCommit& c);
  // Stream events are moved out of `batch` when they are held (RowFiller).
  void produce(std::vector<ChangeEvent>& batch, bool snapshot_rows = false);
  void release_held();
  // Builds and hands over the records of one event; `to_ledger`: their keys change the ledger.
  void send_event(const ChangeEvent& e, bool snapshot_rows, bool to_ledger);
  void send_completed(const ChangeEvent& e, bool snapshot_rows, bool to_ledger);
  void expand_truncate(const ChangeEvent& e);
  void on_watermark(const pg::LogicalMsg& m, Lsn wal_start);
  void mark_rows(const std::vector<ChangeEvent>& rows);  // a dry run's re-read rows
  void sweep(const ReconcileSweep& due);
  bool already_in_kafka(const Record& r);
  Metrics::Table* metrics_table(const TableSchema& t);
  void checkpoint();
  void drain();

  LoopParts p_;
  const Lsn start_;
  const std::atomic<bool>& stopping_;
  StreamReport report_;
  SourceStep step_;
  std::vector<Record> out_;
  std::vector<ChangeEvent> snapshot_rows_;
  std::optional<pg::TxnBegin> txn_;
  Lsn server_end_;
  bool skipping_ = false;   // a transaction the start position says is already delivered
  bool abandoned_ = false;  // the stop was forced mid-transaction: send nothing more of it
  std::optional<std::string> delivery_bug_;
  int frames_since_poll_ = 0;
  uint64_t redelivered_skipped_ = 0;
  std::chrono::steady_clock::time_point next_report_;
  std::unordered_map<RelationId, Metrics::Table*> metric_tables_;
};

}  // namespace tombsync
