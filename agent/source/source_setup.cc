#include "agent/source/source_setup.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/error.h"
#include "base/log.h"
#include "connectors/postgres/pg_connection.h"

namespace tombsync {

PreparedSource prepare_source(const Config& config) {
  pg::PgConnection conn(config.source.dsn, pg::PgConnection::Mode::kSql);
  pg::SourceCatalog catalog(conn);
  catalog.check_server_settings();
  catalog.check_replication_role();
  std::vector<pg::TableRequest> requests;
  for (const auto& t : config.source.tables)
    requests.push_back({t.name.schema, t.name.table, t.key_columns, t.allow_keyless});
  PreparedSource p;
  p.tables = catalog.resolve_tables(requests);
  for (const auto& t : p.tables)
    log::info("table {}: key ({}) from {}, replica identity {}", t.qualified(),
              t.key_columns.empty() ? std::string("none") : fmt::format("{}", fmt::join(t.key_columns, ", ")),
              t.key_source, t.replica_identity);
  for (const auto& action : catalog.ensure_publication(config.source.publication, p.tables,
                                                       config.source.create_publication))
    log::info("{}", action);
  p.slot = catalog.slot(config.source.slot);
  p.type_names = catalog.builtin_type_names();
  p.database = catalog.current_database();
  return p;
}

SlotClaim claim_slot(const Config& config, const PreparedSource& source, CursorStore& store,
                     pg::ReplicationStream& stream) {
  const auto& slot = config.source.slot;
  auto identity = stream.identify();
  SlotClaim claim;
  claim.identity = identity.system_id + "/" + source.database;
  if (auto known = store.load_source_identity(slot); known && *known != claim.identity)
    throw Error(ErrorKind::kState, "state_dir " + config.state_dir + " holds the cursor of slot " + slot +
                                       " for source " + *known + ", not " + claim.identity +
                                       "; use a fresh state_dir for a different database");

  claim.cursor = store.load_confirmed(slot);
  const auto& cursor = claim.cursor;
  if (cursor && *cursor > identity.xlog_pos)
    throw Error(ErrorKind::kState, "the stored cursor of slot " + slot + " (" + cursor->str() +
                                       ") is ahead of the server's WAL (" + identity.xlog_pos.str() +
                                       "): the database was restored or failed over; streaming from here "
                                       "could skip changes. Re-sync the tables and start with a fresh state_dir");
  if (!source.slot && cursor)
    throw Error(ErrorKind::kSource, "replication slot " + slot + " is gone but state_dir has its cursor " +
                                        cursor->str() + ": changes since then are lost to this slot (dropped, "
                                        "or a failover to a server without it). Re-sync the tables and start "
                                        "with a fresh state_dir");
  if (!source.slot) {
    if (!config.source.create_slot)
      throw Error(ErrorKind::kSource, "replication slot " + slot + " does not exist; create it with "
                                          "SELECT pg_create_logical_replication_slot('" + slot +
                                          "', 'pgoutput'), or set source.create_slot: true");
    Lsn at = stream.create_slot(slot);
    log::info("created replication slot {} (pgoutput) at {}", slot, at.str());
  } else {
    if (source.slot->plugin != "pgoutput")
      throw Error(ErrorKind::kSource, "replication slot " + slot + " uses plugin " + source.slot->plugin +
                                          ", not pgoutput; drop it or choose another source.slot");
    if (source.slot->database != source.database)
      throw Error(ErrorKind::kSource, "replication slot " + slot + " belongs to database " +
                                          source.slot->database + ", not " + source.database);
    if (source.slot->active)
      // Transient: after a network drop, this agent's own previous walsender can hold the slot
      // until the server notices (wal_sender_timeout). At first start it still ends the run.
      throw Error(ErrorKind::kSource,
                  "replication slot " + slot + " is in use by another connection (pid " +
                      std::to_string(source.slot->active_pid.value_or(0)) + "); is another tombsync running on it?",
                  Transient::kYes);
  }
  store.save_source_identity(slot, claim.identity);
  claim.slot_existed = source.slot.has_value();

  Lsn start = cursor.value_or(Lsn());
  Lsn slot_pos = source.slot && source.slot->confirmed_flush ? *source.slot->confirmed_flush : Lsn();
  if (!start.is_zero() && slot_pos > start)
    log::warn("slot {} confirmed {} but the stored cursor is {}: the state was reset or restored from an "
              "older copy; streaming resumes at the slot's position",
              slot, slot_pos.str(), start.str());
  claim.start = std::max(start, slot_pos);
  return claim;
}

}  // namespace tombsync
