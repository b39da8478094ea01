#include "agent/stream/snapshot_window.h"

#include "agent/ops/job_progress.h"
#include "agent/snapshot/reconcile_request.h"
#include "agent/snapshot/snapshot_request.h"
#include "base/log.h"

namespace tombsync {

SnapshotWindow::SnapshotWindow(const Config& config, CursorStore& store, const std::vector<pg::ResolvedTable>& tables,
                               const std::unordered_map<uint32_t, std::string>& type_names, StreamGauges& gauges,
                               LedgerRecorder* ledger)
    : config_(config),
      store_(store),
      tables_(tables),
      type_names_(type_names),
      gauges_(gauges),
      ledger_(ledger),
      next_request_check_(std::chrono::steady_clock::now() + std::chrono::seconds(1)) {
  const auto& slot = config.source.slot;
  for (const auto& name : take_snapshot_requests(config.state_dir))
    if (allowed(name) && !reconciling(name)) {
      store_.clear_snapshot(slot, name);
      log::info("snapshot of {} requested: it is read again from its first row", name);
    }
  take_reconcile_requests();  // recorded now; the snapshotter below reads them
  // With snapshot: never, only a reconciliation under way (a restart, a lost slot) re-reads.
  snapshot_ = std::make_unique<Snapshotter>(config, slot, store_, tables_, type_names_);
  if (snapshot_->finished()) {
    snapshot_.reset();
    if (config.snapshot == SnapshotMode::kNever) log::info("snapshot: never; streaming only");
    else log::info("snapshot: every table's snapshot was done before; streaming only");
  }
  started_ = true;
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
  if (!snapshot_) return;
  for (const auto& e : events) {
    snapshot_->on_change(e);
    // A TRUNCATE renewed a reconciliation's mark: the stream's puts after it carry the new one.
    if (e.op == Op::kTruncate && ledger_ != nullptr)
      if (auto mark = snapshot_->reconcile_mark(e.table->relid)) ledger_->set_mark(e.table->qualified(), *mark);
  }
}

ChunkEnd SnapshotWindow::on_message(const pg::LogicalMsg& m, const pg::TxnBegin& txn, Lsn wal_start,
                                    std::vector<ChangeEvent>& rows) {
  if (!snapshot_) return {};
  return snapshot_->on_message(m, txn, wal_start, rows);
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
    if (!allowed(name) || reconciling(name)) continue;
    const pg::ResolvedTable* t = find(name);
    if (snapshot_ && snapshot_->is_reading(t->oid)) {
      log::info("snapshot of {} requested while it is being read; the running snapshot continues", name);
      continue;
    }
    store_.clear_snapshot(config_.source.slot, name);
    read(*t);
    log::info("snapshot of {} requested: reading it again while the stream goes on", name);
  }
}

void SnapshotWindow::read(const pg::ResolvedTable& t) {
  if (snapshot_) snapshot_->add_table(t);
  else snapshot_ = std::make_unique<Snapshotter>(config_, config_.source.slot, store_, tables_, type_names_);
}

// A reconciliation of `name` is under way (its progress says so): a snapshot request would end it.
bool SnapshotWindow::reconciling(const std::string& name) const {
  auto p = store_.load_snapshot(config_.source.slot, name);
  if (!p || p->done || p->reconcile_mark == 0) return false;
  log::warn("snapshot of {} requested while a reconciliation re-reads it; ignored (the re-read sends every row)", name);
  return true;
}

// Answers a request it refuses through the job's progress file, so `tombsync reconcile` stops waiting.
bool SnapshotWindow::reconcilable(const std::string& name, const std::string& request_id) {
  const pg::ResolvedTable* t = find(name);
  const TableConfig* tc = t ? config_.find_table(t->schema, t->table) : nullptr;
  std::string why;
  if (tc == nullptr) why = "it is not in source.tables";
  else if (ledger_ == nullptr || config_.ledger_for(*tc) == LedgerMode::kNone || t->key_columns.empty())
    why = "it keeps no key ledger (ledger: none, or no key)";
  else if (auto p = store_.load_snapshot(config_.source.slot, name); p && !p->done)
    why = p->reconcile_mark != 0 ? "a reconciliation of it is under way" : "its snapshot is under way";
  else if (snapshot_ && snapshot_->is_reading(t->oid))
    why = "its snapshot is under way";  // one whose first chunk's progress is not saved yet
  if (why.empty()) return true;
  log::warn("reconcile of {} requested, but {}; ignored", name, why);
  JobProgress p{.job = "reconcile-refused", .table = name, .lsn = "-", .running = false};
  p.phase = "refused: " + why;
  p.request_id = request_id;
  p.updated_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  write_job_progress(config_.state_dir, p);
  return false;
}

void SnapshotWindow::take_reconcile_requests() {
  for (const auto& r : tombsync::take_reconcile_requests(config_.state_dir)) {
    if (!reconcilable(r.table, r.id)) continue;
    const uint32_t mark = store_.begin_reconcile(config_.source.slot, {r.table}, r.dry_run, false, r.id).front();
    ledger_->set_mark(r.table, mark);
    log::info("reconcile of {}{} requested: re-reading it while the stream goes on; then every key the key ledger "
              "holds that the re-read and the stream did not show as live gets {} (mark {})",
              r.table, r.dry_run ? " (dry run)" : "", r.dry_run ? "counted, nothing is published" : "an inferred delete",
              mark);
    if (started_) read(*find(r.table));  // else the constructor's snapshotter reads it
  }
}

void SnapshotWindow::tick(std::chrono::steady_clock::time_point now, bool may_start, bool producer_keeps_up) {
  if (now >= next_request_check_) {
    next_request_check_ = now + std::chrono::seconds(1);
    take_requests();
    take_reconcile_requests();
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
