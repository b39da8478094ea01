// The layout of the state store, in one place: the writer
// (rocksdb_cursor_store.cc) and the read-only view for check and status
// (cursor_reader.cc) both use it. Keys and values:
//   "cursor/<slot>"            the confirmed LSN, 13 bytes: version 0x01, the LSN
//                              8 bytes big-endian, CRC-32C of those 9 bytes
//                              4 bytes big-endian. Releases before the checksum
//                              wrote the LSN alone (8 bytes): still read, and
//                              rewritten in the new form by the next save.
//   "source/<slot>"            "<system identifier>/<database>"
//   "snapshot/<slot>/<table>"  {"done":bool,"rows":n,"last_key":[text,...]|null}
// Changing a key or an encoding makes existing state_dirs unreadable: add new
// keys, or a new version byte that the decoder also reads, never reshape these.
// (A release before the checksum refuses a 13-byte cursor as corrupt: a
// downgrade needs the state_dir backed up before the upgrade.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/lsn.h"
#include "state/cursor_store.h"

namespace tombsync::state {

std::string cursor_key(const std::string& slot);
std::string identity_key(const std::string& slot);
std::string snapshot_key(const std::string& slot, const std::string& table);
// Every snapshot key of `slot` starts with it.
std::string snapshot_prefix(const std::string& slot);

// A stored cursor value, decoded.
struct CursorValue {
  std::optional<Lsn> lsn;  // unset: the value is corrupt, and `problem` says how
  bool legacy = false;     // the 8-byte form without a checksum (an older release wrote it)
  std::string problem;
};

// Always the current form (version 0x01, checksummed).
std::string encode_cursor(Lsn lsn);
CursorValue decode_cursor(std::string_view value);

std::string encode_snapshot(const SnapshotProgress& p);
// Throws std::exception (nlohmann's) on a malformed value; the caller names the table.
SnapshotProgress decode_snapshot(std::string_view value);

}  // namespace tombsync::state
