// The server, role, slot and cursor rules; the table rules are in table_rules.cc, the
// publication rules in publication_rules.cc.
#include "agent/source/source_rules.h"

#include <algorithm>

#include <fmt/format.h>

#include "agent/source/finding_builders.h"

namespace tombsync {

using rules::holds;
using rules::problem;
using rules::unjudged;
using rules::warning;

std::vector<Problem> problems(const Findings& findings) {
  std::vector<Problem> out;
  for (const auto& f : findings)
    if (f.level == Finding::Level::kProblem) out.push_back({f.check, f.subject, f.message, f.kind, f.transient});
  return out;
}

void refuse_first_problem(const Findings& findings) {
  for (const auto& f : findings)
    if (f.level == Finding::Level::kProblem) throw Error(f.kind, f.message, f.transient);
}

pg::InspectRequest inspect_request(const Config::Source& source) {
  pg::InspectRequest r;
  for (const auto& t : source.tables) r.tables.push_back({t.name.schema, t.name.table});
  r.publication = source.publication;
  r.slot = source.slot;
  return r;
}

std::string source_identity(const std::string& system_identifier, const std::string& database) {
  return system_identifier + "/" + database;
}

Findings judge_server(const pg::ServerFacts& server) {
  Findings out;
  if (server.wal_level == "logical")
    out.push_back(holds("postgres.wal_level", "", "wal_level = logical"));
  else
    out.push_back(problem("postgres.wal_level", "",
                          "wal_level is '" + server.wal_level +
                              "': logical replication needs wal_level = logical; run ALTER SYSTEM SET wal_level = "
                              "logical and restart PostgreSQL"));

  const int max_slots = server.max_replication_slots, used_slots = server.used_replication_slots;
  if (max_slots == 0)
    out.push_back(problem("postgres.replication_slots", "",
                          "max_replication_slots is 0: run ALTER SYSTEM SET max_replication_slots = 10 and restart "
                          "PostgreSQL"));
  else
    out.push_back(holds("postgres.replication_slots", "",
                        fmt::format("max_replication_slots = {}: {} used, {} free", max_slots, used_slots,
                                    std::max(0, max_slots - used_slots))));

  const int max_senders = server.max_wal_senders, used_senders = server.used_wal_senders;
  if (max_senders == 0)
    out.push_back(problem("postgres.wal_senders", "",
                          "max_wal_senders is 0: run ALTER SYSTEM SET max_wal_senders = 10 and restart PostgreSQL"));
  else if (used_senders >= max_senders)
    // Transient: after a network drop, this agent's previous walsender holds one until the server notices.
    out.push_back(problem(
        "postgres.wal_senders", "",
        fmt::format("max_wal_senders = {} and all {} are in use, so the agent's replication connection would be "
                    "refused: raise it (ALTER SYSTEM SET max_wal_senders = {}, then restart PostgreSQL) or stop an "
                    "idle replication client",
                    max_senders, used_senders, max_senders + 4),
        ErrorKind::kSource, Transient::kYes));
  else
    out.push_back(holds("postgres.wal_senders", "",
                        fmt::format("max_wal_senders = {}: {} in use, {} free", max_senders, used_senders,
                                    max_senders - used_senders)));
  return out;
}

Findings judge_role(const pg::RoleFacts& role) {
  if (role.superuser || role.replication)
    return {holds("postgres.replication_role", "",
                  "role " + role.name + " may replicate (" + (role.superuser ? "superuser" : "REPLICATION") + ")")};
  return {problem("postgres.replication_role", "",
                  "role " + role.name + " may not replicate; grant it: ALTER ROLE " + pg::quote_ident(role.name) +
                      " WITH REPLICATION")};
}

namespace {

// Why an unreserved slot is at risk, and the fix; follows "replication slot s is " or a summary.
constexpr const char* kAtRisk =
    "at risk: wal_status unreserved, it is further behind than max_slot_wal_keep_size allows and the next "
    "checkpoint removes WAL it needs, after which it is lost; let tombsync catch up now, or raise "
    "max_slot_wal_keep_size (ALTER SYSTEM SET max_slot_wal_keep_size = '...'; SELECT pg_reload_conf())";

}  // namespace

const char* const kOnSlotLossHint =
    ", or set on_slot_loss: reconcile to recreate the slot and reconcile every table (docs/deletes.md)";

namespace {

// What run does about a slot loss with on_slot_loss: reconcile, for check's warning.
constexpr const char* kWillReconcile =
    "; run will recreate the slot and reconcile every table that keeps a key ledger (on_slot_loss: reconcile)";

// on_slot_loss: reconcile recreates the slot: source.create_slot: false forbids that.
std::string reconcile_needs_create(const std::string& what) {
  return what + "; on_slot_loss: reconcile recreates the slot, which source.create_slot: false forbids: set "
                "source.create_slot: true, or re-sync the tables with a fresh state_dir and create the slot yourself";
}

std::string lsn_or(const std::optional<Lsn>& lsn, const char* none) { return lsn ? lsn->str() : std::string(none); }

}  // namespace

std::optional<SlotLoss> find_slot_loss(const StoredState& stored, const pg::ServerFacts& server,
                                       const pg::SlotFacts& slot, const std::string& slot_name) {
  const bool identity_known = !server.system_identifier.empty();
  if (identity_known && stored.identity && *stored.identity != source_identity(server.system_identifier, server.database))
    return std::nullopt;  // another source's state_dir: judge_cursor refuses it
  const std::string wal = lsn_or(server.current_wal, "?");
  if (stored.cursor && server.current_wal && *stored.cursor > *server.current_wal)
    return SlotLoss{SlotLoss::Cause::kAhead, slot.exists,
                    "the cursor of slot " + slot_name + " (" + stored.cursor->str() + ") is ahead of the server's WAL (" +
                        wal + "): the database was restored or failed over"};
  if (stored.cursor && !slot.exists)
    return SlotLoss{SlotLoss::Cause::kMissing, false,
                    "slot " + slot_name + " is gone (dropped, or a failover to a server without it); cursor " +
                        stored.cursor->str() + ", server WAL " + wal};
  if (slot.exists && slot.wal_status == "lost")
    return SlotLoss{SlotLoss::Cause::kLost, true,
                    "slot " + slot_name + " has lost WAL it needs (wal_status lost, confirmed_flush_lsn " +
                        lsn_or(slot.confirmed_flush, "?") + "); cursor " + lsn_or(stored.cursor, "none") +
                        ", server WAL " + wal};
  return std::nullopt;
}

SlotRuling judge_slot(const pg::SlotFacts& slot, const pg::ServerFacts& server, const Config::Source& source,
                      OnSlotLoss on_loss) {
  const std::string& name = source.slot;
  SlotRuling r;
  if (!slot.exists) {
    const int max_slots = server.max_replication_slots, used_slots = server.used_replication_slots;
    // Judged here, after the cursor rules in run: a cursor whose slot is gone is the news, not
    // that a new slot would not fit.
    if (source.create_slot && max_slots > 0 && used_slots >= max_slots) {
      r.findings.push_back(problem(
          "slot", name,
          fmt::format("max_replication_slots = {} and all {} are in use, so slot {} cannot be created: raise it "
                      "(ALTER SYSTEM SET max_replication_slots = {}, then restart PostgreSQL) or drop a slot "
                      "nobody uses (SELECT pg_drop_replication_slot('<name>'))",
                      max_slots, used_slots, name, max_slots + 4)));
    } else if (source.create_slot) {
      r.create = true;
      r.findings.push_back(holds("slot", name, "replication slot " + name + " does not exist; run will create it (pgoutput)"));
    } else {
      r.findings.push_back(problem("slot", name,
                                   "replication slot " + name + " does not exist; create it with SELECT "
                                   "pg_create_logical_replication_slot('" + name +
                                       "', 'pgoutput'), or set source.create_slot: true"));
    }
    return r;
  }
  const std::string title = "replication slot " + name;
  if (slot.plugin != "pgoutput")
    r.findings.push_back(problem(
        "slot", name,
        title + " uses plugin " + (slot.plugin.empty() ? std::string("none (a physical slot)") : slot.plugin) +
            ", not pgoutput: choose another source.slot, or drop it if nothing uses it"));
  else if (slot.database != server.database)
    r.findings.push_back(problem("slot", name,
                                 title + " belongs to database " + slot.database + ", not " + server.database +
                                     ": choose another source.slot (slot names are shared by every database)"));
  if (slot.wal_status == "lost") {
    const std::string lost = title + " has lost WAL it needs (wal_status lost: it fell further behind than "
                                     "max_slot_wal_keep_size, or was invalidated), so changes since its "
                                     "confirmed_flush_lsn " + lsn_or(slot.confirmed_flush, "?") + " are gone";
    if (on_loss == OnSlotLoss::kReconcile && source.create_slot)
      r.findings.push_back(warning("slot", name, lost + kWillReconcile));
    else if (on_loss == OnSlotLoss::kReconcile)
      r.findings.push_back(problem("slot", name, reconcile_needs_create(lost)));
    else
      r.findings.push_back(problem(
          "slot", name,
          lost + ": drop it (tombsync drop-slot, which also forgets its cursor), re-sync the tables and start again" +
              kOnSlotLossHint));
  }
  if (slot.active)
    // Transient: after a network drop, this agent's own previous walsender can hold the slot
    // until the server notices (wal_sender_timeout). At first start it still ends the run.
    r.findings.push_back(problem("slot", name,
                                 title + " is in use by another connection (pid " +
                                     std::to_string(slot.active_pid.value_or(0)) +
                                     "); is another tombsync running on it?",
                                 ErrorKind::kSource, Transient::kYes));
  const bool unreserved = slot.wal_status == "unreserved";
  if (!problems(r.findings).empty()) {
    if (unreserved) r.findings.push_back(warning("slot", name, title + " is " + kAtRisk));
    return r;
  }
  if (slot.wal_status == "lost") return r;  // on_slot_loss: reconcile: its warning says what run does
  std::string summary = title + " exists: plugin pgoutput, database " + server.database + ", not active";
  if (slot.confirmed_flush) summary += ", confirmed_flush_lsn " + slot.confirmed_flush->str();
  if (!slot.wal_status.empty()) summary += ", wal_status " + slot.wal_status;
  if (slot.failover) summary += *slot.failover ? ", failover on" : ", failover off";
  if (unreserved)
    r.findings.push_back(warning("slot", name, summary + "; " + kAtRisk));
  else
    r.findings.push_back(holds("slot", name, summary));
  return r;
}

Finding judge_cursor(const StoredState& stored, const pg::ServerFacts& server, const pg::SlotFacts& slot,
                     const std::string& slot_name, OnSlotLoss on_loss, bool create_slot) {
  const std::string check = "state.cursor";
  if (!stored.cursor && !stored.identity)
    return holds(check, slot_name,
                 "state_dir holds no cursor for slot " + slot_name + ": the agent starts at the slot's position");
  const std::string title = "cursor of slot " + slot_name;
  const std::string unknown_identity =
      "the server's system identifier could not be read (no replication connection, no pg_control_system())";
  const bool identity_known = !server.system_identifier.empty();
  const std::string identity = source_identity(server.system_identifier, server.database);
  if (identity_known && stored.identity && *stored.identity != identity)
    return problem(check, slot_name,
                   "state_dir " + stored.state_dir + " holds the cursor of slot " + slot_name + " for source " +
                       *stored.identity + ", not " + identity + "; use a fresh state_dir for a different database",
                   ErrorKind::kState);
  if (!stored.cursor) {
    if (!identity_known) return unjudged(check, slot_name, title, unknown_identity);
    return holds(check, slot_name,
                 "state_dir belongs to this database (" + identity + "), no cursor for slot " + slot_name + " yet");
  }
  const Lsn cursor = *stored.cursor;
  const auto loss = find_slot_loss(stored, server, slot, slot_name);
  if (loss && loss->cause != SlotLoss::Cause::kLost && on_loss == OnSlotLoss::kReconcile)
    return create_slot ? warning(check, slot_name, loss->what + kWillReconcile)
                       : problem(check, slot_name, reconcile_needs_create(loss->what), ErrorKind::kState);
  if (server.current_wal && cursor > *server.current_wal)
    return problem(check, slot_name,
                   "the stored cursor of slot " + slot_name + " (" + cursor.str() + ") is ahead of the server's WAL (" +
                       server.current_wal->str() +
                       "): the database was restored or failed over; streaming from here could skip changes. "
                       "Re-sync the tables and start with a fresh state_dir" + kOnSlotLossHint,
                   ErrorKind::kState);
  if (!slot.exists)
    return problem(check, slot_name,
                   "replication slot " + slot_name + " is gone but state_dir has its cursor " + cursor.str() +
                       ": changes since then are lost to this slot (dropped, or a failover to a server without it). "
                       "Re-sync the tables and start with a fresh state_dir" + kOnSlotLossHint);
  if (!identity_known) return unjudged(check, slot_name, title, unknown_identity);
  const std::string recorded =
      title + " is " + cursor.str() + ", recorded for this database (" + identity + ")";
  if (slot.confirmed_flush && *slot.confirmed_flush > cursor)
    return warning(check, slot_name,
                   recorded + "; the slot is ahead (confirmed_flush_lsn " + slot.confirmed_flush->str() +
                       "): the state was reset or restored from an older copy, so streaming resumes at the slot's "
                       "position");
  return holds(check, slot_name, recorded);
}

}  // namespace tombsync
