// Moves the confirmed position forward, in the one order that keeps the
// contract (docs/contract.md 1.1):
//   Kafka acknowledged (AckTracker::acked) -> saved and synced in RocksDB
//   (CursorStore::save_confirmed) -> reported to Postgres as flushed
//   (ChangeSource::send_status).
// Before the cursor passes a position, `before_save` lets the snapshot save
// the progress of the chunks Kafka acknowledged there; `take_ledger` hands
// over the key ledger's changes up to that position, which go in the cursor's
// own synced write (the ledger never moves without the cursor). On an error that ends
// the session, save_after_error gives Kafka a few seconds to acknowledge what
// it holds and saves that, so the next session resends as little as possible.
// Pipeline thread only.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "agent/stream/ack_tracker.h"
#include "agent/stream/change_source.h"
#include "agent/stream/record_sink.h"
#include "base/lsn.h"
#include "state/cursor_store.h"

namespace tombsync {

class Checkpointer {
 public:
  using Clock = std::chrono::steady_clock;

  // `stored` is the position already durable (the session's start).
  Checkpointer(CursorStore& store, std::string slot, ChangeSource& source, const AckTracker& tracker, Lsn stored,
               std::chrono::milliseconds status_interval);

  // Saves what Kafka acknowledged (if it moved), then sends a status update.
  void confirm(bool reply_requested = false);
  // A status update is due (the walsender expects one every status interval).
  bool due(Clock::time_point now) const { return now >= next_status_; }
  // Saves the cursor at `upto` (acknowledged by Kafka: at most AckTracker::acked) with the
  // ledger's changes up to it, without telling Postgres; for a snapshot chunk's progress that
  // must follow an earlier transaction's ledger clear (LedgerRecorder::clear_before).
  void save_through(Lsn upto) { save(upto); }
  // The durable, confirmed position.
  Lsn stored() const { return stored_; }
  const std::string& slot() const { return slot_; }

  // The error path: waits up to flush_ms for Kafka, then saves what it
  // acknowledged, also when the flush throws (a failed sink reports no delivery
  // after its failure, so what the tracker holds was acknowledged).
  // Sends nothing to Postgres (the connection may be gone).
  // Never throws: the error in flight is the one to report.
  void save_after_error(RecordSink& sink, int flush_ms = 10000) noexcept;

  std::function<void(Lsn acked)> before_save;
  std::function<void(Lsn acked, LedgerDelta& out)> take_ledger;

 private:
  // Saves `acked` with the ledger's changes up to it, when either moved; true when it saved.
  // Throws as the store does.
  bool save(Lsn acked);

  CursorStore& store_;
  std::string slot_;
  ChangeSource& source_;
  const AckTracker& tracker_;
  Lsn stored_;
  std::chrono::milliseconds status_interval_;
  Clock::time_point next_status_;
};

}  // namespace tombsync
