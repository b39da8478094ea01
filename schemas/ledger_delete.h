// The delete event for one key the key ledger holds (docs/deletes.md): what tombsync writes for
// every key a TRUNCATE removed, and for every key a reconciliation found gone from the source.
// Any thread (the encoder passed in is used from the caller's thread only).
#pragma once

#include <memory>
#include <string_view>

#include "base/timestamps.h"
#include "schemas/change.h"
#include "schemas/encoder.h"

namespace tombsync {

// A key-only delete: the key columns decoded from `key` by `encoder` (the format that wrote the
// key), every other column absent; is_deleted, deleted_at = `deleted_at`, marked `origin`
// (kTruncate or kInferred), at the position `at`. Throws Error(kState) naming the table when
// `key` is not a key `encoder` writes for `table` now (another format, other key columns, or a
// key type that is not read back): the round trip encoder.key(event) == key is checked, so the
// delete names exactly the key the topic holds, and a compacted topic forgets that key (on the
// same partition as long as the topic's partition count is unchanged: the producer hashes the key).
ChangeEvent ledger_delete(const Encoder& encoder, const std::shared_ptr<const TableSchema>& table, std::string_view key,
                          const SourcePosition& at, UnixMicros deleted_at, DeleteOrigin origin);

}  // namespace tombsync
