// On-demand reconciliations (`tombsync reconcile --table T | --all [--dry-run]`,
// docs/deletes.md "Reconciliation") reach a running agent as files in
// <state_dir>/requests/, like snapshot requests (snapshot_request.h): the
// RocksDB store is locked by the agent while it runs. The agent looks every
// second, and at start; it answers through the job's progress file
// (agent/ops/job_progress.h, job "reconcile", the request's id).
#pragma once

#include <string>
#include <vector>

namespace tombsync {

struct ReconcileRequest {
  std::string table;  // "schema.table"
  bool dry_run = false;
  std::string id;     // unique per request (the CLI makes it): the progress file names it
};

// Writes the request atomically (temp file + rename). Throws Error(kState).
void request_reconcile(const std::string& state_dir, const ReconcileRequest& request);
// The pending requests, removed from disk as they are read; a malformed one is one warning.
std::vector<ReconcileRequest> take_reconcile_requests(const std::string& state_dir);

}  // namespace tombsync
