// Command-line pieces shared by the example consumers (tombsync-warehouse-loader,
// tombsync-audit-log): table specs, durations, counts. Every parser throws
// Error(kConfig) with one line that names the flag and the expected form; the
// caller turns that into exit status 2.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace tombsync::loader {

// One source table and the topic tombsync writes it to.
struct TableSpec {
  std::string schema;  // source schema, e.g. "public"
  std::string name;    // source table, e.g. "users"
  std::string topic;   // "<topic_prefix>.<schema>.<table>" unless given as table=topic
  std::string qualified() const { return schema + "." + name; }
};

[[noreturn]] void bad_flag(const std::string& message);

// A positive integer for `flag`.
size_t parse_positive(const std::string& flag, const std::string& text);
// "30d", "12h", "90m", "45s" (a bare number is seconds); nullopt when malformed.
std::optional<std::chrono::seconds> parse_duration(const std::string& text);
// As parse_duration, for `flag`; refuses 0 unless `zero_ok`.
std::chrono::seconds parse_duration_flag(const std::string& flag, const std::string& text, bool zero_ok);
// "--table a.b,c.d=topic": appends each entry to `out`.
void parse_table_list(const std::string& list, std::vector<TableSpec>& out);
// Gives every table without "=TOPIC" the topic "<prefix>.<schema>.<table>"; requires --topic-prefix then.
void resolve_topics(std::vector<TableSpec>& tables, const std::string& topic_prefix);

}  // namespace tombsync::loader
