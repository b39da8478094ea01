#include "connectors/postgres/source_facts.h"

#include <algorithm>
#include <map>
#include <utility>

#include "base/error.h"

namespace tombsync::pg {
namespace {

// The server's WAL position now: on a standby the last replayed one (pg_current_wal_lsn() refuses there).
constexpr const char* kCurrentWal =
    "WITH w AS (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_lsn() END AS lsn) ";

// The slot's columns, read by parse_slot from `first` on; s is pg_replication_slots LEFT JOINed.
std::string slot_columns(const PgConnection& conn) {
  return std::string(
             "s.slot_name IS NOT NULL, coalesce(s.plugin, ''), coalesce(s.database::text, ''), "
             "coalesce(s.active, false), s.active_pid, s.confirmed_flush_lsn::text, s.restart_lsn::text, "
             "coalesce(s.wal_status, ''), s.safe_wal_size, pg_wal_lsn_diff(w.lsn, s.restart_lsn)::bigint, ") +
         (conn.server_version() >= 170000 ? "s.failover" : "NULL::bool");
}

bool flag(const PGresult* r, int row, int col) { return value_at(r, row, col).value_or("f") == "t"; }

int number(const PGresult* r, int row, int col) { return std::stoi(value_at(r, row, col).value_or("0")); }

SlotFacts parse_slot(const PGresult* r, int first) {
  SlotFacts s;
  s.exists = flag(r, 0, first);
  if (!s.exists) return s;
  s.plugin = value_at(r, 0, first + 1).value_or("");
  s.database = value_at(r, 0, first + 2).value_or("");
  s.active = flag(r, 0, first + 3);
  if (auto pid = value_at(r, 0, first + 4)) s.active_pid = std::stoi(*pid);
  if (auto l = value_at(r, 0, first + 5)) s.confirmed_flush = Lsn::parse(*l);
  if (auto l = value_at(r, 0, first + 6)) s.restart_lsn = Lsn::parse(*l);
  s.wal_status = value_at(r, 0, first + 7).value_or("");
  if (auto v = value_at(r, 0, first + 8)) s.safe_wal_size = std::stoll(*v);
  if (auto v = value_at(r, 0, first + 9)) s.retained_wal_bytes = std::stoll(*v);
  if (auto v = value_at(r, 0, first + 10)) s.failover = *v == "t";
  return s;
}

// Settings, role and slot in one statement.
void read_server(PgConnection& conn, const std::string& slot, SourceFacts& f) {
  auto r = conn.exec_params(
      std::string(kCurrentWal) +
          "SELECT current_setting('server_version'), current_setting('server_version_num')::int, "
          "current_database(), current_setting('wal_level'), current_setting('max_replication_slots')::int, "
          "(SELECT count(*) FROM pg_replication_slots)::int, current_setting('max_wal_senders')::int, "
          "(SELECT count(*) FROM pg_stat_replication)::int, w.lsn::text, "
          "current_user, coalesce(r.rolsuper, false), coalesce(r.rolreplication, false), "
          "has_database_privilege(current_database(), 'CREATE'), " +
          slot_columns(conn) +
          " FROM w LEFT JOIN pg_roles r ON r.rolname = current_user "
          "LEFT JOIN pg_replication_slots s ON s.slot_name = $1",
      {slot}, "reading server settings");
  ServerFacts& s = f.server;
  s.version = value_at(r.get(), 0, 0).value_or("");
  s.version_num = number(r.get(), 0, 1);
  s.database = value_at(r.get(), 0, 2).value_or("");
  s.wal_level = value_at(r.get(), 0, 3).value_or("");
  s.max_replication_slots = number(r.get(), 0, 4);
  s.used_replication_slots = number(r.get(), 0, 5);
  s.max_wal_senders = number(r.get(), 0, 6);
  s.used_wal_senders = number(r.get(), 0, 7);
  if (auto l = value_at(r.get(), 0, 8)) s.current_wal = Lsn::parse(*l);
  f.role.name = value_at(r.get(), 0, 9).value_or("");
  f.role.superuser = flag(r.get(), 0, 10);
  f.role.replication = flag(r.get(), 0, 11);
  f.role.may_create_in_database = flag(r.get(), 0, 12);
  if (!slot.empty()) f.slot = parse_slot(r.get(), 13);
}

// A text[] literal: {"a","b"} with quotes and backslashes escaped.
std::string array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    out += i ? ",\"" : "\"";
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// Every requested table in one statement: one row per column (one row with NULLs when the
// table does not exist), with the column's place in the primary key and the identity index.
void read_tables(PgConnection& conn, const std::vector<TableRef>& tables, SourceFacts& f) {
  f.tables.clear();
  for (const auto& t : tables) f.tables.push_back({.name = t});
  if (tables.empty()) return;
  std::vector<std::string> schemas, names;
  for (const auto& t : tables) {
    schemas.push_back(t.schema);
    names.push_back(t.table);
  }
  auto r = conn.exec_params(
      "SELECT q.i, c.oid, c.relkind, c.relreplident, pg_get_userbyid(c.relowner), "
      "pg_has_role(c.relowner, 'USAGE'), has_table_privilege(c.oid, 'SELECT'), a.attname, "
      "array_position(pk.indkey::int2[], a.attnum), array_position(ri.indkey::int2[], a.attnum) "
      "FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(nsp, rel, i) "
      "LEFT JOIN pg_namespace n ON n.nspname = q.nsp "
      "LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = q.rel "
      "LEFT JOIN pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary "
      "LEFT JOIN pg_index ri ON ri.indrelid = c.oid AND ri.indisreplident "
      "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
      "ORDER BY q.i, a.attnum",
      {array_literal(schemas), array_literal(names)}, "looking up the tables of source.tables");
  std::vector<std::vector<std::pair<int, std::string>>> pk(tables.size()), ri(tables.size());
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    size_t i = static_cast<size_t>(std::stoul(value_at(r.get(), row, 0).value_or("1"))) - 1;
    if (i >= f.tables.size()) continue;
    auto oid = value_at(r.get(), row, 1);
    if (!oid) continue;  // no such relation
    TableFacts& t = f.tables[i];
    t.exists = true;
    t.oid = RelationId(static_cast<uint32_t>(std::stoul(*oid)));
    t.relkind = value_at(r.get(), row, 2).value_or("?").at(0);
    t.replica_identity = value_at(r.get(), row, 3).value_or("d").at(0);
    t.owner = value_at(r.get(), row, 4).value_or("?");
    t.owned = flag(r.get(), row, 5);
    t.readable = flag(r.get(), row, 6);
    auto column = value_at(r.get(), row, 7);
    if (!column) continue;
    t.columns.push_back(*column);
    if (auto at = value_at(r.get(), row, 8)) pk[i].emplace_back(std::stoi(*at), *column);
    if (auto at = value_at(r.get(), row, 9)) ri[i].emplace_back(std::stoi(*at), *column);
  }
  for (size_t i = 0; i < f.tables.size(); ++i) {
    std::sort(pk[i].begin(), pk[i].end());
    std::sort(ri[i].begin(), ri[i].end());
    for (auto& [at, name] : pk[i]) f.tables[i].primary_key.push_back(name);
    for (auto& [at, name] : ri[i]) f.tables[i].identity_index.push_back(name);
  }
}

// The publication and, unless it is FOR ALL TABLES, every table it lists or names, one row each.
void read_publication(PgConnection& conn, const std::string& name, PublicationFacts& p) {
  const std::string narrowing = conn.server_version() >= 150000 ? "pr.prattrs IS NOT NULL, pr.prqual IS NOT NULL"
                                                                : "false, false";
  auto r = conn.exec_params(
      "SELECT p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot, "
      "pg_get_userbyid(p.pubowner), pg_has_role(p.pubowner, 'USAGE'), t.nsp, t.rel, t.listed, t.member, "
      "t.cols, t.filter FROM pg_publication p LEFT JOIN LATERAL ("
      "  SELECT nsp, rel, bool_or(listed) AS listed, bool_or(member) AS member, bool_or(cols) AS cols, "
      "  bool_or(filter) AS filter FROM ("
      "    SELECT pt.schemaname::text AS nsp, pt.tablename::text AS rel, true AS listed, false AS member, "
      "    false AS cols, false AS filter FROM pg_publication_tables pt "
      "    WHERE NOT p.puballtables AND pt.pubname = p.pubname "
      "    UNION ALL "
      "    SELECT n.nspname::text, c.relname::text, false, true, " + narrowing +
          "    FROM pg_publication_rel pr JOIN pg_class c ON c.oid = pr.prrelid "
          "    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE pr.prpubid = p.oid) u "
          "  GROUP BY nsp, rel) t ON true "
          "WHERE p.pubname = $1 ORDER BY t.nsp, t.rel",
      {name}, "looking up publication " + name);
  p = PublicationFacts{};
  if (PQntuples(r.get()) == 0) return;
  p.exists = true;
  p.all_tables = flag(r.get(), 0, 0);
  p.publishes_insert = flag(r.get(), 0, 1);
  p.publishes_update = flag(r.get(), 0, 2);
  p.publishes_delete = flag(r.get(), 0, 3);
  p.publishes_truncate = flag(r.get(), 0, 4);
  p.via_root = flag(r.get(), 0, 5);
  p.owner = value_at(r.get(), 0, 6).value_or("?");
  p.owned = flag(r.get(), 0, 7);
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    auto schema = value_at(r.get(), row, 8);
    if (!schema) continue;  // a publication without tables
    p.tables.push_back({.name = {*schema, value_at(r.get(), row, 9).value_or("")},
                        .listed = flag(r.get(), row, 10),
                        .member = flag(r.get(), row, 11),
                        .column_list = flag(r.get(), row, 12),
                        .row_filter = flag(r.get(), row, 13)});
  }
}

// pg_control_system() may be revoked from the role: then the identifier is left unknown.
std::string read_system_identifier(PgConnection& conn) {
  try {
    auto r = conn.exec("SELECT system_identifier::text FROM pg_control_system()", "reading the system identifier");
    return value_at(r.get(), 0, 0).value_or("");
  } catch (const Error& e) {
    if (e.transient()) throw;  // the connection is gone, not the right
    return "";
  }
}

}  // namespace

std::string TableRef::sql() const { return quote_ident(schema) + "." + quote_ident(table); }

const PublishedTable* PublicationFacts::find(const TableRef& table) const {
  for (const auto& t : tables)
    if (t.name == table) return &t;
  return nullptr;
}

SourceFacts inspect(PgConnection& conn, const InspectRequest& request) {
  SourceFacts f;
  read_server(conn, request.slot, f);
  read_tables(conn, request.tables, f);
  if (!request.publication.empty()) read_publication(conn, request.publication, f.publication);
  f.server.system_identifier = read_system_identifier(conn);
  return f;
}

SlotFacts read_slot(PgConnection& conn, const std::string& slot) {
  auto r = conn.exec_params(std::string(kCurrentWal) + "SELECT " + slot_columns(conn) +
                                " FROM w LEFT JOIN pg_replication_slots s ON s.slot_name = $1",
                            {slot}, "reading replication slot " + slot);
  return parse_slot(r.get(), 0);
}

}  // namespace tombsync::pg
