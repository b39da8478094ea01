// The YAML parser behind parse_config and load_config_file (config.h). Private to
// tombsync_config: only config_parser.cc's entry points construct a Parser, one per document.
//
// A Parser walks the document once, section by section, and either returns a complete Config
// that passed every check, or throws Error(kConfig) through fail() at the first problem, with
// the one-line message config.h describes (file, line, key path, expected form). Values that
// may be secrets (the DSN, kafka.properties, file contents) are never quoted in a message.
// Its members live in three files:
//  - config_parser.cc: the document, the top level, and the source, kafka, log and runtime
//    sections;
//  - config_tables.cc: source.tables, and the checks across tables (topics, keyless tables);
//  - config_values.cc: mappings and typed scalars (${VAR} expansion, integers, booleans, names
//    from a list, durations, byte sizes, secret files) and fail() itself.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "agent/config/config.h"
#include "agent/config/config_keys.h"

namespace tombsync::config_internal {

// A value in the document and where to point at it: its own position, or its
// key's when it is null (`key:` alone), whose mark yaml-cpp puts on the next token.
struct Value {
  YAML::Node node;
  YAML::Mark mark;
};

inline Value value_of(const YAML::Node& node) { return Value{node, node.Mark()}; }

class Parser {
 public:
  explicit Parser(std::string origin) : origin_(std::move(origin)) {}

  Config parse(const std::string& text);

 private:
  using Entries = std::map<std::string, Value, std::less<>>;

  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& path,
                         const std::string& msg) const;
  [[noreturn]] void fail(const YAML::Node& at, const std::string& path,
                         const std::string& msg) const {
    fail(at.Mark(), path, msg);
  }
  [[noreturn]] void fail(const Value& at, const std::string& path, const std::string& msg) const {
    fail(at.mark, path, msg);
  }
  [[noreturn]] void fail(const std::string& msg) const { fail(YAML::Mark::null_mark(), "", msg); }

  Entries entries(const YAML::Node& map, const std::string& path, std::string_view section,
                  const Keys* allowed) const;
  bool mapping(const Value& at, const std::string& path, std::string_view expected) const;
  static const Value* find(const Entries& e, std::string_view key);

  std::string expand(const Value& at, const std::string& path) const;
  std::string scalar(const Value& at, const std::string& path,
                     std::string_view expected) const;
  std::string nonempty(const Value& at, const std::string& path,
                       std::string_view expected) const;
  int integer(const Value& at, const std::string& path, int lo, int hi,
              std::string_view unit) const;
  bool boolean(const Value& at, const std::string& path) const;
  size_t one_of(const Value& at, const std::string& path, Keys names) const;
  DeletePolicy delete_policy(const Value& at, const std::string& path) const;
  OversizedPolicy oversized_policy(const Value& at, const std::string& path) const;
  LedgerMode ledger_mode(const Value& at, const std::string& path) const;
  TruncateMode truncate_mode(const Value& at, const std::string& path) const;

  void parse_source(const Value& at, Config::Source& source);
  void parse_tables(const Value& at, std::vector<TableConfig>& tables);
  TableName table_name(const Value& at, const std::string& path) const;
  std::vector<std::string> key_columns(const Value& at, const std::string& path) const;
  std::string topic(const Value& at, const std::string& path) const;
  void parse_kafka(const Value& at, Config::Kafka& kafka);
  void parse_properties(const Value& at, std::map<std::string, std::string>& properties);
  void parse_log(const Value& at, Config::Log& log);
  void parse_runtime(const Entries& top, Config& config);
  int64_t byte_size(const Value& at, const std::string& path) const;
  int duration_ms(const Value& at, const std::string& path, int max_ms) const;
  std::string file_content(const Value& at, const std::string& path) const;
  std::vector<std::string> column_list(const Value& at, const std::string& path) const;
  void check_tables(const Config& config) const;
  std::string required_list(const std::vector<std::string_view>& paths) const;

  std::string origin_;
  std::vector<std::string_view> missing_;  // required keys not found (reported in kRequired order)
  std::vector<Value> table_nodes_;         // parallel to source.tables, for cross-key checks
};

}  // namespace tombsync::config_internal
