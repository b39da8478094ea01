// On-demand snapshots (`tombsync snapshot --table`) reach a running agent as
// files in <state_dir>/requests/, because the RocksDB store is locked by the
// agent while it runs. The agent looks every second, and at start.
#pragma once

#include <string>
#include <vector>

namespace tombsync {

// Writes the request atomically (temp file + rename). Throws Error(kState).
void request_snapshot(const std::string& state_dir, const std::string& table);
// The pending requests ("schema.table"), removed from disk as they are read.
std::vector<std::string> take_snapshot_requests(const std::string& state_dir);

}  // namespace tombsync
