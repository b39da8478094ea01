// Which records of a tombsync table topic are deletes, and what the audit row
// of one holds. docs/event-format.md is the contract read here. Pure functions:
// no I/O, callable from any thread.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "examples/warehouse-loader/flags.h"
#include "examples/warehouse-loader/record.h"

namespace tombsync::audit {

enum class Action { kDelete, kSoftDelete, kTruncate, kInferred };
constexpr size_t kActions = 4;
const char* to_string(Action a);  // "delete", "soft_delete", "truncate", "inferred": audit_log.action

// The delete a record is, or nullopt for everything else (tombstones, truncate events,
// inserts, updates, reads). Deletes are the values with is_deleted: true, classified by
// tombsync's markers first ("__inferred", "__truncate"), then by __op ("delete": a row's hard
// delete; anything else, "update" mostly: a soft delete through soft_delete_column).
std::optional<Action> classify(const loader::LoaderRecord& r);

// The value's row columns: every member but tombsync's metadata (is_deleted, deleted_at and
// every "__*" name). Under the default replica identity a hard delete carries the key columns
// only; redacted columns are absent (or hashed) as the agent sent them.
nlohmann::json old_data(const nlohmann::json& value);

// One audit_log row as a JSON object (jsonb_to_recordset's input; see audit_writer.cc).
nlohmann::json audit_row(const loader::LoaderRecord& r, Action action, const loader::TableSpec& table);

}  // namespace tombsync::audit
