// `tombsync drop-slot`: the only way tombsync drops its replication slot.
// Dropping a slot lets Postgres discard the WAL it holds, and with it every
// change not yet delivered, so it asks first: the operator types the slot
// name at a terminal, or passes --yes in a script. It refuses while the slot is
// in use (a running agent) and, having dropped it, forgets the slot's cursor
// and snapshot progress in state_dir, so the next run starts over cleanly: a
// new slot, and (snapshot: initial) every table read again.
#pragma once

#include <cstdio>

#include "agent/config/config.h"

namespace tombsync {

// Returns the process exit code: 0 dropped (or nothing to drop), 1 refused or
// failed, 2 confirmation needed but none possible (no terminal, no --yes).
// Prompts on `in` when it is a terminal, reports on `out`.
int drop_slot(const Config& config, bool assume_yes, std::FILE* in, std::FILE* out);

}  // namespace tombsync
