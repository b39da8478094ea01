// The walsender side of a logical replication connection: identifies the
// system, creates the slot, runs START_REPLICATION with pgoutput and carries
// the CopyBoth traffic (XLogData and keepalives in, standby status updates out).
// One thread owns a ReplicationStream; nothing in it is synchronised.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/lsn.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/replication_frame.h"

namespace tombsync::pg {

struct SystemIdentity {
  std::string system_id;
  int timeline = 0;
  Lsn xlog_pos;
  std::string dbname;
};

class ReplicationStream {
 public:
  explicit ReplicationStream(const std::string& dsn);
  ~ReplicationStream();
  ReplicationStream(const ReplicationStream&) = delete;
  ReplicationStream& operator=(const ReplicationStream&) = delete;

  SystemIdentity identify();
  // CREATE_REPLICATION_SLOT ... LOGICAL pgoutput; returns the consistent point.
  Lsn create_slot(const std::string& slot);
  // START_REPLICATION with pgoutput protocol version 1 and logical messages.
  void start(const std::string& slot, const std::string& publication, Lsn from);

  // The next frame, waiting at most `timeout`; nullopt when none arrived in
  // time. A returned XLogData's payload stays valid until the next read().
  // Throws Error(kSource) when the server ends the stream or the connection drops.
  std::optional<ServerFrame> read(std::chrono::milliseconds timeout);
  // Frees the last frame's buffer now rather than at the next read(): the
  // caller has copied what it needs out of the payload, which is then invalid.
  // Keeps a large change from being held twice while it is processed.
  void release_frame();
  // Standby status update reporting `confirmed` as written, flushed and applied.
  void send_status(Lsn confirmed, bool reply_requested = false);
  // Ends COPY mode politely (CopyDone) so the walsender exits cleanly.
  void finish();

  const std::string& describe() const { return conn_.describe(); }

 private:
  void flush_output();

  PgConnection conn_;
  char* buffer_ = nullptr;  // PQgetCopyData's last buffer, freed on the next read
  bool streaming_ = false;
};

}  // namespace tombsync::pg
