// Process plumbing shared by the example consumers: the stop signals and the
// connection to a Postgres named by a flag.
#pragma once

#include <memory>
#include <string>

#include "connectors/postgres/pg_connection.h"

namespace tombsync::loader {

// SIGTERM and SIGINT set a flag the main loop reads between batches (stop_requested()).
void install_stop_signals();
bool stop_requested();

// A SQL connection to `dsn`, notices silenced. Throws Error(kSource) naming `flag` (PgConnection's
// hints speak of the agent's source.dsn; here the flag is the thing to fix).
std::unique_ptr<pg::PgConnection> connect_flag(const std::string& dsn, const std::string& flag);

}  // namespace tombsync::loader
