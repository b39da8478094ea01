// The layout of the state store, in one place: the writer
// (rocksdb_cursor_store.cc) and the read-only view for check and status
// (cursor_reader.cc) both use it. Keys and values:
//   "cursor/<slot>"            the confirmed LSN, 13 bytes: version 0x01, the LSN
//                              8 bytes big-endian, CRC-32C of those 9 bytes
//                              4 bytes big-endian. Releases before the checksum
//                              wrote the LSN alone (8 bytes): still read, and
//                              rewritten in the new form by the next save.
//   "source/<slot>"            "<system identifier>/<database>"
//   "incarnation/<slot>"       times the slot was started over after a loss, 4 bytes big-endian
//   "snapshot/<slot>/<table>"  {"done":bool,"rows":n,"last_key":[text,...]|null}, and for a
//                              reconciliation's re-read also "reconcile_mark":n,"dry_run":bool[,"request":id]
//   "ledger/table/<slot>/<table>"  the table's ledger id, 4 bytes big-endian (1, 2, ...)
//   "ledger/count/<id 4 bytes>"    keys the table holds in the ledger, 8 bytes big-endian
//   "ledger/mark/<id 4 bytes>"     the last reconciliation mark given to the table, 4 bytes big-endian
//   "L<id 4 bytes><record key>"    one ledger key (the Kafka record key bytes); value empty (mark 0)
//                              or the reconciliation mark it was last stamped with, 4 bytes
//                              big-endian; with `ledger: rows`, the mark (4 bytes, 0 too) then
//                              the key's last row (agent/stream/ledger_row_codec.h, never empty);
//                              'L' sorts apart from every other (lower-case) prefix
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
std::string incarnation_key(const std::string& slot);
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

std::string ledger_table_key(const std::string& slot, const std::string& table);
// Every table id of `slot` starts with ledger_table_prefix(slot), every id with kLedgerTablePrefix.
std::string ledger_table_prefix(const std::string& slot);
inline constexpr std::string_view kLedgerTablePrefix = "ledger/table/";
std::string ledger_count_key(LedgerTableId id);
std::string ledger_mark_key(LedgerTableId id);
// A ledger key's value: empty for mark 0, else the mark (4 bytes); with a row, the mark (4
// bytes) and the row. decode: unset when malformed.
std::string encode_ledger_mark(uint32_t mark);
std::string encode_ledger_value(uint32_t mark, std::string_view row);
struct LedgerValue {
  uint32_t mark = 0;
  std::string_view row;  // into the value decoded; empty: the key alone
};
std::optional<LedgerValue> decode_ledger_value(std::string_view value);
std::optional<uint32_t> decode_ledger_mark(std::string_view value);
// Every ledger key of table `id` starts with it (5 bytes).
std::string ledger_entry_prefix(LedgerTableId id);

std::string encode_u32(uint32_t v);
std::string encode_u64(uint64_t v);
// Unset when `value` is not exactly 4 (8) bytes.
std::optional<uint32_t> decode_u32(std::string_view value);
std::optional<uint64_t> decode_u64(std::string_view value);

std::string encode_snapshot(const SnapshotProgress& p);
// Throws std::exception (nlohmann's) on a malformed value; the caller names the table.
SnapshotProgress decode_snapshot(std::string_view value);

}  // namespace tombsync::state
