// Decodes one pgoutput message (the payload of an XLogData frame).
// Every read is bounds-checked. Anything malformed, truncated, carrying
// trailing bytes, or of an unknown type throws tombsync::Error(kProtocol)
// whose message names the WAL position and the message type: a message is
// never skipped, because skipping is silent data loss.
#pragma once

#include <cstdint>
#include <span>

#include "base/lsn.h"
#include "connectors/postgres/pgoutput_messages.h"

namespace tombsync::pg {

// `wal_start` is the XLogData frame's start LSN, used only in error messages.
PgOutputMessage decode_pgoutput(std::span<const uint8_t> payload, Lsn wal_start);

}  // namespace tombsync::pg
