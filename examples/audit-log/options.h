// Command-line options of tombsync-audit-log. Parsing throws Error(kConfig)
// with one line that names the flag and the expected form (exit status 2).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "examples/warehouse-loader/consumer.h"
#include "examples/warehouse-loader/flags.h"

namespace tombsync::audit {

struct Options {
  std::string brokers;
  std::string target_dsn;       // --target-dsn or --audit-dsn: the Postgres that holds audit_log
  std::string schema = "public";  // where audit_log and _tombsync_audit_offsets live
  std::string topic_prefix;
  std::vector<loader::TableSpec> tables;
  std::string group = "tombsync-audit-log";
  std::optional<std::chrono::seconds> purge_after;  // retention on recorded_at; nullopt keeps everything
  std::chrono::seconds purge_interval{3600};
  size_t batch_records = 5000;
  std::chrono::milliseconds batch_wait{200};
  std::chrono::milliseconds order_settle{500};
  std::chrono::milliseconds session_timeout{10000};  // a crashed consumer's partitions move on after this
  std::string log_level = "info";
  bool help = false;
};

// Throws Error(kConfig) on an unknown flag, a missing value or a malformed one.
Options parse_options(int argc, char** argv);
loader::ConsumerConfig consumer_config(const Options& options);
const char* usage();

}  // namespace tombsync::audit
