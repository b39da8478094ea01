// The layout of the state store, in one place: the writer
// (rocksdb_cursor_store.cc) and the read-only view for check and status
// (cursor_reader.cc) both use it. Keys and values:
//   "cursor/<slot>"            the confirmed LSN, 8 bytes big-endian
//   "source/<slot>"            "<system identifier>/<database>"
//   "snapshot/<slot>/<table>"  {"done":bool,"rows":n,"last_key":[text,...]|null}
// Changing a key or an encoding makes every existing state_dir unreadable:
// add new keys, never reshape these.
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

std::string encode_cursor(Lsn lsn);
// nullopt when the value is not 8 bytes (a corrupt cursor).
std::optional<Lsn> decode_cursor(std::string_view value);

std::string encode_snapshot(const SnapshotProgress& p);
// Throws std::exception (nlohmann's) on a malformed value; the caller names the table.
SnapshotProgress decode_snapshot(std::string_view value);

}  // namespace tombsync::state
