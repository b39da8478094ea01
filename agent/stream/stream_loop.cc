#include "agent/stream/stream_loop.h"

#include "base/error.h"
#include "base/log.h"
#include "connectors/kafka/murmur2.h"

namespace tombsync {

using Clock = std::chrono::steady_clock;

StreamLoop::StreamLoop(const LoopParts& parts, Lsn start, const std::atomic<bool>& stopping)
    : p_(parts), start_(start), stopping_(stopping), report_(parts.metrics), server_end_(start),
      next_report_(Clock::now() + std::chrono::seconds(10)) {
  p_.sink.on_delivered = [this](Lsn commit_lsn) {
    p_.gauges.on_delivered();
    if (!p_.tracker.on_delivered(commit_lsn) && !delivery_bug_)
      delivery_bug_ = "delivery report for transaction " + commit_lsn.str() + ", which is not pending";
  };
  // While a full producer queue blocks send(), keep answering the walsender,
  // or it ends the connection after wal_sender_timeout.
  p_.sink.while_blocked = [this] {
    if (p_.checkpointer.due(Clock::now())) checkpoint();
  };
  if (p_.ledger == nullptr) {
    p_.checkpointer.before_save = [this](Lsn acked) { p_.snapshot.on_acknowledged(acked); };
    return;
  }
  p_.checkpointer.before_save = [this](Lsn acked) {
    p_.snapshot.on_acknowledged(acked, [this](Lsn end, LedgerDelta& out) {
      if (auto upto = p_.ledger->unsaved_before(end)) p_.checkpointer.save_through(*upto);  // earlier changes first
      p_.ledger->take_snapshot_rows(end, out);
    });
  };
  p_.checkpointer.take_ledger = [this](Lsn acked, LedgerDelta& out) { p_.ledger->take_acknowledged(acked, out); };
}

StreamLoop::~StreamLoop() {
  p_.sink.on_delivered = nullptr;
  p_.sink.while_blocked = nullptr;
  p_.checkpointer.before_save = nullptr;
  p_.checkpointer.take_ledger = nullptr;
}

bool StreamLoop::keep_running() const {
  if (!stopping_.load(std::memory_order_relaxed) && !p_.snapshot.complete()) return true;
  // On stop, finish the transaction being read, unless the stop was forced.
  return p_.source.in_transaction() && !p_.sink.interrupted() && !abandoned_;
}

void StreamLoop::run() {
  try {
    while (keep_running()) iterate();
    drain();
  } catch (...) {
    // What Kafka already has in hand is given a few seconds and the acknowledged position is
    // saved, so the next session resends as little as possible; unless the tracker's own
    // bookkeeping failed: then trust nothing it says.
    if (!delivery_bug_) p_.checkpointer.save_after_error(p_.sink);
    throw;
  }
}

void StreamLoop::iterate() {
  // A running snapshot waits on Kafka's acknowledgements between chunks, not on the stream.
  const bool got = p_.source.next(std::chrono::milliseconds(p_.snapshot.active() ? 1 : 50), step_);
  if (got && step_.kind == SourceStep::Kind::kData) on_data(step_);
  if (got && step_.kind == SourceStep::Kind::kKeepalive) on_keepalive(step_);
  // Delivery reports are served in batches: a poll per message costs more in locking than it
  // gains in promptness (a full queue is served inside send() anyway).
  if (!got || ++frames_since_poll_ >= 64) {
    p_.sink.poll(0);
    frames_since_poll_ = 0;
  }
  if (delivery_bug_) throw Error(ErrorKind::kInternal, *delivery_bug_);
  const auto now = Clock::now();
  // A snapshot chunk's progress is saved as soon as Kafka has it, so the next chunk can start.
  if (p_.checkpointer.due(now) || p_.snapshot.confirmable(p_.tracker.acked())) checkpoint();
  if (now >= next_report_) {
    log::info("{}", report_.line(p_.tracker.acked(), server_end_, p_.sink.in_flight()));
    next_report_ = now + std::chrono::seconds(10);
  }
  p_.snapshot.tick(now, !stopping_.load() && !p_.source.in_transaction(), p_.sink.in_flight() < kSnapshotMaxInFlight);
}

void StreamLoop::on_data(SourceStep& s) {
  server_end_ = std::max(server_end_, s.wal_end);
  if (s.step.begin) {
    txn_ = s.step.begin;
    skipping_ = s.step.begin->commit_lsn < start_;
    abandoned_ = false;
    if (p_.filler) p_.filler->clear();  // a transaction abandoned by a forced stop left them
    if (p_.ledger_rows) p_.ledger_rows->on_released();
    if (!skipping_) {
      p_.tracker.on_begin(s.step.begin->commit_lsn);
      p_.records.begin_transaction();
      if (p_.ledger) p_.ledger->on_begin(s.step.begin->commit_lsn);
    }
  }
  // Not a transaction the start position skips: a TRUNCATE there must not renew a
  // reconciliation's mark (its changes were saved already).
  if (!skipping_ && !abandoned_) p_.snapshot.on_events(s.events);
  produce(s.events);
  if (s.step.message && p_.snapshot.active() && txn_ && !skipping_) on_watermark(*s.step.message, s.wal_start);
  if (s.step.commit) on_commit(*s.step.commit);
  if (s.step.notice) log::warn("{}", *s.step.notice);
}

// A snapshot chunk's rows at its high watermark, and a reconciliation's sweep after its last chunk.
void StreamLoop::on_watermark(const pg::LogicalMsg& m, Lsn wal_start) {
  release_held();  // the stream's events keep their positions whether a chunk is read here or not
  const ChunkEnd end = p_.snapshot.on_message(m, *txn_, wal_start, snapshot_rows_);
  if (end.dry_run) mark_rows(snapshot_rows_);
  else produce(snapshot_rows_, true);
  snapshot_rows_.clear();
  if (end.sweep && !abandoned_) sweep(*end.sweep);
}

void StreamLoop::mark_rows(const std::vector<ChangeEvent>& rows) {
  if (p_.ledger == nullptr) return;
  for (const auto& e : rows) {
    out_.clear();
    p_.records.build(e, out_);
    p_.ledger->on_marks(*e.table, out_);
  }
}

// The inferred deletes change the ledger with the chunk's rows (the snapshot rows' delta), so
// their erases are saved in the same write as the re-read's final progress: a restart either
// re-reads the last chunk and sweeps again, or finds the reconciliation done with its erases.
void StreamLoop::sweep(const ReconcileSweep& due) {
  if (p_.reconciler == nullptr)
    throw Error(ErrorKind::kInternal, "the reconciliation of " + due.table->qualified() + " has no key ledger to sweep");
  p_.reconciler->sweep(
      due,
      [this](const ChangeEvent& del) {
        send_completed(del, true, true);  // its erase goes with the chunk's rows (the snapshot rows' delta)
        return !abandoned_;
      },
      [this] {
        if (p_.checkpointer.due(Clock::now())) checkpoint();
      });
}

void StreamLoop::on_commit(const pg::TxnCommit& c) {
  if (!skipping_ && !abandoned_) release_held();  // may end as abandoned (a forced stop)
  if (!skipping_ && !abandoned_) {
    p_.snapshot.on_commit(c.commit_lsn, c.end_lsn);
    p_.tracker.on_commit(c.commit_lsn, c.end_lsn);
    if (p_.ledger) p_.ledger->on_commit(c.commit_lsn, c.end_lsn);
  }
  if (p_.redelivered.active()) {
    p_.redelivered.observe_commit(c.commit_lsn);
    if (!p_.redelivered.active())
      log::info("caught up with Kafka after the restart: {} records were already there and not written again",
                redelivered_skipped_);
  }
  skipping_ = false;
}

void StreamLoop::on_keepalive(const SourceStep& s) {
  server_end_ = std::max(server_end_, s.wal_end);
  if (!p_.source.in_transaction()) p_.tracker.on_keepalive(s.wal_end);
  if (s.reply_requested) checkpoint();
}

Metrics::Table* StreamLoop::metrics_table(const TableSchema& t) {
  auto it = metric_tables_.find(t.relid);
  if (it == metric_tables_.end()) it = metric_tables_.emplace(t.relid, p_.metrics.table(t.qualified())).first;
  return it->second;
}

// Whether every partition the record goes to already holds it.
bool StreamLoop::already_in_kafka(const Record& r) {
  const StreamPosition pos{r.commit_lsn, r.seq};
  const int partitions = p_.sink.partitions(r.topic);
  if (r.all_partitions) {
    for (int part = 0; part < partitions; ++part)
      if (!p_.redelivered.already_written(r.topic, KafkaPartition(part), pos)) return false;
    return true;
  }
  if (r.partition) return p_.redelivered.already_written(r.topic, *r.partition, pos);
  if (!r.key) return false;
  return p_.redelivered.already_written(r.topic, murmur2_partition(*r.key, partitions), pos);
}

// Sends the records of `batch` (stream changes, or a snapshot chunk's rows), counting what was
// handed over (and what a restart found already in Kafka) in Metrics.
void StreamLoop::produce(std::vector<ChangeEvent>& batch, bool snapshot_rows) {
  for (auto& e : batch) {
    if (skipping_ || abandoned_) return;
    const bool holding = p_.filler && p_.filler->holding();
    if (p_.ledger_rows && !snapshot_rows) {
      ChangeEvent filled;  // unless a held event changed this key, the ledger's row is the one as of this event
      if (holding && p_.ledger_rows->held_key(e)) p_.ledger_rows->passed_over();
      else if (p_.ledger_rows->complete(e, filled)) e = std::move(filled);
    }
    if (p_.filler && !snapshot_rows && e.op != Op::kTruncate && (holding || p_.filler->needs_fill(e))) {
      if (p_.ledger_rows) p_.ledger_rows->on_held(e);
      if (p_.filler->hold(std::move(e))) release_held();  // the bound: at most max_held in memory
      continue;
    }
    if (p_.filler && p_.filler->holding()) release_held();  // what came before goes first
    if (abandoned_) return;
    if (e.op == Op::kTruncate && p_.truncates && p_.truncates->expands(*e.table)) {
      expand_truncate(e);
      continue;
    }
    send_event(e, snapshot_rows, true);
  }
  if (!batch.empty()) p_.gauges.on_events();
}

// A held event, or a TRUNCATE's or sweep's delete, completed from the ledger's rows as it is sent.
void StreamLoop::send_completed(const ChangeEvent& e, bool snapshot_rows, bool to_ledger) {
  if (p_.ledger_rows) {
    ChangeEvent filled;
    if (p_.ledger_rows->complete(e, filled)) return send_event(filled, snapshot_rows, to_ledger);
  }
  send_event(e, snapshot_rows, to_ledger);
}

void StreamLoop::send_event(const ChangeEvent& e, bool snapshot_rows, bool to_ledger) {
  out_.clear();
  p_.records.build(e, out_);
  // Before the redelivery filter: a record Kafka holds already still changes the ledger.
  if (p_.ledger && to_ledger) p_.ledger->on_records(*e.table, out_, snapshot_rows, &e.row);
  Metrics::Table* t = metrics_table(*e.table);
  bool handed_over = false;
  for (const auto& r : out_) {
    if (p_.redelivered.active() && already_in_kafka(r)) {
      ++redelivered_skipped_;
      if (t) Metrics::count_redelivered(*t);
      continue;
    }
    const size_t needed = r.all_partitions ? static_cast<size_t>(p_.sink.partitions(r.topic)) : 1;
    const size_t sent = p_.sink.send(r);
    p_.tracker.on_sent(sent);
    if (sent < needed) {  // only a forced stop hands over less
      abandoned_ = true;
      return;
    }
    if (t) Metrics::count_record(*t, r);
    handed_over = true;
  }
  if (t && handed_over) Metrics::count_event(*t, e.op);
}

// The held events, filled, in order; stops at a forced stop (abandoned_).
void StreamLoop::release_held() {
  if (p_.filler == nullptr || !p_.filler->holding()) return;
  if (p_.ledger_rows) p_.ledger_rows->on_released();  // sent below, in order, completed as each is sent
  p_.filler->release([this](const ChangeEvent& e) {
    send_completed(e, false, true);
    return !abandoned_;
  });
}

// The truncate event, where the topic takes it, then the deletes. The deletes do not change the
// ledger one by one (that would hold one entry per key in memory): the expander records one clear.
void StreamLoop::expand_truncate(const ChangeEvent& e) {
  if (p_.truncates->event_fits(e)) send_event(e, false, false);
  if (abandoned_) return;
  p_.truncates->expand(
      e,
      [this](const ChangeEvent& del) {
        send_completed(del, false, false);
        return !abandoned_;
      },
      [this] {
        if (p_.checkpointer.due(Clock::now())) checkpoint();
      });
}


void StreamLoop::checkpoint() {
  p_.checkpointer.confirm(false);
  if (p_.ledger) p_.ledger->publish(p_.metrics);
  p_.snapshot.publish_status();
  p_.gauges.publish(p_.sink.in_flight(), server_end_, p_.checkpointer.stored());
}

void StreamLoop::drain() {
  if (p_.sink.interrupted())
    log::warn("stop interrupted: Kafka did not take the records in hand within the grace period; what it "
              "did not acknowledge is not confirmed and will be streamed again after the restart");
  log::info("stopping: stopped reading; waiting for Kafka to acknowledge {} in-flight messages", p_.sink.in_flight());
  if (!p_.sink.flush(p_.sink.interrupted() ? 1000 : 10000))
    log::warn("Kafka did not acknowledge {} messages within 10 s; they are not confirmed and will be sent "
              "again on restart", p_.sink.in_flight());
  checkpoint();
  p_.source.finish();
  log::info("stopped: slot {} confirmed at {} ({})", p_.checkpointer.slot(), p_.checkpointer.stored().str(),
            report_.totals());
}

}  // namespace tombsync
