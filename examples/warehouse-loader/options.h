// Command-line options of tombsync-warehouse-loader. Parsing throws
// Error(kConfig) with one line that names the flag and the expected form.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "examples/warehouse-loader/consumer.h"
#include "examples/warehouse-loader/flags.h"

namespace tombsync::loader {

struct Options {
  std::string brokers;
  std::string source_dsn;     // read for columns, types, primary key and unique indexes
  std::string warehouse_dsn;
  std::string warehouse_schema = "public";
  std::string topic_prefix;
  std::vector<TableSpec> tables;
  std::string group = "tombsync-warehouse-loader";
  bool purge_tombstones = false;
  std::optional<std::chrono::seconds> purge_deleted_after;
  std::chrono::seconds purge_interval{3600};
  size_t batch_records = 5000;
  std::chrono::milliseconds batch_wait{200};
  std::chrono::seconds unique_wait{60};  // how long a copied unique constraint may keep refusing batches
  std::chrono::milliseconds order_settle{500};
  std::string log_level = "info";
  bool help = false;
};

// Throws Error(kConfig) on an unknown flag, a missing value or a malformed one.
Options parse_options(int argc, char** argv);
// The Kafka side's settings (consumer.h).
ConsumerConfig consumer_config(const Options& options);
const char* usage();

}  // namespace tombsync::loader
