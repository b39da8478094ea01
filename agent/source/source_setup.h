// Sets up the source for one streaming session, in two phases. Each gathers
// the facts (pg::inspect), judges them with the rulebook `tombsync check`
// judges them with (source_rules.h), throws the first problem as an Error with
// the fix in its message (its kind and transient flag as the rule says), logs
// the warnings, and only then does what the rules planned:
//  1. prepare_source, over a plain SQL connection: server settings, the
//     role's rights, the configured tables and their keys, the publication
//     (created, or extended with missing tables, when the config allows it);
//  2. claim_slot, over the replication connection, once Kafka is known to be
//     reachable: the state_dir's source identity, the stored cursor against the
//     server's WAL (IDENTIFY_SYSTEM) and the slot, the slot itself (plugin,
//     database, lost WAL, in use; created when missing and allowed); it saves
//     the source identity and says where streaming starts.
// Called from the pipeline thread at the start of each session (agent/stream/pipeline.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/config/config.h"
#include "base/lsn.h"
#include "connectors/postgres/replication_stream.h"
#include "connectors/postgres/source_catalog.h"
#include "connectors/postgres/source_facts.h"
#include "state/cursor_store.h"

namespace tombsync {

struct PreparedSource {
  std::vector<pg::ResolvedTable> tables;
  std::unordered_map<uint32_t, std::string> type_names;  // built-in types, for the relation cache
  std::optional<pg::SlotFacts> slot;                     // as found, before this session; unset: none
  std::string database;
  pg::SourceFacts facts;  // everything prepare_source read, for claim_slot's rules
};

PreparedSource prepare_source(const Config& config);

struct SlotClaim {
  std::string identity;       // "<system identifier>/<database>"
  std::optional<Lsn> cursor;  // the stored cursor, if any
  bool slot_existed = false;
  Lsn start;  // where streaming starts: the later of the cursor and the slot's confirmed_flush_lsn
};

SlotClaim claim_slot(const Config& config, const PreparedSource& source, CursorStore& store,
                     pg::ReplicationStream& stream);

}  // namespace tombsync
