// The row `ledger: rows` keeps with each live key in the key ledger
// (docs/architecture.md "The key ledger"): the last complete row the stream
// or a snapshot published for the key, so that a delete with the default
// replica identity can carry the row it deleted and an update's unchanged
// TOAST values can be filled without reading the source.
//
// Encoding (opaque to state/, stored after the reconciliation mark):
//   [version 0x01][columns varint] then per column
//   [name length varint][name][type OID varint]
//   [kind]['i': zigzag varint | 'T','F' | 't': length varint, bytes | 'n']
// Columns are named, not numbered, so a row stored before an ALTER TABLE (a
// column added, dropped or reordered) still fills the columns it has by name;
// a column whose type changed (another OID: text -> timestamp, int4 -> int8) is
// not filled from it, so a stored value never reaches an encoder that cannot
// take it. A column dropped and added again with the same name and type is
// filled from the old value: a limit, docs/deletes.md "Deleted rows".
// Unchanged-TOAST and absent columns are not stored: the ledger never claims a
// value it did not see. RocksDB compresses the values (LZ4, ZSTD at the last
// level), and the names, repeated in every row, compress away.
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/change.h"

namespace tombsync {

// Appends the encoding of `row` (aligned with table.columns) to `out`, which is cleared first.
void encode_ledger_row(const TableSchema& table, const std::vector<Datum>& row, std::string& out);

// Fills the columns of `row` (aligned with table.columns) that are unchanged TOAST or absent
// from the stored `encoded` row, by name. Returns how many it filled; a malformed `encoded`
// fills nothing and returns 0 (a damaged value never becomes a wrong one).
size_t fill_from_ledger_row(const TableSchema& table, std::string_view encoded, std::vector<Datum>& row);

// Whether `row` has a column without a value (unchanged TOAST, or absent from a key-only image).
bool has_gaps(const std::vector<Datum>& row);

}  // namespace tombsync
