#include "agent/cli/status_report.h"

#include "agent/cli/reconcile_command.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/source/source_rules.h"
#include "base/error.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/source_facts.h"
#include "state/cursor_reader.h"

namespace tombsync {
namespace {

void set_target(const pg::ConnectionTarget& t, StatusReport::Source& s) {
  s.host = t.host;
  s.port = t.port;
  s.dbname = t.dbname;
  s.user = t.user;
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

// The source's facts (pg::inspect: the slot's positions and the current WAL of one instant), and
// the stored cursor judged against them by the rule `run` applies (judge_cursor).
void read_postgres(const Config& config, StatusReport& r) {
  pg::PgConnection conn(config.source.dsn, pg::PgConnection::Mode::kSql);
  r.source.reachable = true;
  set_target(conn.target(), r.source);
  r.source.server_version = conn.server_version_text();
  const pg::SourceFacts facts = pg::inspect(conn, inspect_request(config.source));

  r.source.current_wal_lsn = facts.server.current_wal;
  r.source.system_identifier = facts.server.system_identifier;  // "" when pg_control_system() is revoked
  const pg::SlotFacts& slot = facts.slot;
  r.slot.exists = slot.exists;
  r.slot.plugin = slot.plugin;
  r.slot.database = slot.database;
  r.slot.active = slot.active;
  if (slot.active_pid) r.slot.active_pid = *slot.active_pid;
  r.slot.confirmed_flush_lsn = slot.confirmed_flush;
  r.slot.restart_lsn = slot.restart_lsn;
  r.slot.wal_status = slot.wal_status;
  r.slot.lag_bytes = diff(r.source.current_wal_lsn, r.slot.confirmed_flush_lsn);
  r.slot.retained_wal_bytes = slot.retained_wal_bytes;
  r.cursor.lag_bytes = diff(r.source.current_wal_lsn, r.cursor.lsn);

  if (r.cursor.source && !r.source.system_identifier.empty())
    r.cursor.matches_source = *r.cursor.source == source_identity(r.source.system_identifier, facts.server.database);
  const StoredState stored{config.state_dir, r.cursor.lsn, r.cursor.source};
  const Finding verdict = judge_cursor(stored, facts.server, slot, config.source.slot, config.on_slot_loss,
                                       config.source.create_slot);
  if (verdict.level == Finding::Level::kProblem) r.errors.push_back(verdict.message);

  const pg::PublicationFacts& pub = facts.publication;
  r.publication.exists = pub.exists;
  r.publication.all_tables = pub.all_tables;
  for (const auto& t : pub.tables)
    if (t.listed) r.publication.tables.push_back(t.name.qualified());
  for (size_t i = 0; i < config.source.tables.size(); ++i) {
    const auto& name = config.source.tables[i].name;
    const pg::PublishedTable* p = pub.find({name.schema, name.table});
    r.tables[i].in_publication = pub.exists && (pub.all_tables || (p && p->listed));
  }
}

// A reconciliation's line under the tables: running (its phase and progress) or the last result.
std::string reconcile_line(const std::string& table, const JobProgress& p, bool agent_runs) {
  if (p.running)
    return fmt::format("  {}: reconciling{}: {}{}\n", table, p.lsn.empty() || p.lsn == "-" ? "" : " at " + p.lsn,
                       reconcile_progress_text(p), agent_runs ? "" : " (no agent runs: stopped)");
  if (p.phase != "done")  // ended unfinished (the table keeps no ledger now): the phase says why
    return fmt::format("  {}: last reconciliation: {}\n", table, p.phase);
  return fmt::format("  {}: last reconciliation{}: {}\n", table, p.dry_run ? " (dry run)" : "", reconcile_result_text(p));
}

}  // namespace

StatusReport collect_status(const std::string& config_path, const Config& config) {
  StatusReport r;
  r.config_path = config_path;
  set_target(pg::dsn_target(config.source.dsn), r.source);
  r.slot.name = config.source.slot;
  r.publication.name = config.source.publication;
  r.cursor.state_dir = config.state_dir;
  for (const auto& t : config.source.tables) {
    r.tables.push_back({t.name.qualified(), config.topic_for(t), std::nullopt});
    if (config.ledger_for(t) != LedgerMode::kNone) r.tables.back().ledger_keys = 0;
  }

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
    for (auto& t : r.tables) {
      auto it = stored.ledger_keys.find(t.name);
      if (t.ledger_keys && it != stored.ledger_keys.end()) t.ledger_keys = it->second;
    }
    for (auto& p : read_job_progress(config.state_dir))
      for (auto& t : r.tables)
        if (p.table == t.name && (p.job == "truncate" || p.job == "reconcile"))
          (p.job == "truncate" ? t.truncate : t.reconcile) = p;
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
    out += fmt::format("  {} -> {}{}  snapshot {}{}  ledger {}\n", t.name, t.topic,
                       !t.in_publication ? "" : *t.in_publication ? "  (published)" : "  (NOT in the publication)",
                       t.snapshot, t.snapshot == "none" ? "" : fmt::format(" ({} rows)", t.snapshot_rows),
                       t.ledger_keys ? fmt::format("{} keys", *t.ledger_keys) : std::string("none"));
  for (const auto& t : tables) {
    if (!t.truncate) continue;
    const JobProgress& p = *t.truncate;
    if (p.running)
      out += fmt::format("  {}: TRUNCATE at {} expanding: {} of ~{} keys deleted ({:.0f} keys/s, ETA {} s){}\n", t.name,
                         p.lsn, p.done, p.total, p.rate, p.eta_s, cursor.agent_pid ? "" : " (no agent runs: stopped)");
    else
      out += fmt::format("  {}: last TRUNCATE at {}: {} deletes in {:.1f} s\n", t.name, p.lsn, p.done, p.elapsed_s);
  }
  for (const auto& t : tables)
    if (t.reconcile) out += reconcile_line(t.name, *t.reconcile, cursor.agent_pid.has_value());
  for (const auto& e : errors) out += "error: " + e + "\n";
  return out;
}

namespace {
nlohmann::ordered_json reconcile_json(const std::optional<JobProgress>& p) {
  if (!p) return nullptr;
  // "ended": refused or ended unfinished (the phase says why).
  return {{"state", p->running ? "running" : (p->phase == "done" ? "done" : "ended")}, {"phase", p->phase},
          {"dry_run", p->dry_run},                    {"done", p->done},
          {"total", p->total},                        {"rate", p->rate},
          {"eta_s", p->eta_s},                        {"inferred", p->inferred},
          {"sample", p->sample},                      {"elapsed_s", p->elapsed_s},
          {"lsn", p->lsn},                            {"request_id", p->request_id},
          {"updated_unix_ms", p->updated_unix_ms}};
}

nlohmann::ordered_json truncate_json(const std::optional<JobProgress>& p) {
  if (!p) return nullptr;
  return {{"state", p->running ? "running" : "done"}, {"lsn", p->lsn},          {"deletes", p->done},
          {"total", p->total},                        {"keys_per_s", p->rate},  {"eta_s", p->eta_s},
          {"elapsed_s", p->elapsed_s},                {"updated_unix_ms", p->updated_unix_ms}};
}
}  // namespace

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
                           {"snapshot_rows", t.snapshot_rows},
                           {"ledger_keys", opt_json(t.ledger_keys)},
                           {"truncate", truncate_json(t.truncate)},
                           {"reconcile", reconcile_json(t.reconcile)}});
  j["errors"] = errors;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace tombsync
