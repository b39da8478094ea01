#include "connectors/postgres/pgoutput_decoder.h"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

#include "base/error.h"
#include "connectors/postgres/wire_reader.h"

namespace tombsync::pg {
namespace {

[[noreturn]] void malformed(const std::string& what) { throw Error(ErrorKind::kProtocol, what); }

// Runs `read` and, if it throws, rethrows the error with `context()` in
// front, so the operator sees which tuple, column or field was wrong. The
// context is built only on failure: this sits on the per-column hot path.
template <class Read, class Context>
auto with_context(Context&& context, Read&& read) {
  try {
    return read();
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("{}: {}", context(), e.what()));
  }
}

std::string_view message_name(uint8_t type) {
  switch (type) {
    case 'B': return "Begin";
    case 'C': return "Commit";
    case 'O': return "Origin";
    case 'R': return "Relation";
    case 'Y': return "Type";
    case 'I': return "Insert";
    case 'U': return "Update";
    case 'D': return "Delete";
    case 'T': return "Truncate";
    case 'M': return "Message";
    // Sent only with protocol version 2+ and streaming, or version 3 and
    // two-phase; tombsync asks for neither, so these are unexpected here.
    case 'S': return "Stream Start";
    case 'E': return "Stream Stop";
    case 'c': return "Stream Commit";
    case 'A': return "Stream Abort";
    case 'b': return "Begin Prepare";
    case 'P': return "Prepare";
    case 'K': return "Commit Prepared";
    case 'r': return "Rollback Prepared";
    case 'p': return "Stream Prepare";
    default: return {};
  }
}

// "'U' (Update)" for a known type, "'S' (0x53, Stream Start)" for an
// unexpected one, "'Z' (0x5A)" or "0x01" for an unknown one.
std::string describe_type(uint8_t type) {
  auto name = message_name(type);
  switch (type) {
    case 'B': case 'C': case 'O': case 'R': case 'Y':
    case 'I': case 'U': case 'D': case 'T': case 'M':
      return fmt::format("'{}' ({})", static_cast<char>(type), name);
    default: {
      auto byte = describe_byte(type);
      if (name.empty()) return byte;
      byte.insert(byte.size() - 1, fmt::format(", {}", name));
      return byte;
    }
  }
}

// TupleData: Int16 column count, then per column a kind byte: 'n' null,
// 'u' unchanged TOASTed value (no data sent), 't' text or 'b' binary, each
// of the last two followed by Int32 length and that many bytes.
TupleValue read_column(WireReader& r) {
  TupleValue v;
  const uint8_t kind = r.u8("column kind");
  switch (kind) {
    case 'n':
    case 'u':
      v.kind = static_cast<char>(kind);
      return v;
    case 't':
    case 'b': {
      v.kind = static_cast<char>(kind);
      const int32_t len = r.i32("value length");
      if (len < 0) malformed(fmt::format("declared value length {} is negative", len));
      auto data = r.bytes(static_cast<size_t>(len), "value");
      // (pointer, size), not an iterator pair: assign(first, last) from uint8_t iterators builds a
      // temporary string first, which held a large value twice.
      v.data.assign(reinterpret_cast<const char*>(data.data()), data.size());
      return v;
    }
    default:
      malformed(fmt::format("unknown column kind {} (expected 'n', 'u', 't' or 'b')",
                            describe_byte(kind)));
  }
}

Tuple read_tuple(WireReader& r, std::string_view which) {
  const int16_t count = with_context([&] { return which; }, [&] { return r.i16("column count"); });
  if (count < 0) malformed(fmt::format("{}: column count {} is negative", which, count));
  Tuple tuple;
  // Every column takes at least one byte: a bogus count cannot make us
  // reserve more than the message could hold.
  tuple.reserve(std::min(static_cast<size_t>(count), r.remaining()));
  for (int i = 0; i < count; ++i) {
    tuple.push_back(
        with_context([&] { return fmt::format("{} column {} of {}", which, i + 1, count); },
                     [&] { return read_column(r); }));
  }
  return tuple;
}

// Begin: Int64 final LSN, Int64 commit timestamp, Int32 xid.
BeginMsg read_begin(WireReader& r) {
  BeginMsg m;
  m.final_lsn = r.lsn("final LSN");
  m.commit_ts = PgMicros{r.i64("commit timestamp")};
  m.xid = r.u32("xid");
  return m;
}

// Commit: Int8 flags (currently unused, kept as sent: an unused byte is no
// reason to stop the stream), Int64 commit LSN, Int64 end LSN, Int64
// commit timestamp.
CommitMsg read_commit(WireReader& r) {
  CommitMsg m;
  m.flags = r.u8("flags");
  m.commit_lsn = r.lsn("commit LSN");
  m.end_lsn = r.lsn("end LSN");
  m.commit_ts = PgMicros{r.i64("commit timestamp")};
  return m;
}

// Origin: Int64 commit LSN on the origin server, String origin name.
OriginMsg read_origin(WireReader& r) {
  OriginMsg m;
  m.commit_lsn = r.lsn("origin commit LSN");
  m.name = r.cstring("origin name");
  return m;
}

RelationColumn read_relation_column(WireReader& r) {
  RelationColumn c;
  c.flags = r.u8("flags");
  if ((c.flags & ~1u) != 0) malformed(fmt::format("unknown column flags 0x{:02X}", c.flags));
  c.name = r.cstring("name");
  c.type_oid = r.u32("type OID");
  c.type_mod = r.i32("type modifier");
  return c;
}

// Relation: Int32 relation OID, String namespace ("" for pg_catalog),
// String relation name, Int8 replica identity, Int16 column count, then per
// column Int8 flags (1 = key), String name, Int32 type OID, Int32 typmod.
RelationMsg read_relation(WireReader& r) {
  RelationMsg m;
  m.relid = RelationId(r.u32("relation OID"));
  m.nspname = r.cstring("namespace");
  m.relname = r.cstring("relation name");
  const uint8_t identity = r.u8("replica identity");
  switch (identity) {
    case 'd': case 'n': case 'f': case 'i':
      m.replica_identity = static_cast<char>(identity);
      break;
    default:
      malformed(fmt::format("unknown replica identity {} (expected 'd', 'n', 'f' or 'i')",
                            describe_byte(identity)));
  }
  const int16_t count = r.i16("column count");
  if (count < 0) malformed(fmt::format("column count {} is negative", count));
  // A column is at least 10 bytes (flags, empty name, OID, typmod).
  m.columns.reserve(std::min(static_cast<size_t>(count), r.remaining() / 10));
  for (int i = 0; i < count; ++i) {
    m.columns.push_back(with_context([&] { return fmt::format("column {} of {}", i + 1, count); },
                                     [&] { return read_relation_column(r); }));
  }
  return m;
}

// Type: Int32 type OID, String namespace ("" for pg_catalog), String name.
TypeMsg read_type(WireReader& r) {
  TypeMsg m;
  m.oid = r.u32("type OID");
  m.nspname = r.cstring("namespace");
  m.typname = r.cstring("type name");
  return m;
}

void expect_new_tuple_marker(uint8_t marker) {
  if (marker != 'N') {
    malformed(fmt::format("expected new tuple marker 'N', got {}", describe_byte(marker)));
  }
}

// Insert: Int32 relation OID, Byte1 'N', TupleData.
InsertMsg read_insert(WireReader& r) {
  InsertMsg m;
  m.relid = RelationId(r.u32("relation OID"));
  expect_new_tuple_marker(r.u8("tuple marker"));
  m.new_tuple = read_tuple(r, "new tuple");
  return m;
}

// Update: Int32 relation OID, then optionally Byte1 'K' (replica identity
// key columns) or 'O' (whole old row, REPLICA IDENTITY FULL) and a
// TupleData, then Byte1 'N' and the new TupleData.
UpdateMsg read_update(WireReader& r) {
  UpdateMsg m;
  m.relid = RelationId(r.u32("relation OID"));
  uint8_t marker = r.u8("tuple marker");
  if (marker == 'K' || marker == 'O') {
    m.old_kind = static_cast<char>(marker);
    m.old_tuple = read_tuple(r, marker == 'K' ? "key tuple" : "old tuple");
    marker = r.u8("new tuple marker");
  } else if (marker != 'N') {
    malformed(fmt::format("expected tuple marker 'K', 'O' or 'N', got {}", describe_byte(marker)));
  }
  expect_new_tuple_marker(marker);
  m.new_tuple = read_tuple(r, "new tuple");
  return m;
}

// Delete: Int32 relation OID, Byte1 'K' or 'O', TupleData.
DeleteMsg read_delete(WireReader& r) {
  DeleteMsg m;
  m.relid = RelationId(r.u32("relation OID"));
  const uint8_t marker = r.u8("tuple marker");
  if (marker != 'K' && marker != 'O') {
    malformed(fmt::format("expected tuple marker 'K' or 'O', got {}", describe_byte(marker)));
  }
  m.old_kind = static_cast<char>(marker);
  m.old_tuple = read_tuple(r, marker == 'K' ? "key tuple" : "old tuple");
  return m;
}

// Truncate: Int32 relation count, Int8 options (1 CASCADE, 2 RESTART
// IDENTITY), then that many Int32 relation OIDs and nothing else.
TruncateMsg read_truncate(WireReader& r) {
  constexpr uint8_t kKnownOptions = 1 | 2;
  TruncateMsg m;
  const int32_t count = r.i32("relation count");
  m.options = r.u8("options");
  if (count < 0) malformed(fmt::format("relation count {} is negative", count));
  if ((m.options & ~kKnownOptions) != 0) {
    malformed(fmt::format("unknown option bits 0x{:02X}", m.options & ~kKnownOptions));
  }
  const auto needed = static_cast<uint64_t>(count) * 4;
  if (needed != r.remaining()) {
    malformed(fmt::format("relation count {} needs {} bytes of OIDs, but {} bytes remain", count,
                          needed, r.remaining()));
  }
  m.relids.reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) m.relids.push_back(RelationId(r.u32("relation OID")));
  return m;
}

// Message (pg_logical_emit_message): Int8 flags (1 = transactional), Int64
// LSN, String prefix, Int32 content length, content bytes.
LogicalMsg read_message(WireReader& r) {
  LogicalMsg m;
  const uint8_t flags = r.u8("flags");
  if (flags > 1) malformed(fmt::format("unknown flags 0x{:02X} (expected 0 or 1)", flags));
  m.transactional = flags == 1;
  m.lsn = r.lsn("message LSN");
  m.prefix = r.cstring("prefix");
  const int32_t len = r.i32("content length");
  if (len < 0) malformed(fmt::format("declared content length {} is negative", len));
  auto content = r.bytes(static_cast<size_t>(len), "content");
  m.content.assign(reinterpret_cast<const char*>(content.data()), content.size());
  return m;
}

PgOutputMessage read_body(uint8_t type, WireReader& r) {
  switch (type) {
    case 'B': return read_begin(r);
    case 'C': return read_commit(r);
    case 'O': return read_origin(r);
    case 'R': return read_relation(r);
    case 'Y': return read_type(r);
    case 'I': return read_insert(r);
    case 'U': return read_update(r);
    case 'D': return read_delete(r);
    case 'T': return read_truncate(r);
    case 'M': return read_message(r);
    default:
      malformed(message_name(type).empty()
                    ? "unknown message type"
                    : "unexpected message type: tombsync requests pgoutput protocol version 1 "
                      "without streaming or two-phase commit");
  }
}

}  // namespace

// Protocol version 1 message formats:
// https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html
// Offsets in error messages count from the type byte (offset 0).
PgOutputMessage decode_pgoutput(std::span<const uint8_t> payload, Lsn wal_start) {
  if (payload.empty()) {
    malformed(fmt::format("malformed pgoutput message at LSN {}: empty payload", wal_start.str()));
  }
  WireReader r(payload);
  const uint8_t type = r.u8("message type");
  try {
    PgOutputMessage msg = read_body(type, r);
    r.expect_end("message");
    return msg;
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("malformed pgoutput message {} at LSN {}: {}",
                                      describe_type(type), wal_start.str(), e.what()));
  }
}

}  // namespace tombsync::pg
