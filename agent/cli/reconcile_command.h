// `tombsync reconcile --config F (--table SCHEMA.TABLE | --all) [--dry-run] [--no-wait]
// [--timeout SECONDS]` (docs/operations.md "Reconciliation"): asks the agent to re-read tables
// and sweep their key ledgers (docs/deletes.md), through request files in
// <state_dir>/requests/ (agent/snapshot/reconcile_request.h), and follows each request's job
// progress file (agent/ops/job_progress.h, job "reconcile", the request's id) until it is done.
// Without a running agent a request waits for the next `tombsync run`.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/ops/job_progress.h"

namespace tombsync {

struct ReconcileOptions {
  std::vector<std::string> tables;  // "schema.table" as given to --table; empty with --all
  bool all = false;
  bool dry_run = false;
  bool wait = true;       // false: --no-wait, return once the requests are written
  int timeout_s = 3600;   // --timeout: how long to wait for every request to finish
  int poll_ms = 200;      // how often the progress files are read
  int progress_every_s = 5;
};

// The tables a reconciliation may run on: every one of `options` must be configured and keep a
// key ledger (Config::ledger_for), else Error(kConfig) naming the table and the fix; --all is
// every configured table that keeps one (Error(kConfig) when none does).
std::vector<std::string> reconcile_tables(const Config& config, const ReconcileOptions& options);

// Writes the requests, then (unless --no-wait) waits, printing a progress line to `out` at most
// every progress_every_s and one result line per table at the end. Returns the exit code: 0 when
// every request finished (or --no-wait), 1 on a timeout (one line per unfinished table says
// whether it is still queued or running and how to follow it). Throws Error as reconcile_tables
// and request_reconcile do.
int reconcile_command(const Config& config, const std::string& config_path, const ReconcileOptions& options,
                      std::FILE* out);

// "12000 of ~50000 rows read, 3000 rows/s, ETA 13 s" (the sweep's phase and the dry run named):
// a running job's progress, for the command's progress line and `tombsync status`.
std::string reconcile_progress_text(const JobProgress& p);
// A finished job's result: "50 inferred deletes, 1000 rows read in 1.2 s", or for a dry run
// "50 keys to delete, 1000 rows read; sample: {"id":3} {"id":9}".
std::string reconcile_result_text(const JobProgress& p);

}  // namespace tombsync
