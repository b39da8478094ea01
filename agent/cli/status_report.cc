#include "agent/cli/status_report.h"

#include <libpq-fe.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "state/cursor_reader.h"
#include "base/error.h"
#include "connectors/postgres/pg_connection.h"

namespace tombsync {
namespace {

// host, port, dbname and user as the DSN gives them (for when the connection fails).
void describe_dsn(const std::string& dsn, StatusReport::Source& s) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return;
  for (auto* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    std::string k = o->keyword;
    if (k == "host" || (k == "hostaddr" && s.host.empty())) s.host = o->val;
    else if (k == "port") s.port = o->val;
    else if (k == "dbname") s.dbname = o->val;
    else if (k == "user") s.user = o->val;
  }
  PQconninfoFree(opts);
}

std::optional<int64_t> diff(std::optional<Lsn> a, std::optional<Lsn> b) {
  if (!a || !b) return std::nullopt;
  return static_cast<int64_t>(a->value() - b->value());
}

std::string or_dash(const std::string& s) { return s.empty() ? "?" : s; }

nlohmann::ordered_json lsn_json(const std::optional<Lsn>& l) { return l ? nlohmann::ordered_json(l->str()) : nlohmann::ordered_json(nullptr); }

template <class T>
nlohmann::ordered_json opt_json(const std::optional<T>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

void read_postgres(const Config& config, StatusReport& r) {
  pg::PgConnection conn(config.source.dsn, pg::PgConnection::Mode::kSql);
  r.source.reachable = true;
  auto field = [](const char* v) { return v ? std::string(v) : std::string(); };
  r.source.host = field(PQhost(conn.raw()));
  r.source.port = field(PQport(conn.raw()));
  r.source.dbname = field(PQdb(conn.raw()));
  r.source.user = field(PQuser(conn.raw()));
  r.source.server_version = field(PQparameterStatus(conn.raw(), "server_version"));

  // One statement, so every figure is taken at the same instant.
  auto s = conn.exec_params(
      "SELECT pg_current_wal_lsn()::text, s.slot_name IS NOT NULL, coalesce(s.plugin, ''), "
      "coalesce(s.database::text, ''), coalesce(s.active, false), s.active_pid, s.confirmed_flush_lsn::text, "
      "s.restart_lsn::text, coalesce(s.wal_status, ''), current_database() "
      "FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON s.slot_name = $1",
      {config.source.slot}, "reading replication slot " + config.source.slot);
  auto at = [&](int col) { return pg::value_at(s.get(), 0, col); };
  r.source.current_wal_lsn = Lsn::parse(at(0).value_or(""));
  r.slot.exists = at(1) == "t";
  r.slot.plugin = at(2).value_or("");
  r.slot.database = at(3).value_or("");
  r.slot.active = at(4) == "t";
  if (auto pid = at(5)) r.slot.active_pid = std::stol(*pid);
  if (auto l = at(6)) r.slot.confirmed_flush_lsn = Lsn::parse(*l);
  if (auto l = at(7)) r.slot.restart_lsn = Lsn::parse(*l);
  r.slot.wal_status = at(8).value_or("");
  const std::string database = at(9).value_or("");
  r.slot.lag_bytes = diff(r.source.current_wal_lsn, r.slot.confirmed_flush_lsn);
  r.slot.retained_wal_bytes = diff(r.source.current_wal_lsn, r.slot.restart_lsn);
  r.cursor.lag_bytes = diff(r.source.current_wal_lsn, r.cursor.lsn);

  // pg_control_system() may be revoked: then the cursor's source is not compared.
  try {
    auto id = conn.exec("SELECT system_identifier::text FROM pg_control_system()", "reading the system identifier");
    r.source.system_identifier = pg::value_at(id.get(), 0, 0).value_or("");
  } catch (const Error&) {
  }
  if (r.cursor.source && !r.source.system_identifier.empty()) {
    std::string identity = r.source.system_identifier + "/" + database;
    r.cursor.matches_source = *r.cursor.source == identity;
    if (!*r.cursor.matches_source)
      r.errors.push_back("state_dir " + config.state_dir + " holds the cursor of slot " + config.source.slot +
                         " for source " + *r.cursor.source + ", not " + identity +
                         " (this database): it belongs to another database");
  }

  if (r.cursor.lsn && !r.slot.exists)
    r.errors.push_back("replication slot " + config.source.slot + " is gone but state_dir has its cursor " +
                       r.cursor.lsn->str() + ": run refuses to start (changes since then are lost to this slot)");
  if (r.cursor.lsn && r.source.current_wal_lsn && *r.cursor.lsn > *r.source.current_wal_lsn)
    r.errors.push_back("the stored cursor " + r.cursor.lsn->str() + " is ahead of the server's WAL (" +
                       r.source.current_wal_lsn->str() + "): the database was restored or failed over");

  auto p = conn.exec_params("SELECT puballtables FROM pg_publication WHERE pubname = $1", {config.source.publication},
                            "looking up publication " + config.source.publication);
  r.publication.exists = PQntuples(p.get()) == 1;
  r.publication.all_tables = r.publication.exists && pg::value_at(p.get(), 0, 0) == "t";
  std::vector<std::pair<std::string, std::string>> published;
  if (r.publication.exists && !r.publication.all_tables) {
    auto t = conn.exec_params(
        "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2",
        {config.source.publication}, "reading publication " + config.source.publication);
    for (int i = 0; i < PQntuples(t.get()); ++i) {
      published.emplace_back(pg::value_at(t.get(), i, 0).value_or(""), pg::value_at(t.get(), i, 1).value_or(""));
      r.publication.tables.push_back(published.back().first + "." + published.back().second);
    }
  }
  for (size_t i = 0; i < config.source.tables.size(); ++i) {
    const auto& name = config.source.tables[i].name;
    bool in = r.publication.all_tables;
    for (const auto& [schema, table] : published) in = in || (schema == name.schema && table == name.table);
    r.tables[i].in_publication = r.publication.exists && in;
  }
}

}  // namespace

StatusReport collect_status(const std::string& config_path, const Config& config) {
  StatusReport r;
  r.config_path = config_path;
  describe_dsn(config.source.dsn, r.source);
  r.slot.name = config.source.slot;
  r.publication.name = config.source.publication;
  r.cursor.state_dir = config.state_dir;
  for (const auto& t : config.source.tables) r.tables.push_back({t.name.qualified(), config.topic_for(t), std::nullopt});

  try {
    auto stored = read_stored_cursor(config.state_dir, config.source.slot);
    r.cursor.store_exists = stored.store_exists;
    r.cursor.lsn = stored.confirmed;
    r.cursor.source = stored.source;
    r.cursor.agent_pid = state_dir_lock_holder(config.state_dir);
    for (auto& t : r.tables) {
      auto it = stored.snapshots.find(t.name);
      if (it == stored.snapshots.end()) continue;
      t.snapshot = it->second.done ? "done" : "running";
      t.snapshot_rows = it->second.rows;
    }
  } catch (const Error& e) {
    r.errors.push_back(e.what());
  }
  try {
    read_postgres(config, r);
  } catch (const Error& e) {
    r.errors.push_back(e.what());
  }
  return r;
}

std::string StatusReport::text() const {
  std::string out = fmt::format("tombsync status (config {})\n", config_path);
  out += fmt::format("source       host={} port={} dbname={} user={}", or_dash(source.host), or_dash(source.port),
                     or_dash(source.dbname), or_dash(source.user));
  if (source.reachable) {
    out += fmt::format(", PostgreSQL {}", source.server_version);
    if (!source.system_identifier.empty()) out += ", system " + source.system_identifier;
    out += "\n";
    out += fmt::format("server WAL   {}\n", source.current_wal_lsn ? source.current_wal_lsn->str() : "?");
  } else {
    out += " (unreachable)\n";
  }

  if (!source.reachable) {
    out += fmt::format("slot         {}: unknown (Postgres unreachable)\n", slot.name);
  } else if (!slot.exists) {
    out += fmt::format("slot         {}: does not exist (run creates it)\n", slot.name);
  } else {
    out += fmt::format("slot         {}: {}, plugin {}, database {}{}\n", slot.name,
                       slot.active ? fmt::format("active (pid {})", slot.active_pid.value_or(0)) : "not active",
                       slot.plugin, slot.database, slot.wal_status.empty() ? "" : ", wal_status " + slot.wal_status);
    out += fmt::format("  confirmed_flush_lsn  {:<14} lag {} bytes\n",
                       slot.confirmed_flush_lsn ? slot.confirmed_flush_lsn->str() : "none",
                       slot.lag_bytes ? std::to_string(*slot.lag_bytes) : "?");
    out += fmt::format("  restart_lsn          {:<14} retained WAL {} bytes\n",
                       slot.restart_lsn ? slot.restart_lsn->str() : "none",
                       slot.retained_wal_bytes ? std::to_string(*slot.retained_wal_bytes) : "?");
  }

  std::string agent = cursor.agent_pid ? fmt::format("; agent running (pid {})", *cursor.agent_pid) : "";
  if (!cursor.store_exists)
    out += fmt::format("cursor       none (state_dir {} holds no store yet{})\n", cursor.state_dir, agent);
  else if (!cursor.lsn)
    out += fmt::format("cursor       none yet for slot {} (state_dir {}{})\n", slot.name, cursor.state_dir, agent);
  else
    out += fmt::format("cursor       {}{} (state_dir {}{}{})\n", cursor.lsn->str(),
                       cursor.lag_bytes ? fmt::format("  lag {} bytes", *cursor.lag_bytes) : "", cursor.state_dir,
                       cursor.matches_source == false ? "; source MISMATCH: " + cursor.source.value_or("") : "",
                       agent);

  if (!source.reachable)
    out += fmt::format("publication  {}: unknown (Postgres unreachable)\n", publication.name);
  else if (!publication.exists)
    out += fmt::format("publication  {}: does not exist\n", publication.name);
  else if (publication.all_tables)
    out += fmt::format("publication  {}: FOR ALL TABLES\n", publication.name);
  else
    out += fmt::format("publication  {}: {} table{}{}{}\n", publication.name, publication.tables.size(),
                       publication.tables.size() == 1 ? "" : "s", publication.tables.empty() ? "" : ": ",
                       fmt::join(publication.tables, ", "));

  out += "tables\n";
  for (const auto& t : tables)
    out += fmt::format("  {} -> {}{}  snapshot {}{}\n", t.name, t.topic,
                       !t.in_publication ? "" : *t.in_publication ? "  (published)" : "  (NOT in the publication)",
                       t.snapshot, t.snapshot == "none" ? "" : fmt::format(" ({} rows)", t.snapshot_rows));
  for (const auto& e : errors) out += "error: " + e + "\n";
  return out;
}

std::string StatusReport::json() const {
  nlohmann::ordered_json j;
  j["config"] = config_path;
  j["ok"] = ok();
  j["source"] = {{"host", source.host},
                 {"port", source.port},
                 {"dbname", source.dbname},
                 {"user", source.user},
                 {"reachable", source.reachable},
                 {"server_version", source.reachable ? nlohmann::ordered_json(source.server_version) : nlohmann::ordered_json(nullptr)},
                 {"system_identifier", source.system_identifier.empty() ? nlohmann::ordered_json(nullptr)
                                                                         : nlohmann::ordered_json(source.system_identifier)},
                 {"current_wal_lsn", lsn_json(source.current_wal_lsn)}};
  nlohmann::ordered_json s = {{"name", slot.name}};
  if (source.reachable) {
    s["exists"] = slot.exists;
    if (slot.exists) {
      s["plugin"] = slot.plugin;
      s["database"] = slot.database;
      s["active"] = slot.active;
      s["active_pid"] = opt_json(slot.active_pid);
      s["wal_status"] = slot.wal_status;
      s["confirmed_flush_lsn"] = lsn_json(slot.confirmed_flush_lsn);
      s["restart_lsn"] = lsn_json(slot.restart_lsn);
      s["lag_bytes"] = opt_json(slot.lag_bytes);
      s["retained_wal_bytes"] = opt_json(slot.retained_wal_bytes);
    }
  } else {
    s["exists"] = nullptr;
  }
  j["slot"] = s;
  j["cursor"] = {{"state_dir", cursor.state_dir},
                 {"store_exists", cursor.store_exists},
                 {"lsn", lsn_json(cursor.lsn)},
                 {"source", opt_json(cursor.source)},
                 {"matches_source", opt_json(cursor.matches_source)},
                 {"lag_bytes", opt_json(cursor.lag_bytes)},
                 {"agent_pid", opt_json(cursor.agent_pid)}};
  nlohmann::ordered_json p = {{"name", publication.name}};
  if (source.reachable) {
    p["exists"] = publication.exists;
    p["all_tables"] = publication.all_tables;
    p["tables"] = publication.tables;
  } else {
    p["exists"] = nullptr;
  }
  j["publication"] = p;
  j["tables"] = nlohmann::ordered_json::array();
  for (const auto& t : tables)
    j["tables"].push_back({{"name", t.name},
                           {"topic", t.topic},
                           {"in_publication", opt_json(t.in_publication)},
                           {"snapshot", t.snapshot},
                           {"snapshot_rows", t.snapshot_rows}});
  j["errors"] = errors;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace tombsync
