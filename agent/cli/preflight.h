// `tombsync check`: the pre-flight report. It connects to Postgres and Kafka
// and checks, item by item, everything `tombsync run` needs before it streams
// (docs/operations.md lists the items and their fixes); the source's items are
// judged by the rules `run` applies (agent/source/source_rules.h), with the
// same messages. Unlike `run`, it does not stop at the first problem: every
// item is reported as PASS, FAIL (with what to do), SKIP (it depends on an
// item that failed, e.g. the Postgres login) or UNKNOWN (it cannot be decided
// without a permission `run` does not need, or without writing; the line names
// the grant that would decide it). UNKNOWN never fails the check. It is read-only: it creates,
// alters or locks nothing in Postgres, Kafka or state_dir (its write test in
// state_dir is a temp file, removed).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "agent/config/config.h"

namespace tombsync {

enum class CheckStatus { kPass, kFail, kSkip, kUnknown };
// "PASS", "FAIL", "SKIP", "UNKNOWN".
const char* to_string(CheckStatus status);

struct CheckItem {
  std::string check;    // stable name for scripts: "postgres.wal_level", "table.key", "kafka.topic", ...
  std::string subject;  // what the item is about when there are several (a table, a topic), else ""
  CheckStatus status = CheckStatus::kPass;
  std::string message;  // one line: what holds; or what is wrong and how to fix it; or why skipped
  bool warning = false;  // a PASS that is at risk (the message says why and the fix); JSON "warning": true
};

struct PreflightReport {
  std::vector<CheckItem> items;

  // Every item passed or is unknown (none failed or was skipped): `tombsync run` should start
  // with this config. Exit code 0.
  bool ok() const;
  size_t count(CheckStatus status) const;
  // One line per item, "PASS  wal_level = logical", then a summary line ("check: all 20 items
  // passed", "check: no item failed, 18 passed, 2 unknown", "check: 3 of 24 items failed, 2 skipped").
  std::string text() const;
  // One JSON object: {"ok":..,"passed":..,"failed":..,"skipped":..,"unknown":..,
  // "items":[{"check","subject","status","message","warning"}]} (subject and warning only when set).
  std::string json() const;
};

// Runs every check of a loaded (hence valid) config.
PreflightReport run_preflight(const std::string& config_path, const Config& config);

// The report for a config that does not load: the config item fails with
// `error`, and the checks that need it are skipped.
PreflightReport config_refused(const std::string& error);

}  // namespace tombsync
