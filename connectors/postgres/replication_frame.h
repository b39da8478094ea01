// The frames of the streaming replication sub-protocol carried in CopyData
// during START_REPLICATION (both directions).
// Spec: https://www.postgresql.org/docs/15/protocol-replication.html
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/timestamps.h"
#include <variant>

#include "base/lsn.h"
#include "base/timestamps.h"

namespace tombsync::pg {

struct XLogData {            // 'w'
  Lsn wal_start;
  Lsn wal_end;               // the server's current end of WAL
  PgMicros send_time;        // the walsender's clock
  std::span<const uint8_t> payload;  // a pgoutput message; points into the decoded buffer
};

struct PrimaryKeepalive {    // 'k'
  Lsn wal_end;
  PgMicros send_time;
  bool reply_requested = false;
};

using ServerFrame = std::variant<XLogData, PrimaryKeepalive>;

// Throws tombsync::Error(kProtocol) on a short or unknown frame.
ServerFrame decode_server_frame(std::span<const uint8_t> frame);

// Standby status update ('r'): written, flushed and applied positions.
// tombsync reports the confirmed position as all three.
std::string encode_standby_status(Lsn written, Lsn flushed, Lsn applied, PgMicros now,
                                  bool reply_requested);

}  // namespace tombsync::pg
