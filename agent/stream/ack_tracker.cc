#include "agent/stream/ack_tracker.h"

#include <algorithm>

#include "base/error.h"

namespace tombsync {

void AckTracker::on_begin(Lsn commit_lsn) {
  if (!txns_.empty() && !txns_.back().committed)
    throw Error(ErrorKind::kInternal, "Begin for " + commit_lsn.str() + " while " +
                                          txns_.back().commit_lsn.str() + " is still open");
  txns_.push_back(Txn{commit_lsn, Lsn(), 0, false});
}

void AckTracker::on_sent(size_t messages) {
  if (txns_.empty() || txns_.back().committed)
    throw Error(ErrorKind::kInternal, "records sent outside a transaction");
  txns_.back().outstanding += messages;
  in_flight_ += messages;
}

void AckTracker::on_commit(Lsn commit_lsn, Lsn end_lsn) {
  if (txns_.empty() || txns_.back().committed || txns_.back().commit_lsn != commit_lsn)
    throw Error(ErrorKind::kInternal, "Commit for " + commit_lsn.str() + " without its Begin");
  txns_.back().end_lsn = end_lsn;
  txns_.back().committed = true;
  // A transaction with nothing outstanding behind one still in flight folds
  // into it, so transactions of unpublished tables cannot grow the queue.
  if (txns_.size() > 1 && txns_.back().outstanding == 0) {
    Lsn folded = end_lsn;
    txns_.pop_back();
    txns_.back().end_lsn = std::max(txns_.back().end_lsn, folded);
    if (!txns_.back().committed) throw Error(ErrorKind::kInternal, "open transaction before a committed one");
  }
  advance();
}

bool AckTracker::on_delivered(Lsn commit_lsn) {
  auto it = std::lower_bound(txns_.begin(), txns_.end(), commit_lsn,
                             [](const Txn& t, Lsn l) { return t.commit_lsn < l; });
  if (it == txns_.end() || it->commit_lsn != commit_lsn || it->outstanding == 0) return false;
  --it->outstanding;
  --in_flight_;
  if (it == txns_.begin()) advance();
  return true;
}

void AckTracker::on_keepalive(Lsn wal_end) {
  if (txns_.empty() && wal_end > acked_) acked_ = wal_end;
}

void AckTracker::advance() {
  while (!txns_.empty() && txns_.front().committed && txns_.front().outstanding == 0) {
    acked_ = std::max(acked_, txns_.front().end_lsn);
    txns_.pop_front();
  }
}

}  // namespace tombsync
