// The Parser's source.tables (see config_parser.h): each entry, short ("schema.table") or a
// mapping of overrides, with names read as Postgres reads them (unquoted ones folded), and the
// checks that need several keys or several tables. On return every table is unique, and
// check_tables() guarantees what Config promises: each table has its own, legal topic, and a
// keyless table has the flag delete policy and no snapshot.
#include "agent/config/config_parser.h"

#include <algorithm>
#include <array>
#include <map>

#include "agent/config/config_messages.h"
#include "agent/config/config_names.h"

namespace tombsync::config_internal {

TableName Parser::table_name(const Value& at, const std::string& path) const {
  const std::string text = nonempty(at, path, kTableForm);
  std::vector<std::string> parts;
  std::string why;
  if (!parse_identifiers(text, parts, why)) {
    fail(at, path, quote(text) + " is not a valid table name: " + why + "; expected " +
                      std::string(kTableForm) + ", e.g. \"public.users\" or " +
                      "'public.\"Order Items\"'");
  }
  if (parts.size() == 1) {
    fail(at, path, quote(text) + " is not schema-qualified; expected " + std::string(kTableForm) +
                      ", e.g. " + quote("public." + text));
  }
  if (parts.size() > 2) {
    fail(at, path, quote(text) + " has " + std::to_string(parts.size()) + " dot-separated parts; " +
                      "expected " + std::string(kTableForm) +
                      " (double-quote a name that contains a dot)");
  }
  return TableName{parts[0], parts[1]};
}

std::vector<std::string> Parser::key_columns(const Value& at, const std::string& path) const {
  const YAML::Node& n = at.node;
  constexpr std::string_view kForm = "a list of column names, e.g. [order_id]";
  if (!n.IsSequence()) {
    if (n.IsNull()) fail(at, path, "no value given; expected " + std::string(kForm));
    fail(at, path, "expected " + std::string(kForm) + ", got " + kind_name(n));
  }
  if (n.size() == 0) {
    fail(at, path, "is empty; expected " + std::string(kForm) +
                      " (for a table without a key, set allow_keyless: true instead)");
  }
  std::vector<std::string> columns;
  for (size_t i = 0; i < n.size(); ++i) {
    const Value item = value_of(n[i]);
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    const std::string text = nonempty(item, item_path, "a column name");
    std::vector<std::string> parts;
    std::string why;
    if (!parse_identifiers(text, parts, why) || parts.size() != 1) {
      if (why.empty()) why = "it has a '.'";
      fail(item, item_path, quote(text) + " is not a valid column name: " + why +
                                "; expected a Postgres identifier, e.g. order_id or '\"OrderId\"'");
    }
    if (std::find(columns.begin(), columns.end(), parts[0]) != columns.end()) {
      fail(item, item_path, "column " + quote(parts[0]) + " is listed twice");
    }
    columns.push_back(parts[0]);
  }
  return columns;
}

std::string Parser::topic(const Value& at, const std::string& path) const {
  const std::string t = scalar(at, path, "a Kafka topic name, " + std::string(kTopicForm));
  if (!valid_topic(t)) {
    fail(at, path, quote(t) + " is not a valid Kafka topic name; expected " +
                      std::string(kTopicForm));
  }
  return t;
}

void Parser::parse_tables(const Value& at, std::vector<TableConfig>& tables) {
  const YAML::Node& n = at.node;
  constexpr std::string_view kForm =
      "a list of tables, each \"schema.table\" or a mapping with name: and overrides";
  if (!n.IsSequence()) {
    if (n.IsNull()) fail(at, "source.tables", "no value given; expected " + std::string(kForm));
    fail(at, "source.tables", "expected " + std::string(kForm) + ", got " + kind_name(n));
  }
  if (n.size() == 0) {
    fail(at, "source.tables", "lists no tables; expected at least one \"schema.table\"");
  }
  const Keys table_keys(kTableKeys);
  for (size_t i = 0; i < n.size(); ++i) {
    const Value item = value_of(n[i]);
    const std::string path = "source.tables[" + std::to_string(i) + "]";
    TableConfig table;
    if (item.node.IsScalar()) {
      table.name = table_name(item, path);
    } else if (item.node.IsMap()) {
      const Entries e = entries(item.node, path, "table", &table_keys);
      const Value* name = find(e, "name");
      if (!name) {
        fail(item, "", "missing required key " + path + ".name (" + std::string(kTableForm) +
                           ", e.g. name: public.orders)");
      }
      table.name = table_name(*name, path + ".name");
      if (const Value* v = find(e, "deletes")) {
        table.deletes = delete_policy(*v, path + ".deletes");
      }
      if (const Value* v = find(e, "oversized")) table.oversized = oversized_policy(*v, path + ".oversized");
      if (const Value* v = find(e, "ledger")) table.ledger = ledger_mode(*v, path + ".ledger");
      if (const Value* v = find(e, "truncate")) table.truncate = truncate_mode(*v, path + ".truncate");
      if (const Value* v = find(e, "key_columns")) {
        table.key_columns = key_columns(*v, path + ".key_columns");
      }
      if (const Value* v = find(e, "allow_keyless")) {
        table.allow_keyless = boolean(*v, path + ".allow_keyless");
      }
      if (const Value* v = find(e, "complete_rows")) table.complete_rows = boolean(*v, path + ".complete_rows");
      if (const Value* v = find(e, "snapshot")) {
        static constexpr std::array<std::string_view, 2> kNames = {"initial", "never"};
        table.snapshot = one_of(*v, path + ".snapshot", kNames) == 0 ? SnapshotMode::kInitial : SnapshotMode::kNever;
      }
      if (const Value* v = find(e, "topic")) table.topic = topic(*v, path + ".topic");
      if (const Value* v = find(e, "soft_delete_column")) {
        const std::vector<std::string> cols = column_list(*v, path + ".soft_delete_column");
        if (cols.size() != 1) fail(*v, path + ".soft_delete_column", "expected one column name");
        table.soft_delete_column = cols[0];
      }
      if (const Value* v = find(e, "redact_on_delete")) {
        table.redact_on_delete = column_list(*v, path + ".redact_on_delete");
      }
      if (const Value* v = find(e, "redact_mode")) {
        static constexpr std::array<std::string_view, 2> kNames = {"drop", "hash"};
        table.redact_mode = static_cast<RedactMode>(one_of(*v, path + ".redact_mode", kNames));
      }
      for (const std::string& c : table.redact_on_delete) {
        if (std::find(table.key_columns.begin(), table.key_columns.end(), c) != table.key_columns.end() ||
            c == table.soft_delete_column) {
          fail(item, path, "redact_on_delete lists " + quote(c) + ", which is a key column or the "
                           "soft_delete_column; a delete event needs it, so remove it from the list");
        }
      }
      if (table.allow_keyless && table.complete_rows) {
        fail(item, path, "complete_rows: true needs a key to read rows back by; a keyless table "
                         "(allow_keyless) cannot have it: give it REPLICA IDENTITY FULL instead");
      }
      if (table.allow_keyless && table.ledger == LedgerMode::kRows) {
        fail(item, path, "ledger: rows keeps each key's last row; a keyless table (allow_keyless) has no key "
                         "to keep it by: remove ledger: rows, or give it key_columns");
      }
      if (table.allow_keyless && !table.key_columns.empty()) {
        fail(item, path, "allow_keyless: true and key_columns contradict each other; key_columns "
                         "gives the table a key, so remove allow_keyless");
      }
    } else {
      fail(item, path, "expected " + std::string(kTableForm) +
                           " or a mapping with name: and overrides, got " + kind_name(item.node));
    }
    for (size_t j = 0; j < tables.size(); ++j) {
      if (tables[j].name == table.name) {
        fail(item, path, table.name.qualified() + " is listed twice (first as source.tables[" +
                             std::to_string(j) + "])");
      }
    }
    tables.push_back(std::move(table));
    table_nodes_.push_back(item);
  }
}

// A column name or a list of them, as Postgres identifiers (unquoted ones folded).
std::vector<std::string> Parser::column_list(const Value& at, const std::string& path) const {
  if (at.node.IsScalar()) {
    std::vector<std::string> parts;
    std::string why;
    const std::string text = nonempty(at, path, "a column name");
    if (!parse_identifiers(text, parts, why) || parts.size() != 1) {
      fail(at, path, quote(text) + " is not a valid column name" + (why.empty() ? "" : ": " + why));
    }
    return parts;
  }
  return key_columns(at, path);
}

// Checks that need more than one key: the derived topic (prefix + names) and
// the delete policy of keyless tables.
void Parser::check_tables(const Config& config) const {
  std::map<std::string, size_t> topics;  // topic -> first table index using it
  for (size_t i = 0; i < config.source.tables.size(); ++i) {
    const TableConfig& t = config.source.tables[i];
    const Value& node = table_nodes_[i];
    const std::string path = "source.tables[" + std::to_string(i) + "]";
    const std::string topic = config.topic_for(t);
    // One table per topic: keys of two tables could collide, and a restart tells records
    // already in Kafka apart by partition order, which two tables would interleave.
    if (auto [it, added] = topics.emplace(topic, i); !added) {
      fail(node, path, "the topic " + quote(topic) + " is also the topic of source.tables[" +
                           std::to_string(it->second) + "] (" +
                           config.source.tables[it->second].name.qualified() +
                           "); each table needs its own topic: set topic: for one of them");
    }
    if (!t.topic && !valid_topic(topic)) {
      fail(node, path, "the topic " + quote(topic) + " derived from kafka.topic_prefix and the " +
                           "table name is not a valid Kafka topic name (" +
                           std::string(kTopicForm) + "); set topic: for this table");
    }
    if (t.allow_keyless && config.deletes_for(t) != DeletePolicy::kFlag) {
      fail(node, path, t.name.qualified() + " is keyless (allow_keyless: true) and its delete " +
                           "policy is " + to_string(config.deletes_for(t)) + ", but a " +
                           "tombstone needs a key; set deletes: flag on this table");
    }
    const bool expand_asked = t.truncate.value_or(config.truncate.value_or(TruncateMode::kEvent)) ==
                              TruncateMode::kExpand;
    if (!t.allow_keyless && expand_asked && config.ledger_for(t) == LedgerMode::kNone) {
      fail(node, path, t.name.qualified() + " has truncate: expand but ledger: none: a TRUNCATE is expanded " +
                           "into one delete per key of the key ledger; set ledger: keys, or truncate: event");
    }
    if (t.allow_keyless && config.snapshot_for(t) != SnapshotMode::kNever) {
      fail(node, path, t.name.qualified() + " is keyless (allow_keyless: true), and a snapshot needs a " +
                           "key to page by and to reconcile with the stream; set snapshot: never on this " +
                           "table (its existing rows are then not sent, only its changes)");
    }
  }
}

}  // namespace tombsync::config_internal
