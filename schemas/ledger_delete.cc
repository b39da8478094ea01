#include "schemas/ledger_delete.h"

#include "base/error.h"

namespace tombsync {
namespace {

// A key, shortened for a message: keys are small, but a message is one line.
std::string shown(std::string_view key) {
  std::string out;
  for (char c : key.substr(0, 200)) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  return key.size() > 200 ? out + "..." : out;
}

}  // namespace

ChangeEvent ledger_delete(const Encoder& encoder, const std::shared_ptr<const TableSchema>& table, std::string_view key,
                          const SourcePosition& at, UnixMicros deleted_at, DeleteOrigin origin) {
  auto values = encoder.decode_key(*table, key);
  ChangeEvent e;
  e.op = Op::kDelete;
  e.table = table;
  e.is_deleted = true;
  e.deleted_at_us = deleted_at;
  e.source = at;
  e.origin = origin;
  if (values) {
    e.row.assign(table->columns.size(), Datum::absent());
    for (size_t i = 0; i < table->key_indexes.size(); ++i) e.row[table->key_indexes[i]] = std::move((*values)[i]);
  }
  if (!values || encoder.key(e) != key)
    throw Error(ErrorKind::kState,
                "the key ledger of " + table->qualified() + " holds the key " + shown(key) +
                    ", which is not a key tombsync writes for the table now (its key columns or the format changed "
                    "since the key was recorded, or the key's type is not read back): no delete can name it "
                    "(docs/deletes.md)");
  return e;
}

}  // namespace tombsync
