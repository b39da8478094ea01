#include "agent/stream/snapshot_window.h"

#include "agent/snapshot/snapshot_request.h"
#include "base/log.h"

namespace tombsync {

SnapshotWindow::SnapshotWindow(const Config& config, CursorStore& store, const std::vector<pg::ResolvedTable>& tables,
                               const std::unordered_map<uint32_t, std::string>& type_names, StreamGauges& gauges)
    : config_(config),
      store_(store),
      tables_(tables),
      type_names_(type_names),
      gauges_(gauges),
      next_request_check_(std::chrono::steady_clock::now() + std::chrono::seconds(1)) {
  const auto& slot = config.source.slot;
  for (const auto& name : take_snapshot_requests(config.state_dir))
    if (allowed(name)) {
      store_.clear_snapshot(slot, name);
      log::info("snapshot of {} requested: it is read again from its first row", name);
    }
  if (config.snapshot != SnapshotMode::kNever) {
    snapshot_ = std::make_unique<Snapshotter>(config, slot, store_, tables_, type_names_);
    if (snapshot_->finished()) {
      snapshot_.reset();
      log::info("snapshot: every table's snapshot was done before; streaming only");
    }
  } else {
    log::info("snapshot: never; streaming only");
  }
  if (config.snapshot == SnapshotMode::kInitialOnly && !snapshot_) {
    log::info("snapshot: initial_only and every table's snapshot is done; nothing to do");
    complete_ = true;
  }
}

const pg::ResolvedTable* SnapshotWindow::find(const std::string& name) const {
  for (const auto& t : tables_)
    if (t.qualified() == name) return &t;
  return nullptr;
}

bool SnapshotWindow::allowed(const std::string& name) const {
  const pg::ResolvedTable* t = find(name);
  const TableConfig* tc = t ? config_.find_table(t->schema, t->table) : nullptr;
  if (tc == nullptr) {
    log::warn("snapshot of {} requested, but it is not in source.tables; ignored", name);
    return false;
  }
  if (config_.snapshot_for(*tc) == SnapshotMode::kNever) {
    log::warn("snapshot of {} requested, but its snapshot mode is never; ignored", name);
    return false;
  }
  return true;
}

void SnapshotWindow::on_events(const std::vector<ChangeEvent>& events) {
  if (snapshot_)
    for (const auto& e : events) snapshot_->on_change(e);
}

void SnapshotWindow::on_message(const pg::LogicalMsg& m, const pg::TxnBegin& txn, Lsn wal_start,
                                std::vector<ChangeEvent>& rows) {
  if (snapshot_) snapshot_->on_message(m, txn, wal_start, rows);
}

void SnapshotWindow::on_commit(Lsn commit_lsn, Lsn end_lsn) {
  if (snapshot_) snapshot_->on_commit(commit_lsn, end_lsn);
}

void SnapshotWindow::on_acknowledged(Lsn acked, const Snapshotter::RowsLedger& rows_ledger) {
  if (snapshot_) snapshot_->on_acknowledged(acked, rows_ledger);
}

void SnapshotWindow::publish_status() {
  if (snapshot_) gauges_.publish_snapshot(snapshot_->status());
}

void SnapshotWindow::take_requests() {
  for (const auto& name : take_snapshot_requests(config_.state_dir)) {
    if (!allowed(name)) continue;
    const pg::ResolvedTable* t = find(name);
    if (snapshot_ && snapshot_->is_reading(t->oid)) {
      log::info("snapshot of {} requested while it is being read; the running snapshot continues", name);
      continue;
    }
    store_.clear_snapshot(config_.source.slot, name);
    if (snapshot_) snapshot_->add_table(*t);
    else snapshot_ = std::make_unique<Snapshotter>(config_, config_.source.slot, store_, tables_, type_names_);
    log::info("snapshot of {} requested: reading it again while the stream goes on", name);
  }
}

void SnapshotWindow::tick(std::chrono::steady_clock::time_point now, bool may_start, bool producer_keeps_up) {
  if (now >= next_request_check_) {
    next_request_check_ = now + std::chrono::seconds(1);
    take_requests();
  }
  if (!snapshot_) return;
  // A chunk's rows wait in memory until its high watermark comes back through the stream.
  // wants_chunk() first: it takes finished reads in and rethrows a reader's failure.
  if (may_start && snapshot_->wants_chunk() && producer_keeps_up) snapshot_->start_chunk();
  for (const auto& line : snapshot_->progress_lines()) log::info("{}", line);
  if (!snapshot_->finished()) return;
  publish_status();  // the final state, before the snapshotter goes
  log::info("snapshot: every table's snapshot is done and acknowledged");
  if (config_.snapshot == SnapshotMode::kInitialOnly) {
    log::info("snapshot: initial_only, so stopping");
    complete_ = true;
  } else {
    snapshot_.reset();
  }
}

}  // namespace tombsync
