// Decides which WAL position may be confirmed. Transactions are tracked in
// commit order, each tagged by its commit LSN; a transaction is done when
// its Commit was seen and Kafka acknowledged every one of its messages. The
// acknowledged position is the end LSN of the last done transaction with no
// undone one before it, so nothing unacknowledged is ever confirmed.
// Single-threaded: the pipeline calls every method, including from delivery
// callbacks (which librdkafka runs inside the pipeline's poll).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "base/lsn.h"

namespace tombsync {

class AckTracker {
 public:
  explicit AckTracker(Lsn start) : acked_(start) {}

  void on_begin(Lsn commit_lsn);
  // `messages` Kafka messages of the open transaction were enqueued.
  void on_sent(size_t messages);
  void on_commit(Lsn commit_lsn, Lsn end_lsn);
  // One message of the transaction tagged `commit_lsn` was acknowledged.
  // Returns false if no such transaction is pending (a bug upstream).
  bool on_delivered(Lsn commit_lsn);
  // A keepalive reported the server's WAL end. With nothing open or pending,
  // everything before it is either delivered or was never ours to send (other
  // tables, other databases), so it can be confirmed and the slot moves on.
  void on_keepalive(Lsn wal_end);

  Lsn acked() const { return acked_; }
  bool idle() const { return txns_.empty(); }
  size_t pending_transactions() const { return txns_.size(); }
  uint64_t in_flight_messages() const { return in_flight_; }

 private:
  struct Txn {
    Lsn commit_lsn;
    Lsn end_lsn;
    uint64_t outstanding = 0;
    bool committed = false;
  };
  void advance();

  std::deque<Txn> txns_;  // strictly increasing commit_lsn
  Lsn acked_;
  uint64_t in_flight_ = 0;
};

}  // namespace tombsync
