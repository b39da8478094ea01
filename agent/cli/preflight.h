// `tombsync check`: the pre-flight report. It connects to Postgres and Kafka
// and checks, item by item, everything `tombsync run` needs before it streams
// (docs/operations.md lists the items and their fixes); the source's items are
// judged by the rules `run` applies (agent/source/source_rules.h), with the
// same messages. Unlike `run`, it does not stop at the first problem: every
// item is reported as PASS, FAIL (with what to do) or SKIP (it depends on an
// item that failed, e.g. the Postgres login). It is read-only: it creates,
// alters or locks nothing in Postgres, Kafka or state_dir (its write test in
// state_dir is a temp file, removed).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "agent/config/config.h"

namespace tombsync {

enum class CheckStatus { kPass, kFail, kSkip };
// "PASS", "FAIL", "SKIP".
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

  // Every item passed: `tombsync run` should start with this config.
  bool ok() const;
  size_t count(CheckStatus status) const;
  // One line per item, "PASS  wal_level = logical", then a summary line.
  std::string text() const;
  // One JSON object: {"ok":..,"passed":..,"failed":..,"skipped":..,
  // "items":[{"check","subject","status","message","warning"}]} (subject and warning only when set).
  std::string json() const;
};

// Runs every check of a loaded (hence valid) config.
PreflightReport run_preflight(const std::string& config_path, const Config& config);

// The report for a config that does not load: the config item fails with
// `error`, and the checks that need it are skipped.
PreflightReport config_refused(const std::string& error);

}  // namespace tombsync
