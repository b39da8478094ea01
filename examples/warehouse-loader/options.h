// Command-line options of tombsync-warehouse-loader. Parsing throws
// Error(kConfig) with one line that names the flag and the expected form.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace tombsync::loader {

// One source table to copy and the topic tombsync writes it to.
struct TableSpec {
  std::string schema;  // source schema, e.g. "public"
  std::string name;    // source table, e.g. "users"; also the warehouse table's name
  std::string topic;   // "<topic_prefix>.<schema>.<table>" unless given as table=topic
  std::string qualified() const { return schema + "." + name; }
};

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
// "30d", "12h", "90m", "45s" (a bare number is seconds); nullopt when malformed.
std::optional<std::chrono::seconds> parse_duration(const std::string& text);
const char* usage();

}  // namespace tombsync::loader
