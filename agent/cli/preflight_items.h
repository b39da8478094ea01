// Private to agent/cli: the parts of `tombsync check` (preflight.h). run_preflight
// (preflight.cc) calls them in print order: check_postgres, check_kafka,
// check_state. Each adds its items to the CheckList and never throws.
#pragma once

#include <string>

#include "agent/cli/preflight.h"
#include "agent/config/config.h"
#include "agent/source/source_rules.h"
#include "connectors/postgres/source_facts.h"

namespace tombsync::preflight {

// The report's items, in the order they are added.
class CheckList {
 public:
  // `warning`: it holds, but the message says what is at risk (JSON "warning": true).
  void pass(const std::string& check, const std::string& subject, std::string message, bool warning = false);
  void fail(const std::string& check, const std::string& subject, std::string message);
  // Cannot be decided without a grant run does not need: the message names that grant.
  void unknown(const std::string& check, const std::string& subject, std::string message);
  // `title` names the item in the line: "SKIP  wal_level: not checked, <reason>".
  void skip(const std::string& check, const std::string& subject, const std::string& title,
            const std::string& reason);
  // A rule's finding: holds -> PASS, warning -> PASS marked as a warning, problem -> FAIL,
  // unjudged -> SKIP.
  void add(const Finding& finding);
  void add(const Findings& findings);
  PreflightReport take() { return std::move(report_); }

 private:
  PreflightReport report_;
};

// What the Postgres part learnt, for the cursor item.
struct SourceSeen {
  bool checked = false;  // the catalog was read and judged
  // The facts, with the replication connection's system identifier when it answered.
  pg::SourceFacts facts;
};

// postgres.login, the server, role, replication connection, table, publication and slot items.
void check_postgres(const Config& config, CheckList& list, SourceSeen& seen);
// kafka.reachable, kafka.topic (per topic), the permission items kafka.describe, kafka.write,
// kafka.create, kafka.read (per topic) and kafka.idempotent_write (preflight_kafka.cc).
void check_kafka(const Config& config, CheckList& list);
// state_dir and state.cursor.
void check_state(const Config& config, const SourceSeen& seen, CheckList& list);

}  // namespace tombsync::preflight
