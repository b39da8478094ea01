#include "agent/source/source_setup.h"

#include <algorithm>

#include <fmt/format.h>

#include "agent/source/source_rules.h"
#include "base/error.h"
#include "base/log.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/slot_admin.h"

namespace tombsync {
namespace {

// After refuse_first_problem: what holds goes to the debug log (the keys at info, as they shape
// the events), warnings to the warn log.
void log_findings(const Findings& findings) {
  for (const auto& f : findings) {
    if (f.level == Finding::Level::kWarning) log::warn("{}", f.message);
    else if (f.check == "table.key") log::info("{}", f.message);
    else log::debug("{}", f.message);
  }
}

std::vector<std::string> names(const std::vector<pg::TableRef>& tables) {
  std::vector<std::string> out;
  for (const auto& t : tables) out.push_back(t.qualified());
  return out;
}

void apply(const PublicationPlan& plan, const std::string& publication, pg::SourceCatalog& catalog) {
  switch (plan.action) {
    case PublicationPlan::Action::kNone: return;
    case PublicationPlan::Action::kCreate:
      catalog.create_publication(publication, plan.tables);
      log::info("created publication {} for {} tables", publication, plan.tables.size());
      return;
    case PublicationPlan::Action::kAddTables:
      catalog.add_tables(publication, plan.tables);
      log::info("added {} to publication {}", fmt::join(names(plan.tables), ", "), publication);
      return;
  }
}

// The tables a lost slot's reconciliation re-reads: every configured one that keeps a key
// ledger (ledger_for is kNone for a keyless table), in config order.
std::vector<std::string> ledger_tables(const Config& config) {
  std::vector<std::string> out;
  for (const auto& t : config.source.tables)
    if (config.ledger_for(t) != LedgerMode::kNone) out.push_back(t.name.qualified());
  return out;
}

// on_slot_loss: reconcile (docs/configuration.md "Lost slot"). Crash safety is in the order:
// the reconciliation is recorded and the cursor forgotten (one synced write) before the slot is
// dropped, so a crash in between leaves a lost slot without a cursor, which the next start
// finds (find_slot_loss) and handles the same way; a crash after the drop leaves no slot and no
// cursor, a first start, with the reconciliation still recorded. Returns the new slot's position.
Lsn recreate_slot(const Config& config, const SlotLoss& loss, CursorStore& store, pg::ReplicationStream& stream) {
  const auto& slot = config.source.slot;
  const std::vector<std::string> tables = ledger_tables(config);
  log::warn("{}; on_slot_loss: reconcile: recreating the slot and reconciling {} tables ({})", loss.what,
            tables.size(), tables.empty() ? std::string("none keeps a key ledger") : fmt::format("{}", fmt::join(tables, ", ")));
  store.begin_reconcile(slot, tables, /*dry_run=*/false, /*forget_cursor=*/true);
  if (loss.slot_exists) {
    pg::PgConnection conn(config.source.dsn, pg::PgConnection::Mode::kSql);
    pg::drop_replication_slot(conn, slot);
    log::info("dropped replication slot {}", slot);
  }
  const Lsn at = stream.create_slot(slot);
  log::info("created replication slot {} (pgoutput) at {}", slot, at.str());
  return at;
}

// The findings to log once a slot loss is handled: its own (the cursor's, the lost slot's
// warning) are said by recreate_slot's one line.
Findings without_loss_findings(Findings findings) {
  std::erase_if(findings, [](const Finding& f) {
    return f.check == "state.cursor" || (f.check == "slot" && f.level == Finding::Level::kWarning);
  });
  return findings;
}

}  // namespace

PreparedSource prepare_source(const Config& config) {
  pg::PgConnection conn(config.source.dsn, pg::PgConnection::Mode::kSql);
  PreparedSource p;
  p.facts = pg::inspect(conn, inspect_request(config.source));
  Findings findings = judge_server(p.facts.server);
  for (auto& f : judge_role(p.facts.role)) findings.push_back(std::move(f));
  TablesRuling tables = judge_tables(p.facts, config.source);
  findings.insert(findings.end(), tables.findings.begin(), tables.findings.end());
  PublicationRuling publication = judge_publication(p.facts, config.source);
  findings.insert(findings.end(), publication.findings.begin(), publication.findings.end());
  refuse_first_problem(findings);
  log_findings(findings);

  pg::SourceCatalog catalog(conn);
  apply(publication.plan, config.source.publication, catalog);
  p.tables = std::move(tables.resolved);
  if (p.facts.slot.exists) p.slot = p.facts.slot;
  p.type_names = catalog.builtin_type_names();
  p.database = p.facts.server.database;
  return p;
}

SlotClaim claim_slot(const Config& config, const PreparedSource& source, CursorStore& store,
                     pg::ReplicationStream& stream) {
  const auto& slot = config.source.slot;
  const auto identity = stream.identify();
  // The replication connection's view of the server is the one streaming starts from.
  pg::ServerFacts server = source.facts.server;
  server.system_identifier = identity.system_id;
  server.current_wal = identity.xlog_pos;
  const StoredState stored{config.state_dir, store.load_confirmed(slot), store.load_source_identity(slot)};

  const OnSlotLoss on_loss = config.on_slot_loss;
  Findings findings{judge_cursor(stored, server, source.facts.slot, slot, on_loss, config.source.create_slot)};
  SlotRuling ruling = judge_slot(source.facts.slot, server, config.source, on_loss);
  findings.insert(findings.end(), ruling.findings.begin(), ruling.findings.end());
  refuse_first_problem(findings);
  // No problem refused with reconcile: a loss is recreated (the rules made it a warning).
  const auto loss = on_loss == OnSlotLoss::kReconcile ? find_slot_loss(stored, server, source.facts.slot, slot)
                                                      : std::nullopt;
  log_findings(loss ? without_loss_findings(findings) : findings);

  SlotClaim claim;
  claim.identity = source_identity(identity.system_id, source.database);
  if (loss) {
    // A first start on the new slot: no cursor, and no redelivery filter (session_start.cc), since
    // nothing in Kafka comes from this slot; a tail of the old history could even carry positions
    // past the new slot's (a cursor that was ahead), which the filter would wrongly skip.
    const Lsn at = recreate_slot(config, *loss, store, stream);
    store.save_source_identity(slot, claim.identity);
    claim.slot_existed = false;
    claim.start = at;
    return claim;
  }
  if (ruling.create) {
    Lsn at = stream.create_slot(slot);
    log::info("created replication slot {} (pgoutput) at {}", slot, at.str());
  }
  claim.cursor = stored.cursor;
  store.save_source_identity(slot, claim.identity);
  claim.slot_existed = source.facts.slot.exists;
  const Lsn start = claim.cursor.value_or(Lsn());
  const Lsn slot_pos = source.facts.slot.confirmed_flush.value_or(Lsn());
  // A slot ahead of the cursor was logged as judge_cursor's warning: streaming resumes there.
  claim.start = std::max(start, slot_pos);
  return claim;
}

}  // namespace tombsync
