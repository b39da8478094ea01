// A record's position in the stream as one number (docs/event-format.md
// "Position"): commit_lsn * 2^32 + seq, where commit_lsn is the commit record
// LSN of the transaction the record belongs to (for a snapshot read, the high
// watermark's transaction; for a TRUNCATE's or a sweep's deletes, the TRUNCATE's
// or the watermark's) and seq its ordinal among that transaction's records.
// It strictly increases along the stream, and so per key in the order the
// changes took effect; within one slot incarnation (tombsync.source `@n`).
// Up to 96 bits: printed in decimal, it fits SQL NUMERIC(29,0), ClickHouse
// UInt128, Snowflake NUMBER(38,0), BigQuery NUMERIC.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "base/lsn.h"

namespace tombsync {

// Appends the decimal digits of commit_lsn * 2^32 + seq to `out`.
void append_stream_position(std::string& out, Lsn commit_lsn, uint32_t seq);
std::string stream_position(Lsn commit_lsn, uint32_t seq);

}  // namespace tombsync
