// The Postgres items of `tombsync check`: the login, then the source's facts (pg::inspect)
// judged by the rules `tombsync run` applies (agent/source/source_rules.h), with the
// replication connection, which only check opens on its own, in between.
#include <memory>

#include <fmt/format.h>

#include "agent/cli/preflight_items.h"
#include "base/error.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/replication_stream.h"

namespace tombsync::preflight {
namespace {

void skip_postgres(const Config& c, CheckList& list, const std::string& reason) {
  list.skip("postgres.wal_level", "", "wal_level", reason);
  list.skip("postgres.replication_slots", "", "max_replication_slots", reason);
  list.skip("postgres.wal_senders", "", "max_wal_senders", reason);
  list.skip("postgres.replication_role", "", "REPLICATION right", reason);
  list.skip("postgres.replication_connection", "", "replication connection", reason);
  for (const auto& t : c.source.tables) {
    auto name = t.name.qualified();
    list.skip("table.exists", name, "table " + name, reason);
    list.skip("table.select", name, "table " + name + ": SELECT right", reason);
    list.skip("table.key", name, "table " + name + ": key and replica identity", reason);
  }
  list.skip("publication", c.source.publication, "publication " + c.source.publication, reason);
  list.skip("slot", c.source.slot, "replication slot " + c.source.slot, reason);
}

// A replication connection (replication=database) that answers IDENTIFY_SYSTEM; its system
// identifier is the one the cursor item compares (pg_control_system() may be revoked).
void replication_connection(const Config& c, pg::SourceFacts& facts, CheckList& list) {
  if (!facts.role.superuser && !facts.role.replication) {
    list.skip("postgres.replication_connection", "", "replication connection", "the role may not replicate");
    return;
  }
  try {
    pg::ReplicationStream stream(c.source.dsn);
    auto id = stream.identify();
    facts.server.system_identifier = id.system_id;
    list.pass("postgres.replication_connection", "",
              fmt::format("replication connection works: system {}, timeline {}, WAL flushed to {}", id.system_id,
                          id.timeline, id.xlog_pos.str()));
  } catch (const Error& e) {
    list.fail("postgres.replication_connection", "", e.what());
  }
}

}  // namespace

void check_postgres(const Config& c, CheckList& list, SourceSeen& seen) {
  std::unique_ptr<pg::PgConnection> conn;
  try {
    conn = std::make_unique<pg::PgConnection>(c.source.dsn, pg::PgConnection::Mode::kSql);
  } catch (const std::exception& e) {
    list.fail("postgres.login", "", e.what());
    skip_postgres(c, list, "the Postgres login failed");
    return;
  }
  list.pass("postgres.login", "",
            fmt::format("Postgres reachable: logged in ({}), PostgreSQL {}", conn->describe(),
                        conn->server_version_text()));
  pg::SourceFacts facts;
  try {
    facts = pg::inspect(*conn, inspect_request(c.source));
  } catch (const std::exception& e) {
    // A query failed (connection lost, a catalog query refused): report it, do not guess.
    list.fail("postgres.query", "", std::string("checking the source stopped: ") + e.what());
    return;
  }
  list.add(judge_server(facts.server));
  list.add(judge_role(facts.role));
  replication_connection(c, facts, list);
  list.add(judge_tables(facts, c.source).findings);
  list.add(judge_publication(facts, c.source).findings);
  list.add(judge_slot(facts.slot, facts.server, c.source, c.on_slot_loss).findings);
  seen.checked = true;
  seen.facts = std::move(facts);
}

}  // namespace tombsync::preflight
