// Reconciliation's sweep (docs/deletes.md "Reconciliation"): at the high
// watermark of a reconciliation's last re-read chunk, every key the key ledger
// holds for the table (LedgerView: the store's keys and the changes not saved
// yet) that does not carry the reconciliation's mark is a key the source no
// longer has: neither the re-read nor the stream showed it live since the
// reconciliation began. Each gets an inferred delete (schemas/ledger_delete.h,
// marked inferred, deleted_at = when the sweep found it, at the watermark's
// position), whose erase goes to the ledger with the chunk's rows (saved with
// the re-read's final progress). A dry run counts them, and keeps a sample,
// and publishes nothing.
//
// Why the mark is exact while writes go on: the re-read reads every row live at
// its chunk's read and stamps its key; a row the stream changes inside a
// chunk's window is the stream's (stamped by its insert or update, or gone by
// its delete); a key the stream makes live after its chunk was read is stamped
// by that change. So a live key always carries the mark by the last chunk's
// high watermark, and an unmarked key is one no row had since the
// reconciliation began.
//
// Logs its start, a line every 5 s (keys/s, ETA) and its end; publishes
// Metrics::Table::reconcile_inferred / reconcile_phase and the job's progress
// (agent/ops/job_progress.h, job "reconcile"). Pipeline thread only.
#pragma once

#include <functional>
#include <string>

#include "agent/config/config.h"
#include "agent/ops/metrics.h"
#include "agent/snapshot/snapshotter.h"
#include "agent/stream/ledger_recorder.h"
#include "schemas/encoder.h"
#include "state/cursor_store.h"

namespace tombsync {

class Reconciler {
 public:
  Reconciler(const Config& config, CursorStore& store, std::string slot, LedgerRecorder& ledger, const Encoder& encoder,
             Metrics& metrics);

  // The sweep of `due`. `emit(delete)` hands an inferred delete over (with its ledger change:
  // the snapshot rows' delta); it returns false when the transaction is abandoned (a forced stop):
  // the sweep ends there, and the restart re-reads the last chunk and sweeps again. `tick` runs
  // every 1,000 keys. Ends the table's mark in the LedgerRecorder when complete. Returns the
  // inferred deletes (in a dry run: the keys it would delete). Throws Error(kState) when the store
  // cannot be read or a key cannot be read back (ledger_delete), naming the table.
  uint64_t sweep(const ReconcileSweep& due, const std::function<bool(const ChangeEvent&)>& emit,
                 const std::function<void()>& tick);

 private:
  const Config& config_;
  CursorStore& store_;
  std::string slot_;
  LedgerRecorder& ledger_;
  const Encoder& encoder_;
  Metrics& metrics_;
};

}  // namespace tombsync
