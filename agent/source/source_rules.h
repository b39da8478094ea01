// The start-up rulebook of the source: pure functions that judge the facts
// pg::inspect gathered (connectors/postgres/source_facts.h) and the cursor
// stored in state_dir. `tombsync run` (source_setup.cc) refuses the first
// problem as an Error and then does what the rules planned (create or extend
// the publication, create the slot); `tombsync check` (agent/cli) prints every
// finding as PASS, FAIL or SKIP; `tombsync status` reports the cursor's
// problems. One wording for all: every message is one line, and a problem's
// message names what is wrong and the fix.
//
// Pure: no I/O, no clock, no logging; the same facts always give the same
// findings, in the order check prints them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "base/error.h"
#include "base/lsn.h"
#include "connectors/postgres/source_catalog.h"
#include "connectors/postgres/source_facts.h"

namespace tombsync {

// What a rule found about one check item (one line of `tombsync check`).
struct Finding {
  enum class Level {
    kHolds,     // it is right, or run will make it right (the message says what run will do)
    kWarning,   // it works, but is at risk; the message says why and the fix. check: PASS
    kProblem,   // run refuses to start; the message says what is wrong and the fix. check: FAIL
    kUnjudged,  // a fact it needs is missing because of another item; the message says why. check: SKIP
  };
  Level level = Level::kHolds;
  std::string check;    // the item's stable name: "postgres.wal_level", "table.key", "slot", ...
  std::string subject;  // the table, publication or slot it is about; "" for server-wide items
  std::string message;
  ErrorKind kind = ErrorKind::kSource;   // kProblem: the kind of the Error run throws
  Transient transient = Transient::kNo;  // kProblem: whether waiting may fix it (the supervisor retries)
};
using Findings = std::vector<Finding>;

// A finding of level kProblem, as run refuses it.
struct Problem {
  std::string check, subject, message;
  ErrorKind kind = ErrorKind::kSource;
  Transient transient = Transient::kNo;
  Error error() const { return Error(kind, message, transient); }
};

// The problems among `findings`, in order.
std::vector<Problem> problems(const Findings& findings);
// Throws the first problem's Error; returns when there is none.
void refuse_first_problem(const Findings& findings);

// The facts the rules below need for this config.
pg::InspectRequest inspect_request(const Config::Source& source);
// "<system identifier>/<database>": what state_dir records its cursor for.
std::string source_identity(const std::string& system_identifier, const std::string& database);

// postgres.wal_level, postgres.replication_slots (not 0; a free one when the slot must be created
// is judged by judge_slot, after the cursor rules),
// postgres.wal_senders (a free one for the agent's connection: transient when all are in use,
// since the agent's own previous walsender may hold one for a while after a network drop).
Findings judge_server(const pg::ServerFacts& server);
// postgres.replication_role: REPLICATION or superuser.
Findings judge_role(const pg::RoleFacts& role);

// table.exists, table.select and table.key for every configured table, and each table's key as
// the change builder uses it (`resolved`, config order; only tables without a problem).
struct TablesRuling {
  Findings findings;
  std::vector<pg::ResolvedTable> resolved;
};
TablesRuling judge_tables(const pg::SourceFacts& facts, const Config::Source& source);

// What run does to the publication once no rule found a problem.
struct PublicationPlan {
  enum class Action { kNone, kCreate, kAddTables };
  Action action = Action::kNone;
  std::vector<pg::TableRef> tables;  // kCreate: every configured table; kAddTables: the missing ones
};
// publication (exists, or run may create it), publication.tables (covers the tables, or run
// may add them), publication.operations, publication.filters, publication.partition_root. Only
// the configured tables that exist are judged; only `publication` when it does not exist yet.
struct PublicationRuling {
  Findings findings;
  PublicationPlan plan;
};
PublicationRuling judge_publication(const pg::SourceFacts& facts, const Config::Source& source);

// slot: exists with pgoutput in this database, has not lost WAL (wal_status lost: a problem, or
// with on_slot_loss: reconcile and source.create_slot a warning, since run recreates it;
// unreserved: a warning), is not in use (a transient problem); or run may create it.
struct SlotRuling {
  Findings findings;
  bool create = false;  // run creates the slot (a missing one; a lost one is find_slot_loss's)
};
SlotRuling judge_slot(const pg::SlotFacts& slot, const pg::ServerFacts& server, const Config::Source& source,
                      OnSlotLoss on_loss = OnSlotLoss::kStop);

// What state_dir holds for the slot: run reads it from its CursorStore, check and status with
// state/cursor_reader.h.
struct StoredState {
  std::string state_dir;
  std::optional<Lsn> cursor;            // the confirmed position
  std::optional<std::string> identity;  // source_identity() it was recorded for
};
// state.cursor: the stored cursor belongs to this source (system identifier and database), is
// not ahead of the server's WAL, and its slot still exists; a slot ahead of it is a warning
// (streaming resumes at the slot). Unjudged when the server's system identifier is unknown and
// nothing else is wrong. run passes IDENTIFY_SYSTEM's identifier and WAL position in `server`.
// A slot loss (find_slot_loss) is a problem with on_slot_loss: stop (its message names both
// fixes), a warning with reconcile (run recreates the slot), and a problem again with reconcile
// but create_slot false (run may not recreate it).
Finding judge_cursor(const StoredState& stored, const pg::ServerFacts& server, const pg::SlotFacts& slot,
                     const std::string& slot_name, OnSlotLoss on_loss = OnSlotLoss::kStop, bool create_slot = true);

// A start the server cannot serve from what state_dir holds (docs/configuration.md "Lost slot"):
// the cursor is ahead of the server's WAL (a restore or failover), the cursor's slot is missing,
// or the slot has lost WAL (wal_status lost; with a cursor or without one, which a start that
// crashed between recording a reconciliation and recreating the slot leaves). Not a loss: a
// state_dir of another source (judge_cursor refuses it).
struct SlotLoss {
  enum class Cause { kAhead, kMissing, kLost };
  Cause cause = Cause::kMissing;
  bool slot_exists = false;  // run drops it before creating it again
  std::string what;          // the cause and the positions, one clause without the fix
};
std::optional<SlotLoss> find_slot_loss(const StoredState& stored, const pg::ServerFacts& server,
                                       const pg::SlotFacts& slot, const std::string& slot_name);
// The fix with on_slot_loss: stop, appended to the refusal: "or set on_slot_loss: reconcile ...".
extern const char* const kOnSlotLossHint;

}  // namespace tombsync
