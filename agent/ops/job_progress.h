// Progress of the agent's long jobs (a TRUNCATE expansion, a reconciliation), for `tombsync status`, which runs in another process: one small file
// per job and table in <state_dir>/progress/, replaced whole (write, then
// rename) at the job's start, at each progress log line and at its end. A
// reader sees the last state written, or none. Not synced: it is a view for
// operators, never trusted for correctness (the state store is).
// The writer: the pipeline thread. The reader: any process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tombsync {

struct JobProgress {
  std::string job;    // "truncate", "reconcile", or "reconcile-refused" (a request the agent did not take)
  std::string table;  // "schema.table"
  std::string lsn;    // the position it belongs to (the TRUNCATE's; a reconciliation's sweep, once it ran)
  bool running = true;
  uint64_t done = 0;
  uint64_t total = 0;  // an estimate while running
  double rate = 0;     // per second, since the start
  int64_t eta_s = 0;
  double elapsed_s = 0;
  int64_t updated_unix_ms = 0;
  // A reconciliation's (job "reconcile"; `done`/`total`: rows re-read of about `total`):
  std::string phase;                // "reading" (the re-read), "sweeping", "done"
  bool dry_run = false;             // publishes nothing: `inferred` is what a real run would delete
  uint64_t inferred = 0;            // ledger keys the source no longer has (inferred deletes)
  std::vector<std::string> sample;  // up to kSampleKeys of those keys, as text (hex when not UTF-8)
  std::string request_id;           // the `tombsync reconcile` request it answers; empty: none (a lost slot)
  static constexpr size_t kSampleKeys = 10;
};

// Writes `p` (replacing the job's earlier state). Never throws: a failure is one warning, since
// the job itself must go on.
void write_job_progress(const std::string& state_dir, const JobProgress& p);
// Every job's last state in `state_dir` (none when the directory is missing); a file that does
// not parse is skipped.
std::vector<JobProgress> read_job_progress(const std::string& state_dir);

}  // namespace tombsync
