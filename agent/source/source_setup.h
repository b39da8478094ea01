// Sets up the source for one streaming session, in two phases, and refuses
// (Error with the fix in its message) what would make streaming unsafe:
//  1. prepare_source, over a plain SQL connection: server settings, the
//     role's rights, the configured tables and their keys, the publication
//     (created, or extended with missing tables, when the config allows it);
//  2. claim_slot, over the replication connection, once Kafka is known to be
//     reachable: the state_dir's source identity, the stored cursor against the
//     server's WAL and the slot, the slot itself (created when missing and
//     allowed); it saves the source identity and says where streaming starts.
// Called from the pipeline thread at the start of each session.
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
#include "state/cursor_store.h"

namespace tombsync {

struct PreparedSource {
  std::vector<pg::ResolvedTable> tables;
  std::unordered_map<uint32_t, std::string> type_names;  // built-in types, for the relation cache
  std::optional<pg::SlotInfo> slot;                      // as found, before this session
  std::string database;
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
