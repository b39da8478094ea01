#include "agent/stream/checkpointer.h"

#include <algorithm>

#include "base/log.h"

namespace tombsync {

Checkpointer::Checkpointer(CursorStore& store, std::string slot, ChangeSource& source, const AckTracker& tracker,
                           Lsn stored, std::chrono::milliseconds status_interval)
    : store_(store),
      slot_(std::move(slot)),
      source_(source),
      tracker_(tracker),
      stored_(stored),
      status_interval_(status_interval),
      next_status_(Clock::now() + status_interval) {}

bool Checkpointer::save(Lsn acked) {
  LedgerDelta ledger;
  if (take_ledger) take_ledger(acked, ledger);
  if (acked <= stored_ && ledger.empty()) return false;
  const Lsn to = std::max(acked, stored_);
  store_.save_confirmed(slot_, to, ledger);  // durable before Postgres may discard the WAL
  stored_ = to;
  return true;
}

void Checkpointer::confirm(bool reply_requested) {
  const Lsn acked = tracker_.acked();
  if (before_save) before_save(acked);  // chunk progress before the cursor passes it
  save(acked);
  source_.send_status(stored_, reply_requested);
  next_status_ = Clock::now() + status_interval_;
}

void Checkpointer::save_after_error(RecordSink& sink, int flush_ms) noexcept {
  try {
    sink.flush(flush_ms);
  } catch (...) {  // a failed sink (credentials refused, ...): what it acknowledged before still counts
  }
  try {
    const Lsn acked = tracker_.acked();
    if (before_save) before_save(acked);
    if (save(acked)) {
      log::info("saved the cursor of slot {} at {}: Kafka acknowledged everything before it", slot_, acked.str());
    }
  } catch (...) {  // the error that ended the session is the one to report
  }
}

}  // namespace tombsync
