// The stream's side of snapshots: owns the Snapshotter while one runs, feeds
// it the stream (changes, watermark messages, commits, acknowledgements),
// starts chunks when the stream allows, takes `tombsync snapshot --table` and
// `tombsync reconcile` requests (request files in state_dir, looked at every
// second) and ends the run when an initial_only snapshot is done. A
// reconciliation (docs/deletes.md "Reconciliation") starts here: its mark is
// recorded (CursorStore::begin_reconcile) and given to the LedgerRecorder, and
// its table is re-read like a snapshot; its sweep is the StreamLoop's. With no snapshot running, every
// method is a no-op. Pipeline thread only.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/config/config.h"
#include "agent/snapshot/snapshotter.h"
#include "agent/stream/ledger_recorder.h"
#include "agent/stream/stream_gauges.h"
#include "connectors/postgres/change_builder.h"
#include "state/cursor_store.h"

namespace tombsync {

class SnapshotWindow {
 public:
  // Takes the requests made while no agent ran, and starts the snapshot of
  // every table whose snapshot is not done (unless snapshot: never).
  // `ledger`: null when no table keeps a ledger (reconcile requests are then refused).
  SnapshotWindow(const Config& config, CursorStore& store, const std::vector<pg::ResolvedTable>& tables,
                 const std::unordered_map<uint32_t, std::string>& type_names, StreamGauges& gauges,
                 LedgerRecorder* ledger = nullptr);
  // `tables` is kept by reference: it must outlive the window.
  SnapshotWindow(const Config&, CursorStore&, std::vector<pg::ResolvedTable>&&,
                 const std::unordered_map<uint32_t, std::string>&, StreamGauges&, LedgerRecorder* = nullptr) = delete;

  bool active() const { return snapshot_ != nullptr; }
  // initial_only and nothing (more) to read: the run is over.
  bool complete() const { return complete_; }

  void on_events(const std::vector<ChangeEvent>& events);
  // A logical message inside a delivered transaction: a chunk's high
  // watermark appends the chunk's rows to `rows`.
  ChunkEnd on_message(const pg::LogicalMsg& m, const pg::TxnBegin& txn, Lsn wal_start, std::vector<ChangeEvent>& rows);
  void on_commit(Lsn commit_lsn, Lsn end_lsn);
  // Before the cursor passes `acked`: saves the chunks' progress.
  void on_acknowledged(Lsn acked, const Snapshotter::RowsLedger& rows_ledger = nullptr);
  // A chunk's progress can be saved now (so the next chunk may start).
  bool confirmable(Lsn acked) const { return snapshot_ && snapshot_->confirmable(acked); }

  // Between messages: requests (once a second), new chunks when `may_start`
  // (between transactions, no stop asked) and `producer_keeps_up`, progress
  // lines, and the end of the snapshot.
  void tick(std::chrono::steady_clock::time_point now, bool may_start, bool producer_keeps_up);
  void publish_status();

 private:
  bool allowed(const std::string& name) const;  // may be snapshotted on request; logs why not
  const pg::ResolvedTable* find(const std::string& name) const;
  void take_requests();
  void take_reconcile_requests();
  // Whether `name` may be reconciled now; logs why not (job progress answers the request too).
  bool reconcilable(const std::string& name, const std::string& request_id);
  void read(const pg::ResolvedTable& t);  // starts its (re-)read: its progress is reset already

  const Config& config_;
  CursorStore& store_;
  const std::vector<pg::ResolvedTable>& tables_;
  const std::unordered_map<uint32_t, std::string> type_names_;  // kept for snapshots requested later
  StreamGauges& gauges_;
  LedgerRecorder* ledger_;
  bool started_ = false;  // the constructor is done (it makes the snapshotter after the requests)
  std::unique_ptr<Snapshotter> snapshot_;
  bool complete_ = false;
  std::chrono::steady_clock::time_point next_request_check_;
};

}  // namespace tombsync
