// The stream's view of Postgres: one decoded replication message at a time,
// and the standby status updates that confirm positions. PgChangeSource
// (pg_change_source.h) is the real one, over a replication connection;
// tests/unit/agent/stream_fakes.h has an in-memory one.
// Called from the pipeline thread only.
#pragma once

#include <chrono>
#include <vector>

#include "base/lsn.h"
#include "connectors/postgres/change_builder.h"
#include "schemas/change.h"

namespace tombsync {

// One replication message, decoded and mapped to change events.
struct SourceStep {
  enum class Kind { kData, kKeepalive };
  Kind kind = Kind::kData;
  Lsn wal_start;                    // kData: the XLogData's start LSN
  Lsn wal_end;                      // the server's WAL end, as the message reports it
  bool reply_requested = false;     // kKeepalive: the walsender asks for a status update now
  pg::BuildStep step;               // kData: Begin, Commit, a logical message or a notice
  std::vector<ChangeEvent> events;  // kData: the row changes it carried, in stream order
};

class ChangeSource {
 public:
  virtual ~ChangeSource() = default;
  // The next message, waiting at most `timeout`: true with `out` filled (its
  // events replaced), false when none arrived in time. Throws Error(kSource)
  // when the stream ends or the connection drops, Error(kProtocol) on a
  // message that cannot be decoded.
  virtual bool next(std::chrono::milliseconds timeout, SourceStep& out) = 0;
  // Between a Begin and its Commit.
  virtual bool in_transaction() const = 0;
  // Reports `confirmed` as written, flushed and applied: Postgres may discard
  // the WAL before it. Call only with a position that is durable downstream.
  virtual void send_status(Lsn confirmed, bool reply_requested) = 0;
  // Ends the stream politely.
  virtual void finish() = 0;
};

}  // namespace tombsync
