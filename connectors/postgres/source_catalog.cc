#include "connectors/postgres/source_catalog.h"

#include <algorithm>

#include "base/error.h"

namespace tombsync::pg {
namespace {

[[noreturn]] void refuse(const std::string& what) { throw Error(ErrorKind::kSource, what); }

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::string qualified_sql(const std::string& schema, const std::string& table) {
  return quote_ident(schema) + "." + quote_ident(table);
}

}  // namespace

void SourceCatalog::check_server_settings() {
  auto r = conn_.exec("SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int, "
                      "current_setting('max_wal_senders')::int, "
                      "(SELECT count(*) FROM pg_replication_slots)::int",
                      "reading server settings");
  std::string wal_level = value_at(r.get(), 0, 0).value_or("");
  if (wal_level != "logical")
    refuse("wal_level is '" + wal_level + "' on " + conn_.describe() +
           "; logical replication needs wal_level = logical: run ALTER SYSTEM SET wal_level = logical "
           "(or set it in postgresql.conf) and restart PostgreSQL");
  int max_slots = std::stoi(value_at(r.get(), 0, 1).value_or("0"));
  int senders = std::stoi(value_at(r.get(), 0, 2).value_or("0"));
  if (max_slots == 0) refuse("max_replication_slots is 0; set it to at least 1 and restart PostgreSQL");
  if (senders == 0) refuse("max_wal_senders is 0; set it to at least 1 and restart PostgreSQL");
}

void SourceCatalog::check_replication_role() {
  auto r = conn_.exec("SELECT current_user, rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user",
                      "reading role attributes");
  if (PQntuples(r.get()) != 1) return;
  auto user = value_at(r.get(), 0, 0).value_or("?");
  if (value_at(r.get(), 0, 1).value_or("f") != "t")
    refuse("role " + user + " may not replicate; grant it: ALTER ROLE " + quote_ident(user) +
           " WITH REPLICATION");
}

std::vector<ResolvedTable> SourceCatalog::resolve_tables(const std::vector<TableRequest>& requests) {
  std::vector<ResolvedTable> out;
  for (const auto& req : requests) {
    std::string name = req.schema + "." + req.table;
    auto r = conn_.exec_params(
        "SELECT c.oid, c.relreplident, c.relkind, has_table_privilege(c.oid, 'SELECT') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2",
        {req.schema, req.table}, "looking up table " + name);
    if (PQntuples(r.get()) == 0)
      refuse("table " + name + " (source.tables) does not exist in database " + current_database() +
             "; create it or remove it from source.tables");
    std::string kind = value_at(r.get(), 0, 2).value_or("");
    if (kind != "r" && kind != "p")
      refuse(name + " (source.tables) is not a table (relkind '" + kind +
             "'); only tables can be published");
    if (value_at(r.get(), 0, 3).value_or("f") != "t")
      refuse("role lacks SELECT on " + name + "; grant it: GRANT SELECT ON " +
             qualified_sql(req.schema, req.table) + " TO <tombsync role>");
    ResolvedTable t;
    t.schema = req.schema;
    t.table = req.table;
    t.oid = static_cast<uint32_t>(std::stoul(value_at(r.get(), 0, 0).value_or("0")));
    t.replica_identity = value_at(r.get(), 0, 1).value_or("d").at(0);
    t.partitioned = kind == "p";

    auto cols = conn_.exec_params(
        "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum",
        {std::to_string(t.oid)}, "reading columns of " + name);
    std::vector<std::string> columns;
    for (int i = 0; i < PQntuples(cols.get()); ++i) columns.push_back(value_at(cols.get(), i, 0).value_or(""));

    // Key columns of the primary key, or else of the replica identity index.
    auto index_key = [&](const char* predicate) {
      auto k = conn_.exec_params(
          std::string("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                      "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::oid AND ") +
              predicate + " ORDER BY array_position(i.indkey::int2[], a.attnum)",
          {std::to_string(t.oid)}, "reading the key of " + name);
      std::vector<std::string> keys;
      for (int i = 0; i < PQntuples(k.get()); ++i) keys.push_back(value_at(k.get(), i, 0).value_or(""));
      return keys;
    };
    auto identity_columns = t.replica_identity == 'i' ? index_key("i.indisreplident")
                                                      : index_key("i.indisprimary");
    if (!req.key_columns.empty()) {
      for (const auto& k : req.key_columns)
        if (std::find(columns.begin(), columns.end(), k) == columns.end())
          refuse("key_columns of " + name + " names column \"" + k + "\", which the table does not have");
      // Deletes carry only the replica identity; the configured key must be in it.
      bool covered = t.replica_identity == 'f' ||
                     std::all_of(req.key_columns.begin(), req.key_columns.end(), [&](const auto& k) {
                       return t.replica_identity != 'n' &&
                              std::find(identity_columns.begin(), identity_columns.end(), k) !=
                                  identity_columns.end();
                     });
      if (!covered)
        refuse("key_columns (" + join(req.key_columns, ", ") + ") of " + name +
               " are not all in its replica identity, so deletes would arrive without them; run "
               "ALTER TABLE " + qualified_sql(req.schema, req.table) + " REPLICA IDENTITY FULL");
      t.key_columns = req.key_columns;
      t.key_source = "key_columns";
    } else if (!identity_columns.empty() && t.replica_identity != 'n') {
      t.key_columns = identity_columns;
      t.key_source = t.replica_identity == 'i' ? "replica identity index" : "primary key";
    } else if (req.allow_keyless) {
      t.key_source = "none";
    } else {
      refuse("table " + name + " has no primary key" +
             (t.replica_identity == 'n' ? std::string(" and REPLICA IDENTITY NOTHING") : "") +
             ", so its deletes cannot be keyed; fix one of: add a primary key (ALTER TABLE " +
             qualified_sql(req.schema, req.table) +
             " ADD PRIMARY KEY (...)), or ALTER TABLE ... REPLICA IDENTITY USING INDEX <unique index>, "
             "or set key_columns for it in source.tables (with REPLICA IDENTITY FULL), or allow it "
             "with allow_keyless: true");
    }
    if (t.key_source == "none" && t.replica_identity != 'f')
      refuse("keyless table " + name + " needs REPLICA IDENTITY FULL so its updates and deletes are "
             "published; run ALTER TABLE " + qualified_sql(req.schema, req.table) + " REPLICA IDENTITY FULL");
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<std::string> SourceCatalog::ensure_publication(const std::string& name,
                                                           const std::vector<ResolvedTable>& tables,
                                                           bool create) {
  std::vector<std::string> actions;
  auto pub = conn_.exec_params(
      "SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot FROM pg_publication "
      "WHERE pubname = $1",
      {name}, "looking up publication " + name);
  std::vector<std::string> table_sql;
  for (const auto& t : tables) table_sql.push_back(qualified_sql(t.schema, t.table));
  if (PQntuples(pub.get()) == 0) {
    if (!create)
      refuse("publication " + name + " (source.publication) does not exist; create it: CREATE PUBLICATION " +
             quote_ident(name) + " FOR TABLE " + join(table_sql, ", ") +
             ", or set source.create_publication: true");
    // Via the root: a partitioned table's changes arrive under its own name, not its partitions'.
    conn_.exec("CREATE PUBLICATION " + quote_ident(name) + " FOR TABLE " + join(table_sql, ", ") +
                   " WITH (publish_via_partition_root = true)",
               "creating publication " + name + " (the role must own the tables, or use a superuser)");
    actions.push_back("created publication " + name + " for " + std::to_string(tables.size()) + " tables");
    return actions;
  }
  for (int col = 1; col <= 4; ++col)
    if (value_at(pub.get(), 0, col).value_or("f") != "t")
      refuse("publication " + name + " does not publish every operation (insert, update, delete, "
             "truncate); run ALTER PUBLICATION " + quote_ident(name) +
             " SET (publish = 'insert, update, delete, truncate')");
  bool via_root = value_at(pub.get(), 0, 5).value_or("f") == "t";
  for (const auto& t : tables)
    if (t.partitioned && !via_root)
      refuse("publication " + name + " publishes the partitions of " + t.qualified() +
             " under their own names; run ALTER PUBLICATION " + quote_ident(name) +
             " SET (publish_via_partition_root = true)");
  // PG15 column lists and row filters narrow what is sent: a column list without the key, or a
  // filter that hides deletes, would lose changes without a trace.
  auto narrowed = conn_.exec_params(
      "SELECT n.nspname || '.' || c.relname, pr.prattrs IS NOT NULL, pr.prqual IS NOT NULL "
      "FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid "
      "JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE p.pubname = $1 AND (pr.prattrs IS NOT NULL OR pr.prqual IS NOT NULL)",
      {name}, "reading publication " + name + " column lists and row filters");
  for (int i = 0; i < PQntuples(narrowed.get()); ++i) {
    auto table = value_at(narrowed.get(), i, 0).value_or("?");
    for (const auto& t : tables)
      if (t.qualified() == table)
        refuse("publication " + name + " has a " +
               (value_at(narrowed.get(), i, 1) == "t" ? std::string("column list") : std::string("row filter")) +
               " on " + table + ", which would hide changes tombsync must stream; publish the whole table "
               "(ALTER PUBLICATION " + quote_ident(name) + " SET TABLE ...) or use a publication of its own");
  }
  if (value_at(pub.get(), 0, 0).value_or("f") == "t") return actions;  // FOR ALL TABLES covers them

  auto present = conn_.exec_params("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1",
                                   {name}, "reading publication " + name);
  std::vector<std::string> missing, missing_names;
  for (const auto& t : tables) {
    bool found = false;
    for (int i = 0; i < PQntuples(present.get()) && !found; ++i)
      found = value_at(present.get(), i, 0) == t.schema && value_at(present.get(), i, 1) == t.table;
    if (!found) {
      missing.push_back(qualified_sql(t.schema, t.table));
      missing_names.push_back(t.qualified());
    }
  }
  if (missing.empty()) return actions;
  if (!create)
    refuse("publication " + name + " does not include " + join(missing_names, ", ") +
           "; run ALTER PUBLICATION " + quote_ident(name) + " ADD TABLE " + join(missing, ", "));
  conn_.exec("ALTER PUBLICATION " + quote_ident(name) + " ADD TABLE " + join(missing, ", "),
             "adding tables to publication " + name);
  actions.push_back("added " + join(missing_names, ", ") + " to publication " + name);
  return actions;
}

std::optional<SlotInfo> SourceCatalog::slot(const std::string& name) {
  auto r = conn_.exec_params(
      "SELECT coalesce(plugin, ''), coalesce(database::text, ''), active, active_pid, "
      "confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
      {name}, "looking up replication slot " + name);
  if (PQntuples(r.get()) == 0) return std::nullopt;
  SlotInfo s;
  s.plugin = value_at(r.get(), 0, 0).value_or("");
  s.database = value_at(r.get(), 0, 1).value_or("");
  s.active = value_at(r.get(), 0, 2).value_or("f") == "t";
  if (auto pid = value_at(r.get(), 0, 3)) s.active_pid = std::stoi(*pid);
  if (auto lsn = value_at(r.get(), 0, 4)) s.confirmed_flush = Lsn::parse(*lsn);
  return s;
}

std::unordered_map<uint32_t, std::string> SourceCatalog::builtin_type_names() {
  auto r = conn_.exec("SELECT oid, typname FROM pg_type WHERE oid < 16384", "reading built-in types");
  std::unordered_map<uint32_t, std::string> names;
  for (int i = 0; i < PQntuples(r.get()); ++i)
    names.emplace(static_cast<uint32_t>(std::stoul(value_at(r.get(), i, 0).value_or("0"))),
                  value_at(r.get(), i, 1).value_or(""));
  return names;
}

std::string SourceCatalog::current_database() {
  auto r = conn_.exec("SELECT current_database()", "reading current database");
  return value_at(r.get(), 0, 0).value_or("");
}

}  // namespace tombsync::pg
