// judge_tables (source_rules.h): each configured table exists, is a table, is readable, and has
// a key its deletes carry (or is allowed keyless with REPLICA IDENTITY FULL).
#include <algorithm>
#include <optional>

#include "agent/source/finding_builders.h"
#include "agent/source/source_rules.h"

namespace tombsync {
namespace {

using rules::holds;
using rules::join;
using rules::problem;
using rules::unjudged;

std::string replica_identity_name(char c) {
  switch (c) {
    case 'd': return "default";
    case 'f': return "full";
    case 'i': return "using index";
    case 'n': return "nothing";
  }
  return std::string(1, c);
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

struct KeyVerdict {
  std::optional<pg::ResolvedTable> table;  // set: the key holds
  std::string message;                      // the holds line, or the problem
};

// The key a table's events carry: configured key_columns (which the replica identity must
// cover, since deletes carry only it), else the primary key or the replica identity index, else
// none when allowed (and then REPLICA IDENTITY FULL, so updates and deletes carry the row).
KeyVerdict resolve_key(const pg::TableFacts& f, const TableConfig& config) {
  const std::string name = f.name.qualified(), sql = f.name.sql();
  const char ri = f.replica_identity;
  pg::ResolvedTable t{f.name.schema, f.name.table, f.oid, ri, f.partitioned(), {}, ""};
  const auto& identity_columns = ri == 'i' ? f.identity_index : f.primary_key;
  if (!config.key_columns.empty()) {
    for (const auto& k : config.key_columns)
      if (!contains(f.columns, k))
        return {std::nullopt, "key_columns of " + name + " names column \"" + k + "\", which the table does not have"};
    const bool covered = ri == 'f' || (ri != 'n' && std::all_of(config.key_columns.begin(), config.key_columns.end(),
                                                                [&](const auto& k) { return contains(identity_columns, k); }));
    if (!covered)
      return {std::nullopt, "key_columns (" + join(config.key_columns) + ") of " + name +
                                " are not all in its replica identity, so deletes would arrive without them; run "
                                "ALTER TABLE " + sql + " REPLICA IDENTITY FULL"};
    t.key_columns = config.key_columns;
    t.key_source = "key_columns";
  } else if (!identity_columns.empty() && ri != 'n') {
    t.key_columns = identity_columns;
    t.key_source = ri == 'i' ? "replica identity index" : "primary key";
  } else if (ri == 'n' && !f.primary_key.empty() && !config.allow_keyless) {
    return {std::nullopt, "table " + name + " has REPLICA IDENTITY NOTHING, so its deletes carry no key; run "
                          "ALTER TABLE " + sql + " REPLICA IDENTITY DEFAULT (its primary key)"};
  } else if (config.allow_keyless) {
    t.key_source = "none";
  } else {
    return {std::nullopt,
            "table " + name + " has no primary key" + (ri == 'n' ? std::string(" and REPLICA IDENTITY NOTHING") : "") +
                ", so its deletes cannot be keyed; fix one of: add a primary key (ALTER TABLE " + sql +
                " ADD PRIMARY KEY (...)), or ALTER TABLE ... REPLICA IDENTITY USING INDEX <unique index>, or set "
                "key_columns for it in source.tables (with REPLICA IDENTITY FULL), or allow it with allow_keyless: "
                "true"};
  }
  if (t.key_source == "none" && ri != 'f')
    return {std::nullopt, "keyless table " + name + " needs REPLICA IDENTITY FULL so its updates and deletes are "
                          "published; run ALTER TABLE " + sql + " REPLICA IDENTITY FULL"};
  std::string line = t.key_columns.empty()
                         ? "table " + name + ": no key (allow_keyless: events have a null Kafka key)"
                         : "table " + name + ": key (" + join(t.key_columns) + ") from " + t.key_source;
  return {std::move(t), line + ", replica identity " + replica_identity_name(ri)};
}

}  // namespace

TablesRuling judge_tables(const pg::SourceFacts& facts, const Config::Source& source) {
  TablesRuling r;
  const std::string& user = facts.role.name;
  for (size_t i = 0; i < source.tables.size() && i < facts.tables.size(); ++i) {
    const TableConfig& config = source.tables[i];
    const pg::TableFacts& f = facts.tables[i];
    const std::string name = f.name.qualified();
    const std::string select_title = "table " + name + ": SELECT right";
    const std::string key_title = "table " + name + ": key and replica identity";
    if (!f.exists || !f.is_table()) {
      if (!f.exists)
        r.findings.push_back(problem("table.exists", name,
                                     "table " + name + " (source.tables) does not exist in database " +
                                         facts.server.database + "; create it or remove it from source.tables"));
      else
        r.findings.push_back(problem("table.exists", name,
                                     name + " (source.tables) is not a table (relkind '" + std::string(1, f.relkind) +
                                         "'); only tables can be published: list the table itself"));
      const std::string why = f.exists ? "it is not a table" : "the table does not exist";
      r.findings.push_back(unjudged("table.select", name, select_title, why));
      r.findings.push_back(unjudged("table.key", name, key_title, why));
      continue;
    }
    r.findings.push_back(holds("table.exists", name,
                               "table " + name + " exists (" + (f.partitioned() ? "partitioned, " : "") + "owner " +
                                   f.owner + ")"));
    if (f.readable)
      r.findings.push_back(holds("table.select", name, "role " + user + " may SELECT from " + name));
    else
      r.findings.push_back(problem("table.select", name,
                                   "role " + user + " lacks SELECT on " + name + "; grant it: GRANT SELECT ON " +
                                       f.name.sql() + " TO " + pg::quote_ident(user)));
    // The key is judged from the catalog, which needs no SELECT right: both problems at once.
    KeyVerdict key = resolve_key(f, config);
    if (!key.table) {
      r.findings.push_back(problem("table.key", name, key.message));
      continue;
    }
    r.findings.push_back(holds("table.key", name, key.message));
    if (f.readable) r.resolved.push_back(std::move(*key.table));
  }
  return r;
}

}  // namespace tombsync
