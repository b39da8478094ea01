#include "agent/cli/reconcile_command.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "agent/snapshot/reconcile_request.h"
#include "base/error.h"

namespace tombsync {
namespace {

using Clock = std::chrono::steady_clock;

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Why a configured table cannot be reconciled, or "" when it can.
std::string cannot_reconcile(const Config& config, const TableConfig& t) {
  const std::string name = t.name.qualified();
  if (t.allow_keyless)
    return name + " is keyless (allow_keyless: true): it has no key to keep in a key ledger, so there is nothing to "
                  "reconcile; give it a primary key or key_columns";
  if (config.ledger_for(t) == LedgerMode::kNone)
    return name + " keeps no key ledger (ledger: none): a reconciliation sweeps the ledger; set ledger: keys for it, "
                  "then `tombsync snapshot --table " + name + "` fills the ledger";
  return "";
}

// One request per table: the id is unique across processes and within this one.
std::map<std::string, std::string> write_requests(const Config& config, const std::vector<std::string>& tables,
                                                  bool dry_run) {
  std::map<std::string, std::string> ids;  // table -> request id
  const std::string stem = fmt::format("{}-{}", unix_ms(), static_cast<long>(getpid()));
  for (size_t i = 0; i < tables.size(); ++i) {
    ReconcileRequest r{tables[i], dry_run, fmt::format("{}-{}", stem, i)};
    request_reconcile(config.state_dir, r);
    ids[tables[i]] = r.id;
  }
  return ids;
}

bool request_queued(const Config& config, const std::string& id) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(config.state_dir) / "requests" / ("reconcile-" + id), ec);
}

// The progress of each request still waited for, from the job files (the last state written).
std::map<std::string, JobProgress> progress_of(const Config& config, const std::map<std::string, std::string>& ids) {
  std::map<std::string, JobProgress> out;
  for (auto& p : read_job_progress(config.state_dir)) {
    // "reconcile-refused": the agent's answer to a request it did not take (its own file, so that
    // it does not hide a running reconciliation's progress).
    if (p.job != "reconcile" && p.job != "reconcile-refused") continue;
    auto it = ids.find(p.table);
    if (it != ids.end() && p.request_id == it->second) out[p.table] = std::move(p);
  }
  return out;
}

std::string waiting_text(const Config& config, const std::string& id) {
  if (request_queued(config, id))
    return "queued: no agent has taken the request yet (without a running `tombsync run`, the next start takes it)";
  return "taken by the agent, not started yet (if it refused the request, the agent's log says why)";
}

void print_progress(std::FILE* out, const Config& config, const std::map<std::string, std::string>& ids,
                    const std::map<std::string, JobProgress>& seen) {
  for (const auto& [table, id] : ids) {
    auto it = seen.find(table);
    if (it != seen.end() && !it->second.running) continue;
    std::fprintf(out, "reconcile %s: %s\n", table.c_str(),
                 (it == seen.end() ? waiting_text(config, id) : reconcile_progress_text(it->second)).c_str());
  }
  std::fflush(out);
}

}  // namespace

std::vector<std::string> reconcile_tables(const Config& config, const ReconcileOptions& options) {
  std::vector<std::string> out;
  if (options.all) {
    for (const auto& t : config.source.tables)
      if (cannot_reconcile(config, t).empty()) out.push_back(t.name.qualified());
    if (out.empty())
      throw Error(ErrorKind::kConfig, "--all: no table in source.tables keeps a key ledger (ledger: keys), so there is "
                                      "nothing to reconcile");
    return out;
  }
  for (const auto& name : options.tables) {
    const TableConfig* found = nullptr;
    for (const auto& t : config.source.tables)
      if (t.name.qualified() == name) found = &t;
    if (found == nullptr)
      throw Error(ErrorKind::kConfig, "--table " + name + " is not in source.tables; add it to the config (then the "
                                      "agent snapshots it), or name a configured table (schema.table)");
    if (auto why = cannot_reconcile(config, *found); !why.empty()) throw Error(ErrorKind::kConfig, why);
    out.push_back(name);
  }
  return out;
}

std::string reconcile_progress_text(const JobProgress& p) {
  std::string text = p.phase == "sweeping" ? fmt::format("sweeping the ledger after {} rows read", p.done)
                     : p.phase == "swept"  ? fmt::format("swept after {} rows read; waiting for Kafka and the final save", p.done)
                                           : fmt::format("{} of ~{} rows read, {:.0f} rows/s, ETA {} s", p.done,
                                                         p.total, p.rate, p.eta_s);
  if (p.inferred > 0) text += fmt::format(", {} {} so far", p.inferred, p.dry_run ? "keys to delete" : "inferred deletes");
  return text + (p.dry_run ? " (dry run)" : "");
}

std::string reconcile_result_text(const JobProgress& p) {
  if (!p.dry_run) return fmt::format("{} inferred deletes, {} rows read in {:.1f} s", p.inferred, p.done, p.elapsed_s);
  std::string text = fmt::format("{} keys to delete, {} rows read", p.inferred, p.done);
  if (!p.sample.empty()) text += fmt::format("; sample: {}", fmt::join(p.sample, " "));
  return text;
}

int reconcile_command(const Config& config, const std::string& config_path, const ReconcileOptions& options,
                      std::FILE* out) {
  const std::vector<std::string> tables = reconcile_tables(config, options);
  const auto ids = write_requests(config, tables, options.dry_run);
  if (!options.wait) {
    for (const auto& [table, id] : ids)
      std::fprintf(out, "requested a %sreconciliation of %s (request %s): a running agent starts it within a second, "
                        "while streaming goes on; otherwise the next `tombsync run` does. Follow it with `tombsync "
                        "status --config %s`\n",
                   options.dry_run ? "dry-run " : "", table.c_str(), id.c_str(), config_path.c_str());
    return 0;
  }
  const auto start = Clock::now();
  auto last_line = start;
  std::map<std::string, JobProgress> seen;
  for (;;) {
    seen = progress_of(config, ids);
    size_t finished = 0;
    for (const auto& [table, p] : seen) finished += p.running ? 0 : 1;
    if (finished == ids.size()) break;
    const auto now = Clock::now();
    if (now - start >= std::chrono::seconds(options.timeout_s)) {
      for (const auto& [table, id] : ids) {
        auto it = seen.find(table);
        if (it != seen.end() && !it->second.running) continue;
        std::fprintf(out, "reconcile %s: not finished after %d s: %s; it goes on without this command: follow it "
                          "with `tombsync status --config %s`\n",
                     table.c_str(), options.timeout_s,
                     (it == seen.end() ? waiting_text(config, id) : "running, " + reconcile_progress_text(it->second)).c_str(),
                     config_path.c_str());
      }
      return 1;
    }
    if (now - last_line >= std::chrono::seconds(options.progress_every_s)) {
      print_progress(out, config, ids, seen);
      last_line = now;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(options.poll_ms));
  }
  int rc = 0;
  for (const auto& table : tables) {
    const JobProgress& p = seen.at(table);
    if (p.phase != "done") {  // the agent refused the request, or ended it unfinished: its phase says why
      std::fprintf(out, "reconcile %s: not done: %s (the agent's log has the line)\n", table.c_str(), p.phase.c_str());
      rc = 1;
      continue;
    }
    std::fprintf(out, "reconcile %s%s: %s\n", table.c_str(), p.dry_run ? " (dry run)" : "",
                 reconcile_result_text(p).c_str());
  }
  return rc;
}

}  // namespace tombsync
