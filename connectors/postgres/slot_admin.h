// Dropping a replication slot: for `tombsync drop-slot` (agent/cli/drop_slot.cc), which
// asks the operator first and reads the slot with read_slot (source_facts.h).
#pragma once

#include <string>

#include "connectors/postgres/pg_connection.h"

namespace tombsync::pg {

// pg_drop_replication_slot; Error(kSource) with the server's reason (in use, no such slot).
void drop_replication_slot(PgConnection& conn, const std::string& slot);

}  // namespace tombsync::pg
