#include "examples/warehouse-loader/flags.h"

#include <charconv>

#include "base/error.h"

namespace tombsync::loader {
namespace {

// "public.users" or "public.users=app.public.users"; the topic defaults to <prefix>.<schema>.<table>.
TableSpec parse_table(const std::string& text) {
  TableSpec t;
  std::string name = text;
  if (auto eq = text.find('='); eq != std::string::npos) {
    name = text.substr(0, eq);
    t.topic = text.substr(eq + 1);
    if (t.topic.empty()) bad_flag("--table " + text + ": the topic after '=' is empty");
  }
  auto dot = name.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size() || name.find('.', dot + 1) != std::string::npos)
    bad_flag("--table expects schema.table (optionally schema.table=topic), got '" + text + "'");
  t.schema = name.substr(0, dot);
  t.name = name.substr(dot + 1);
  return t;
}

}  // namespace

void bad_flag(const std::string& message) { throw Error(ErrorKind::kConfig, message); }

size_t parse_positive(const std::string& flag, const std::string& text) {
  size_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v == 0)
    bad_flag(flag + " expects a positive integer, got '" + text + "'");
  return v;
}

std::optional<std::chrono::seconds> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  int64_t n = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), n);
  if (r.ec != std::errc() || n < 0) return std::nullopt;
  std::string unit(r.ptr, text.data() + text.size());
  int64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else if (unit == "d") scale = 86400;
  else return std::nullopt;
  return std::chrono::seconds(n * scale);
}

std::chrono::seconds parse_duration_flag(const std::string& flag, const std::string& text, bool zero_ok) {
  auto d = parse_duration(text);
  if (!d) bad_flag(flag + " expects a duration such as 30d, 12h, 90m or 45s, got '" + text + "'");
  if (!zero_ok && *d == std::chrono::seconds(0)) bad_flag(flag + " must be longer than 0s");
  return *d;
}

void parse_table_list(const std::string& list, std::vector<TableSpec>& out) {
  for (size_t start = 0; start <= list.size();) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (comma > start) out.push_back(parse_table(list.substr(start, comma - start)));
    start = comma + 1;
  }
}

void resolve_topics(std::vector<TableSpec>& tables, const std::string& topic_prefix) {
  for (auto& t : tables) {
    if (!t.topic.empty()) continue;
    if (topic_prefix.empty())
      bad_flag("--topic-prefix is required for --table " + t.qualified() +
               " (tombsync's kafka.topic_prefix), or give its topic as --table " + t.qualified() + "=TOPIC");
    t.topic = topic_prefix + "." + t.qualified();
  }
}

}  // namespace tombsync::loader
