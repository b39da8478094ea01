// The configuration model's own behaviour: the names of its enums as the file spells them,
// table names, and the per-table lookups and fallbacks (topic, delete policy, snapshot mode).
// Reading and validating the file is config_parser.cc's; nothing here throws.
#include "agent/config/config.h"

namespace tombsync {

const char* to_string(DeletePolicy policy) {
  switch (policy) {
    case DeletePolicy::kBoth: return "both";
    case DeletePolicy::kFlag: return "flag";
    case DeletePolicy::kTombstone: return "tombstone";
  }
  return "unknown";
}

const char* to_string(RedactMode mode) { return mode == RedactMode::kHash ? "hash" : "drop"; }

const char* to_string(OversizedPolicy policy) {
  switch (policy) {
    case OversizedPolicy::kFail: return "fail";
    case OversizedPolicy::kTruncateColumn: return "truncate_column";
    case OversizedPolicy::kSkipColumn: return "skip_column";
  }
  return "unknown";
}

std::string TableName::qualified() const { return schema + "." + table; }

std::string TableName::sql_quoted() const {
  auto quote_ident = [](const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  };
  return quote_ident(schema) + "." + quote_ident(table);
}

const TableConfig* Config::find_table(const std::string& schema, const std::string& table) const {
  for (const TableConfig& t : source.tables) {
    if (t.name.schema == schema && t.name.table == table) return &t;
  }
  return nullptr;
}

std::string Config::topic_for(const TableConfig& table) const {
  if (table.topic) return *table.topic;
  return kafka.topic_prefix + "." + table.name.schema + "." + table.name.table;
}

SnapshotMode Config::snapshot_for(const TableConfig& table) const {
  if (snapshot == SnapshotMode::kNever) return SnapshotMode::kNever;
  return table.snapshot.value_or(snapshot);
}

DeletePolicy Config::deletes_for(const TableConfig& table) const {
  return table.deletes.value_or(deletes);
}

const char* to_string(LedgerMode mode) {
  return mode == LedgerMode::kRows ? "rows" : mode == LedgerMode::kKeys ? "keys" : "none";
}

LedgerMode Config::ledger_for(const TableConfig& table) const {
  if (table.allow_keyless) return LedgerMode::kNone;
  return table.ledger.value_or(ledger);
}

const char* to_string(TruncateMode mode) { return mode == TruncateMode::kExpand ? "expand" : "event"; }

const char* to_string(OnSlotLoss mode) { return mode == OnSlotLoss::kReconcile ? "reconcile" : "stop"; }

TruncateMode Config::truncate_for(const TableConfig& table) const {
  if (ledger_for(table) == LedgerMode::kNone) return TruncateMode::kEvent;  // nothing to expand from
  return table.truncate.value_or(truncate.value_or(TruncateMode::kExpand));
}

OversizedPolicy Config::oversized_for(const TableConfig& table) const {
  return table.oversized.value_or(oversized);
}

}  // namespace tombsync
