#include "connectors/postgres/replication_frame.h"

#include <fmt/format.h>

#include "base/error.h"
#include "connectors/postgres/wire_reader.h"

namespace tombsync::pg {
namespace {

// XLogData: Byte1 'w', Int64 walStart, Int64 walEnd, Int64 sendTime, then
// the rest of the CopyData message is the payload (which may be empty here;
// the pgoutput decoder rejects an empty one).
XLogData read_xlogdata(WireReader& r) {
  XLogData x;
  x.wal_start = r.lsn("walStart");
  x.wal_end = r.lsn("walEnd");
  x.send_time = PgMicros{r.i64("sendTime")};
  x.payload = r.rest();
  return x;
}

// Primary keepalive: Byte1 'k', Int64 walEnd, Int64 sendTime, Byte1
// replyRequested (1 = reply as soon as possible, or the server may time us
// out), and nothing after it.
PrimaryKeepalive read_keepalive(WireReader& r) {
  PrimaryKeepalive k;
  k.wal_end = r.lsn("walEnd");
  k.send_time = PgMicros{r.i64("sendTime")};
  const uint8_t reply = r.u8("replyRequested");
  if (reply > 1) {
    throw Error(ErrorKind::kProtocol,
                fmt::format("replyRequested is {}, expected 0 or 1", static_cast<unsigned>(reply)));
  }
  k.reply_requested = reply == 1;
  r.expect_end("keepalive");
  return k;
}

std::string describe_frame(uint8_t type) {
  switch (type) {
    case 'w': return "'w' (XLogData)";
    case 'k': return "'k' (primary keepalive)";
    default: return describe_byte(type);
  }
}

void append_be64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

}  // namespace

// Streaming replication protocol, messages inside CopyData:
// https://www.postgresql.org/docs/15/protocol-replication.html
// Offsets in error messages count from the type byte (offset 0).
ServerFrame decode_server_frame(std::span<const uint8_t> frame) {
  if (frame.empty()) {
    throw Error(ErrorKind::kProtocol, "malformed replication frame: empty CopyData message");
  }
  WireReader r(frame);
  const uint8_t type = r.u8("frame type");
  try {
    switch (type) {
      case 'w': return read_xlogdata(r);
      case 'k': return read_keepalive(r);
      default:
        throw Error(ErrorKind::kProtocol,
                    "unknown frame type (expected 'w' XLogData or 'k' primary keepalive)");
    }
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("malformed replication frame {}: {}", describe_frame(type),
                                      e.what()));
  }
}

// Standby status update: Byte1 'r', Int64 written, Int64 flushed, Int64
// applied (each "last WAL byte + 1"; the caller passes them as it means
// them), Int64 client clock in Postgres epoch microseconds, Byte1
// replyRequested. 34 bytes, big-endian.
std::string encode_standby_status(Lsn written, Lsn flushed, Lsn applied, PgMicros now,
                                  bool reply_requested) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  append_be64(out, written.value());
  append_be64(out, flushed.value());
  append_be64(out, applied.value());
  append_be64(out, static_cast<uint64_t>(now.value()));
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

}  // namespace tombsync::pg
