// Per-table rules that change what a row image means before it is encoded:
//  - soft deletes (docs/contract.md 1.3): a row whose soft_delete_column is set (a
//    non-null timestamp, or true) is delivered as a delete: is_deleted = true,
//    deleted_at = the column's timestamp (the commit time for a boolean), and
//    the table's delete policy (flagged event, tombstone or both) applies. A
//    row whose column is clear is an ordinary upsert, which restores it.
//  - redaction: in a delete event's row image (hard or soft) the columns of
//    redact_on_delete are dropped, or replaced by the hex SHA-256 of their text.
// Column positions are resolved per TableSchema version, so an ALTER TABLE
// that moves or drops a column is followed; a configured column the table
// does not have (any more) is a kConfig error naming the table and the key.
#pragma once

#include <memory>
#include <unordered_map>

#include "schemas/change.h"
#include "agent/config/config.h"

namespace tombsync {

class RowPolicy {
 public:
  explicit RowPolicy(const Config& config) : config_(config) {}

  // Marks a soft-deleted row image deleted, and redacts delete events. Events of
  // tables without soft-delete or redaction settings pass through unchanged.
  void apply(ChangeEvent& event);

  // The soft-delete state a row image shows (for a table with soft_delete_column).
  static bool soft_deleted(const Datum& d, ColumnType type);

 private:
  struct Rules {
    std::shared_ptr<const TableSchema> schema;    // pins the version the indexes refer to
    std::shared_ptr<const TableSchema> redacted;  // hash mode: the schema with hashed columns as text
    int soft_column = -1;
    std::vector<size_t> redact;
    RedactMode mode = RedactMode::kDrop;
    bool any() const { return soft_column >= 0 || !redact.empty(); }
  };
  const Rules& rules(const std::shared_ptr<const TableSchema>& table);
  void redact(ChangeEvent& event, const Rules& r) const;

  const Config& config_;
  // By relation OID, for the schema version last seen: a new version (ALTER TABLE, or a
  // Relation message re-sent after an invalidation) replaces the entry instead of adding one.
  std::unordered_map<RelationId, Rules> rules_;
};

// Lower-case hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

}  // namespace tombsync
