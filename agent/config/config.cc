#include "agent/config/config.h"

#include <map>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

#include "base/error.h"
#include "connectors/kafka/kafka_properties.h"
#include "connectors/postgres/conninfo.h"

namespace tombsync {

const char* to_string(DeletePolicy policy) {
  switch (policy) {
    case DeletePolicy::kBoth: return "both";
    case DeletePolicy::kFlag: return "flag";
    case DeletePolicy::kTombstone: return "tombstone";
  }
  return "unknown";
}

const char* to_string(RedactMode mode) { return mode == RedactMode::kHash ? "hash" : "drop"; }

std::string TableName::qualified() const { return schema + "." + table; }

std::string TableName::sql_quoted() const {
  auto quote_ident = [](const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  };
  return quote_ident(schema) + "." + quote_ident(table);
}

const TableConfig* Config::find_table(const std::string& schema, const std::string& table) const {
  for (const TableConfig& t : source.tables) {
    if (t.name.schema == schema && t.name.table == table) return &t;
  }
  return nullptr;
}

std::string Config::topic_for(const TableConfig& table) const {
  if (table.topic) return *table.topic;
  return kafka.topic_prefix + "." + table.name.schema + "." + table.name.table;
}

SnapshotMode Config::snapshot_for(const TableConfig& table) const {
  if (snapshot == SnapshotMode::kNever) return SnapshotMode::kNever;
  return table.snapshot.value_or(snapshot);
}

DeletePolicy Config::deletes_for(const TableConfig& table) const {
  return table.deletes.value_or(deletes);
}

namespace {

using Keys = std::span<const std::string_view>;

constexpr std::array<std::string_view, 13> kRootKeys = {
    "source", "kafka", "format", "deletes", "state_dir", "log", "snapshot", "snapshot_chunk_rows",
    "snapshot_max_connections", "http", "health", "heartbeat", "reconnect"};
constexpr std::array<std::string_view, 8> kSourceKeys = {
    "dsn", "slot", "publication", "create_publication", "create_slot", "tables",
    "status_interval_ms", "password_file"};
constexpr std::array<std::string_view, 5> kKafkaKeys = {"brokers", "topic_prefix", "properties",
                                                        "connect_timeout_ms", "property_files"};
constexpr std::array<std::string_view, 2> kLogKeys = {"level", "format"};
constexpr std::array<std::string_view, 1> kHttpKeys = {"address"};
constexpr std::array<std::string_view, 2> kHealthKeys = {"max_lag_bytes", "kafka_stall_ms"};
constexpr std::array<std::string_view, 1> kHeartbeatKeys = {"interval"};
constexpr std::array<std::string_view, 3> kReconnectKeys = {"initial_backoff_ms", "max_backoff_ms",
                                                            "max_attempts"};
constexpr std::array<std::string_view, 9> kTableKeys = {
    "name", "deletes", "key_columns", "allow_keyless", "topic", "snapshot",
    "soft_delete_column", "redact_on_delete", "redact_mode"};

// The sections whose keys can be suggested for a key written in the wrong
// place ("brokers" at the top level -> "kafka.brokers").
struct Section {
  std::string_view path;
  Keys keys;
};
constexpr std::array<Section, 8> kSections = {{{"", kRootKeys},
                                               {"source", kSourceKeys},
                                               {"kafka", kKafkaKeys},
                                               {"log", kLogKeys},
                                               {"http", kHttpKeys},
                                               {"health", kHealthKeys},
                                               {"heartbeat", kHeartbeatKeys},
                                               {"reconnect", kReconnectKeys}}};

// Names people reach for that edit distance would not find.
struct Alias {
  std::string_view section;  // "table" stands for any source.tables[i]
  std::string_view written;
  std::string_view meant;
};
constexpr std::array<Alias, 9> kAliases = {{
    {"table", "primary_key", "key_columns"},
    {"table", "primary_keys", "key_columns"},
    {"table", "key", "key_columns"},
    {"table", "keys", "key_columns"},
    {"table", "table", "name"},
    {"table", "delete", "deletes"},
    {"kafka", "bootstrap.servers", "brokers"},
    {"kafka", "topic", "topic_prefix"},
    {"kafka", "prefix", "topic_prefix"},
}};

// One hint per required key: the expected form, for "missing required key" messages.
struct Required {
  std::string_view path;
  std::string_view form;
};
constexpr std::array<Required, 5> kRequired = {{
    {"source.dsn", "a libpq conninfo, e.g. \"host=db dbname=app user=tombsync\""},
    {"source.tables", "a list of \"schema.table\", e.g. [public.users]"},
    {"kafka.brokers", "\"host:port[,host:port]\""},
    {"kafka.topic_prefix", "topics are <prefix>.<schema>.<table>, e.g. app"},
    {"state_dir", "a directory for the cursor store, e.g. /var/lib/tombsync"},
}};

constexpr std::string_view kTopicForm = "1 to 249 characters from [A-Za-z0-9._-]";
constexpr std::string_view kTableForm = "\"schema.table\"";

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// A value inside a message: double-quoted, with quotes, backslashes and control
// characters escaped so a message always stays on one line, and cut when long.
std::string quote(std::string_view s) {
  constexpr size_t kMax = 120;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

std::string join(Keys keys) {
  std::string out;
  for (std::string_view k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions,
// so "dns" is one edit from "dsn".
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// Case and '-' vs '_' are the commonest slips; compare keys without them.
std::string normalize_key(std::string_view key) {
  std::string out;
  for (char c : key) out += c == '-' ? '_' : lower(c);
  return out;
}

const char* kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return "nothing";
  }
  return "something else";
}

// ---- validation of single values

// A Postgres name list ("public.users", 'public."Order Items"'), read as SQL
// reads it: unquoted names fold to lower case, double-quoted ones are kept.
// On failure, `why` says what is wrong.
bool parse_identifiers(std::string_view s, std::vector<std::string>& parts, std::string& why) {
  size_t i = 0;
  while (true) {
    std::string part;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '"') {
          if (i + 1 < s.size() && s[i + 1] == '"') {
            part += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        part += s[i++];
      }
      if (!closed) {
        why = "a double quote is not closed";
        return false;
      }
      if (part.empty()) {
        why = "a quoted name is empty";
        return false;
      }
    } else {
      const size_t begin = i;
      for (; i < s.size() && s[i] != '.'; ++i) {
        const char c = s[i];
        // Postgres lets unquoted names hold letters (any non-ASCII byte counts
        // as one), '_', and after the first character digits and '$'.
        const bool ok = is_alpha(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80 ||
                        (i > begin && (is_digit(c) || c == '$'));
        if (!ok) {
          why = quote(std::string_view(&s[i], 1)) + " is not allowed in an unquoted name" +
                " (double-quote the name)";
          return false;
        }
        part += lower(c);
      }
      if (part.empty()) {
        why = "a name is empty";
        return false;
      }
    }
    if (part.size() > 63) {
      why = "a name is longer than 63 bytes (Postgres would truncate it)";
      return false;
    }
    parts.push_back(std::move(part));
    if (i == s.size()) return true;
    if (s[i] != '.') {
      why = "a quoted name is followed by something other than '.'";
      return false;
    }
    ++i;
    if (i == s.size()) {
      why = "a name is empty";
      return false;
    }
  }
}

bool valid_topic(std::string_view t) {
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '-';
  });
}

bool valid_env_name(std::string_view name) {
  if (name.empty() || is_digit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

// Why a broker list entry is wrong, or "" when it is "host:port" (optionally
// "[v6addr]:port" or prefixed with a librdkafka "PROTOCOL://"); the syntax is
// connectors/kafka/kafka_properties.h's, the wording the config's.
std::string broker_problem(std::string_view entry) {
  const BrokerCheck check = check_broker(entry);
  switch (check.problem) {
    case BrokerProblem::kNone: return "";
    case BrokerProblem::kEmpty: return "an entry is empty";
    case BrokerProblem::kUnclosedBracket: return quote(check.address) + " has an unclosed '['";
    case BrokerProblem::kNoPort: return quote(check.address) + " has no port";
    case BrokerProblem::kInvalidHost: return quote(check.address) + " has no valid host name";
    case BrokerProblem::kInvalidPort:
      return quote(check.address) + " has no valid port (1 to 65535)";
  }
  return "";
}

// yaml-cpp names the symptom, not the cause, for two common slips: a tab in
// indentation ("illegal map value") and ${VAR} unquoted inside { } or [ ],
// where '{' opens a mapping ("end of map flow not found"). Name the cause
// when the failing line or the one before it shows it.
std::string yaml_hint(const std::string& text, const YAML::Mark& mark, const std::string& msg) {
  if (mark.is_null()) return "";
  int line = 0;
  size_t begin = 0;
  while (begin <= text.size() && line <= mark.line) {
    const size_t nl = std::min(text.find('\n', begin), text.size());
    const std::string_view content(text.data() + begin, nl - begin);
    if (line >= mark.line - 1) {
      const size_t indent_end = std::min(content.find_first_not_of(" \t"), content.size());
      if (content.substr(0, indent_end).find('\t') != std::string_view::npos) {
        return " (a tab indents line " + std::to_string(line + 1) +
               "; YAML allows only spaces for indentation)";
      }
      if (msg.find("flow") != std::string::npos &&
          content.find("${") != std::string_view::npos) {
        return " (inside { } or [ ], quote a value that uses ${...}: \"${VAR}\")";
      }
    }
    begin = nl + 1;
    ++line;
  }
  return "";
}

// ---- the parser

// A value in the document and where to point at it: its own position, or its
// key's when it is null (`key:` alone), whose mark yaml-cpp puts on the next token.
struct Value {
  YAML::Node node;
  YAML::Mark mark;
};

Value value_of(const YAML::Node& node) { return Value{node, node.Mark()}; }

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

  std::string unknown_key_message(const std::string& path, std::string_view section,
                                  Keys allowed, const std::string& key) const;
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

void Parser::fail(const YAML::Mark& mark, const std::string& path, const std::string& msg) const {
  std::string text = "config " + origin_;
  if (!mark.is_null()) text += " line " + std::to_string(mark.line + 1);
  text += ": ";
  if (!path.empty()) text += path + ": ";
  text += msg;
  // Every value is quoted with escapes already; this guards the one-line
  // promise against anything that slipped through (an origin with a newline).
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  throw Error(ErrorKind::kConfig, text);
}

std::string Parser::unknown_key_message(const std::string& path, std::string_view section,
                                        Keys allowed, const std::string& key) const {
  const std::string full = child(path, key);
  auto did_you_mean = [&](const std::string& meant) {
    return "unknown key " + quote(full) + " (did you mean " + quote(meant) + "?)";
  };
  if (key == "<<") {
    return "unknown key " + quote(full) + ": YAML merge keys (<<) are not supported; " +
           "write the keys out";
  }
  if (section == "source" && (key == "password" || key == "user" || key == "host")) {
    return "unknown key " + quote(full) + ": connection settings go in source.dsn, e.g. " +
           "\"host=db user=tombsync password=${PGPASSWORD}\"";
  }
  for (const Alias& a : kAliases) {
    if (a.section == section && normalize_key(key) == a.written) {
      return did_you_mean(child(path, a.meant));
    }
  }
  const std::string norm = normalize_key(key);
  const size_t limit = norm.size() <= 4 ? 1 : 2;
  std::string_view best;
  size_t best_distance = limit + 1;
  for (std::string_view candidate : allowed) {
    const size_t d = edit_distance(norm, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  if (!best.empty()) return did_you_mean(child(path, best));
  // Right key, wrong place.
  for (const Section& s : kSections) {
    if (s.path == section) continue;
    for (std::string_view candidate : s.keys) {
      if (norm == candidate) return did_you_mean(child(std::string(s.path), candidate));
    }
  }
  return "unknown key " + quote(full) + "; expected one of: " + join(allowed);
}

// Checks the keys of a mapping: plain scalars, each once, each known (when
// `allowed` is given). Values are returned untouched.
Parser::Entries Parser::entries(const YAML::Node& map, const std::string& path,
                                std::string_view section, const Keys* allowed) const {
  Entries out;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key_node = it->first;  // copies: `it->` yields a temporary proxy
    if (!key_node.IsScalar()) {
      fail(key_node, path, "keys must be plain names, got " + std::string(kind_name(key_node)));
    }
    const std::string& key = key_node.Scalar();
    if (allowed && std::find(allowed->begin(), allowed->end(), key) == allowed->end()) {
      fail(key_node, "", unknown_key_message(path, section, *allowed, key));
    }
    if (const auto seen = out.find(key); seen != out.end()) {
      fail(key_node, "", "duplicate key " + quote(child(path, key)) + " (first at line " +
                             std::to_string(seen->second.mark.line + 1) + ")");
    }
    const YAML::Node value = it->second;
    out.emplace(key, Value{value, value.IsNull() ? key_node.Mark() : value.Mark()});
  }
  return out;
}

const Value* Parser::find(const Entries& e, std::string_view key) {
  const auto it = e.find(key);
  return it == e.end() ? nullptr : &it->second;
}

// True when `n` is a mapping, false when it is null (an empty section); any
// other kind is an error.
bool Parser::mapping(const Value& at, const std::string& path,
                     std::string_view expected) const {
  const YAML::Node& n = at.node;
  if (n.IsMap()) return true;
  if (n.IsNull()) return false;
  fail(at, path, "expected " + std::string(expected) + ", got " + kind_name(n));
}

// ${VAR}, ${VAR:-default} and $$, in the style of POSIX shells and Docker
// Compose, so secrets stay out of the file. A '$' before anything else is
// kept as written (passwords contain '$' more often than typos do).
std::string Parser::expand(const Value& at, const std::string& path) const {
  const YAML::Node& n = at.node;
  const std::string& s = n.Scalar();
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '$' || i + 1 == s.size() || (s[i + 1] != '$' && s[i + 1] != '{')) {
      out += s[i++];
      continue;
    }
    if (s[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    const size_t close = s.find('}', i + 2);
    if (close == std::string::npos) {
      fail(at, path, "\"${\" is not closed; expected ${VAR} or ${VAR:-default} ($$ writes a "
                    "literal $)");
    }
    const std::string_view body(s.data() + i + 2, close - i - 2);
    const size_t sep = body.find(":-");
    const std::string name(body.substr(0, sep));
    if (!valid_env_name(name)) {
      fail(at, path, quote(name) + " is not a valid environment variable name in ${...}; expected "
                    "${VAR} or ${VAR:-default} with VAR matching [A-Za-z_][A-Za-z0-9_]*");
    }
    const char* value = std::getenv(name.c_str());
    if (sep != std::string_view::npos) {
      // As in the shell, ":-" also replaces a variable that is set but empty.
      out += (value && *value) ? std::string_view(value) : body.substr(sep + 2);
    } else if (value) {
      out += value;
    } else {
      fail(at, path, "environment variable " + name + " is not set; set it, or write ${" + name +
                    ":-default} to give a default ($$ writes a literal $)");
    }
    i = close + 1;
  }
  return out;
}

std::string Parser::scalar(const Value& at, const std::string& path,
                           std::string_view expected) const {
  const YAML::Node& n = at.node;
  if (n.IsScalar()) return expand(at, path);
  if (n.IsNull()) fail(at, path, "no value given; expected " + std::string(expected));
  fail(at, path, "expected " + std::string(expected) + ", got " + kind_name(n));
}

std::string Parser::nonempty(const Value& at, const std::string& path,
                             std::string_view expected) const {
  std::string s = scalar(at, path, expected);
  if (s.empty()) fail(at, path, "is empty; expected " + std::string(expected));
  return s;
}

int Parser::integer(const Value& at, const std::string& path, int lo, int hi,
                    std::string_view unit) const {
  const std::string expected = "an integer from " + std::to_string(lo) + " to " +
                               std::to_string(hi) + " (" + std::string(unit) + ")";
  const std::string s = scalar(at, path, expected);
  long long value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size()) {
    fail(at, path, "expected " + expected + ", got " + quote(s));
  }
  if (ec == std::errc::result_out_of_range || value < lo || value > hi) {
    fail(at, path, s + " is out of range; expected " + expected);
  }
  return static_cast<int>(value);
}

bool Parser::boolean(const Value& at, const std::string& path) const {
  const std::string s = scalar(at, path, "true or false");
  // The YAML 1.2 core schema spellings; yes/no/on/off are YAML 1.1 traps.
  for (std::string_view t : {"true", "True", "TRUE"}) {
    if (s == t) return true;
  }
  for (std::string_view f : {"false", "False", "FALSE"}) {
    if (s == f) return false;
  }
  fail(at, path, "expected true or false, got " + quote(s));
}

size_t Parser::one_of(const Value& at, const std::string& path, Keys names) const {
  const std::string s = scalar(at, path, "one of: " + join(names));
  for (size_t i = 0; i < names.size(); ++i) {
    if (s == names[i]) return i;
  }
  fail(at, path, quote(s) + " is not allowed; expected one of: " + join(names));
}

DeletePolicy Parser::delete_policy(const Value& at, const std::string& path) const {
  static constexpr std::array<std::string_view, 3> kNames = {"both", "flag", "tombstone"};
  static constexpr std::array<DeletePolicy, 3> kValues = {
      DeletePolicy::kBoth, DeletePolicy::kFlag, DeletePolicy::kTombstone};
  return kValues[one_of(at, path, kNames)];
}

Config Parser::parse(const std::string& text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    fail(e.mark, "", "invalid YAML: " + e.msg + yaml_hint(text, e.mark, e.msg));
  }
  // "---" alone or a trailing "---" yields null documents; only content counts.
  std::erase_if(docs, [](const YAML::Node& d) { return d.IsNull(); });
  const std::string required = required_list({});
  if (docs.empty()) fail("the file is empty; required keys: " + required);
  if (docs.size() > 1) {
    fail(docs[1], "", "a second YAML document starts here; expected one document (remove the "
                      "\"---\" separator)");
  }
  const YAML::Node& root = docs[0];
  if (!root.IsMap()) {
    fail(root, "", "expected a mapping of keys (" + join(kRootKeys) + ") at the top level, got " +
                       kind_name(root) + "; required keys: " + required);
  }
  const Keys root_keys(kRootKeys);
  const Entries top = entries(root, "", "", &root_keys);

  Config config;
  if (const Value* n = find(top, "source")) {
    parse_source(*n, config.source);
  } else {
    missing_.insert(missing_.end(), {"source.dsn", "source.tables"});
  }
  if (const Value* n = find(top, "kafka")) {
    parse_kafka(*n, config.kafka);
  } else {
    missing_.insert(missing_.end(), {"kafka.brokers", "kafka.topic_prefix"});
  }
  if (const Value* n = find(top, "format")) {
    static constexpr std::array<std::string_view, 3> kNames = {"json", "protobuf", "debezium-json"};
    static constexpr std::array<Format, 3> kValues = {Format::kJson, Format::kProtobuf,
                                                      Format::kDebeziumJson};
    config.format = kValues[one_of(*n, "format", kNames)];
  }
  if (const Value* n = find(top, "deletes")) config.deletes = delete_policy(*n, "deletes");
  if (const Value* n = find(top, "state_dir")) {
    config.state_dir = nonempty(*n, "state_dir", "a directory path, e.g. /var/lib/tombsync");
  } else {
    missing_.push_back("state_dir");
  }
  if (const Value* n = find(top, "log")) parse_log(*n, config.log);
  if (const Value* n = find(top, "snapshot")) {
    static constexpr std::array<std::string_view, 3> kNames = {"initial", "never", "initial_only"};
    config.snapshot = static_cast<SnapshotMode>(one_of(*n, "snapshot", kNames));
  }
  if (const Value* n = find(top, "snapshot_chunk_rows")) {
    config.snapshot_chunk_rows = integer(*n, "snapshot_chunk_rows", 100, 1000000, "rows per snapshot chunk");
  }
  parse_runtime(top, config);

  if (missing_.size() == 1) fail("missing required key " + required_list(missing_));
  if (!missing_.empty()) fail("missing required keys: " + required_list(missing_));
  check_tables(config);
  return config;
}

// "source.dsn (a libpq conninfo, ...), ..." for `paths`, or for every required key.
std::string Parser::required_list(const std::vector<std::string_view>& paths) const {
  std::string out;
  for (const Required& r : kRequired) {
    if (!paths.empty() && std::find(paths.begin(), paths.end(), r.path) == paths.end()) continue;
    if (!out.empty()) out += ", ";
    out += std::string(r.path) + " (" + std::string(r.form) + ")";
  }
  return out;
}

void Parser::parse_source(const Value& at, Config::Source& source) {
  const YAML::Node& n = at.node;
  if (!mapping(at, "source", "a mapping with dsn, tables and optional settings")) {
    missing_.insert(missing_.end(), {"source.dsn", "source.tables"});
    return;
  }
  const Keys keys(kSourceKeys);
  const Entries e = entries(n, "source", "source", &keys);

  if (const Value* v = find(e, "dsn")) {
    constexpr std::string_view kForm =
        "a libpq conninfo of keyword=value pairs, e.g. \"host=db dbname=app user=tombsync\", "
        "or a postgresql:// URI";
    // The value is never echoed: it may hold a password.
    source.dsn = nonempty(*v, "source.dsn", kForm);
    const pg::DsnCheck check = pg::check_dsn(source.dsn);
    if (check.problem == pg::DsnProblem::kSyntax) {
      fail(*v, "source.dsn", "not a valid conninfo (it stops making sense at character " +
                                 std::to_string(check.offset + 1) + "); expected " +
                                 std::string(kForm));
    }
    if (check.problem == pg::DsnProblem::kBlank) {
      fail(*v, "source.dsn", "is blank; expected " + std::string(kForm));
    }
  } else {
    missing_.push_back("source.dsn");
  }
  if (const Value* v = find(e, "slot")) {
    constexpr std::string_view kForm = "1 to 63 characters from [a-z0-9_]";
    source.slot = scalar(*v, "source.slot", kForm);
    const bool ok = !source.slot.empty() && source.slot.size() <= 63 &&
                    std::all_of(source.slot.begin(), source.slot.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_';
                    });
    if (!ok) {
      fail(*v, "source.slot", quote(source.slot) + " is not a valid replication slot name; " +
                                  "expected " + std::string(kForm));
    }
  }
  if (const Value* v = find(e, "publication")) {
    // Lower case only, so the name means the same quoted or not in any SQL
    // the agent or an operator writes.
    constexpr std::string_view kForm =
        "a lower-case Postgres identifier: [a-z_] then up to 62 of [a-z0-9_]";
    source.publication = scalar(*v, "source.publication", kForm);
    const std::string& p = source.publication;
    const bool ok = !p.empty() && p.size() <= 63 && !is_digit(p[0]) &&
                    std::all_of(p.begin(), p.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_';
                    });
    if (!ok) {
      fail(*v, "source.publication",
           quote(p) + " is not a valid publication name; expected " + std::string(kForm));
    }
  }
  if (const Value* v = find(e, "create_publication")) {
    source.create_publication = boolean(*v, "source.create_publication");
  }
  if (const Value* v = find(e, "create_slot")) {
    source.create_slot = boolean(*v, "source.create_slot");
  }
  if (const Value* v = find(e, "tables")) {
    parse_tables(*v, source.tables);
  } else {
    missing_.push_back("source.tables");
  }
  if (const Value* v = find(e, "status_interval_ms")) {
    source.status_interval_ms = integer(*v, "source.status_interval_ms", 100, 60000,
                                        "milliseconds");
  }
  if (const Value* v = find(e, "password_file")) {
    source.password_file = nonempty(*v, "source.password_file", "a file path");
    file_content(*v, "source.password_file");  // fail now, with the line, when it is unreadable
  }
}

TableName Parser::table_name(const Value& at, const std::string& path) const {
  const std::string text = nonempty(at, path, kTableForm);
  std::vector<std::string> parts;
  std::string why;
  if (!parse_identifiers(text, parts, why)) {
    fail(at, path, quote(text) + " is not a valid table name: " + why + "; expected " +
                      std::string(kTableForm) + ", e.g. \"public.users\" or " +
                      "'public.\"Order Items\"'");
  }
  if (parts.size() == 1) {
    fail(at, path, quote(text) + " is not schema-qualified; expected " + std::string(kTableForm) +
                      ", e.g. " + quote("public." + text));
  }
  if (parts.size() > 2) {
    fail(at, path, quote(text) + " has " + std::to_string(parts.size()) + " dot-separated parts; " +
                      "expected " + std::string(kTableForm) +
                      " (double-quote a name that contains a dot)");
  }
  return TableName{parts[0], parts[1]};
}

std::vector<std::string> Parser::key_columns(const Value& at, const std::string& path) const {
  const YAML::Node& n = at.node;
  constexpr std::string_view kForm = "a list of column names, e.g. [order_id]";
  if (!n.IsSequence()) {
    if (n.IsNull()) fail(at, path, "no value given; expected " + std::string(kForm));
    fail(at, path, "expected " + std::string(kForm) + ", got " + kind_name(n));
  }
  if (n.size() == 0) {
    fail(at, path, "is empty; expected " + std::string(kForm) +
                      " (for a table without a key, set allow_keyless: true instead)");
  }
  std::vector<std::string> columns;
  for (size_t i = 0; i < n.size(); ++i) {
    const Value item = value_of(n[i]);
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    const std::string text = nonempty(item, item_path, "a column name");
    std::vector<std::string> parts;
    std::string why;
    if (!parse_identifiers(text, parts, why) || parts.size() != 1) {
      if (why.empty()) why = "it has a '.'";
      fail(item, item_path, quote(text) + " is not a valid column name: " + why +
                                "; expected a Postgres identifier, e.g. order_id or '\"OrderId\"'");
    }
    if (std::find(columns.begin(), columns.end(), parts[0]) != columns.end()) {
      fail(item, item_path, "column " + quote(parts[0]) + " is listed twice");
    }
    columns.push_back(parts[0]);
  }
  return columns;
}

std::string Parser::topic(const Value& at, const std::string& path) const {
  const std::string t = scalar(at, path, "a Kafka topic name, " + std::string(kTopicForm));
  if (!valid_topic(t)) {
    fail(at, path, quote(t) + " is not a valid Kafka topic name; expected " +
                      std::string(kTopicForm));
  }
  return t;
}

void Parser::parse_tables(const Value& at, std::vector<TableConfig>& tables) {
  const YAML::Node& n = at.node;
  constexpr std::string_view kForm =
      "a list of tables, each \"schema.table\" or a mapping with name: and overrides";
  if (!n.IsSequence()) {
    if (n.IsNull()) fail(at, "source.tables", "no value given; expected " + std::string(kForm));
    fail(at, "source.tables", "expected " + std::string(kForm) + ", got " + kind_name(n));
  }
  if (n.size() == 0) {
    fail(at, "source.tables", "lists no tables; expected at least one \"schema.table\"");
  }
  const Keys table_keys(kTableKeys);
  for (size_t i = 0; i < n.size(); ++i) {
    const Value item = value_of(n[i]);
    const std::string path = "source.tables[" + std::to_string(i) + "]";
    TableConfig table;
    if (item.node.IsScalar()) {
      table.name = table_name(item, path);
    } else if (item.node.IsMap()) {
      const Entries e = entries(item.node, path, "table", &table_keys);
      const Value* name = find(e, "name");
      if (!name) {
        fail(item, "", "missing required key " + path + ".name (" + std::string(kTableForm) +
                           ", e.g. name: public.orders)");
      }
      table.name = table_name(*name, path + ".name");
      if (const Value* v = find(e, "deletes")) {
        table.deletes = delete_policy(*v, path + ".deletes");
      }
      if (const Value* v = find(e, "key_columns")) {
        table.key_columns = key_columns(*v, path + ".key_columns");
      }
      if (const Value* v = find(e, "allow_keyless")) {
        table.allow_keyless = boolean(*v, path + ".allow_keyless");
      }
      if (const Value* v = find(e, "snapshot")) {
        static constexpr std::array<std::string_view, 2> kNames = {"initial", "never"};
        table.snapshot = one_of(*v, path + ".snapshot", kNames) == 0 ? SnapshotMode::kInitial : SnapshotMode::kNever;
      }
      if (const Value* v = find(e, "topic")) table.topic = topic(*v, path + ".topic");
      if (const Value* v = find(e, "soft_delete_column")) {
        const std::vector<std::string> cols = column_list(*v, path + ".soft_delete_column");
        if (cols.size() != 1) fail(*v, path + ".soft_delete_column", "expected one column name");
        table.soft_delete_column = cols[0];
      }
      if (const Value* v = find(e, "redact_on_delete")) {
        table.redact_on_delete = column_list(*v, path + ".redact_on_delete");
      }
      if (const Value* v = find(e, "redact_mode")) {
        static constexpr std::array<std::string_view, 2> kNames = {"drop", "hash"};
        table.redact_mode = static_cast<RedactMode>(one_of(*v, path + ".redact_mode", kNames));
      }
      for (const std::string& c : table.redact_on_delete) {
        if (std::find(table.key_columns.begin(), table.key_columns.end(), c) != table.key_columns.end() ||
            c == table.soft_delete_column) {
          fail(item, path, "redact_on_delete lists " + quote(c) + ", which is a key column or the "
                           "soft_delete_column; a delete event needs it, so remove it from the list");
        }
      }
      if (table.allow_keyless && !table.key_columns.empty()) {
        fail(item, path, "allow_keyless: true and key_columns contradict each other; key_columns "
                         "gives the table a key, so remove allow_keyless");
      }
    } else {
      fail(item, path, "expected " + std::string(kTableForm) +
                           " or a mapping with name: and overrides, got " + kind_name(item.node));
    }
    for (size_t j = 0; j < tables.size(); ++j) {
      if (tables[j].name == table.name) {
        fail(item, path, table.name.qualified() + " is listed twice (first as source.tables[" +
                             std::to_string(j) + "])");
      }
    }
    tables.push_back(std::move(table));
    table_nodes_.push_back(item);
  }
}

void Parser::parse_kafka(const Value& at, Config::Kafka& kafka) {
  const YAML::Node& n = at.node;
  if (!mapping(at, "kafka", "a mapping with brokers, topic_prefix and optional settings")) {
    missing_.insert(missing_.end(), {"kafka.brokers", "kafka.topic_prefix"});
    return;
  }
  const Keys keys(kKafkaKeys);
  const Entries e = entries(n, "kafka", "kafka", &keys);
  if (const Value* v = find(e, "brokers")) {
    constexpr std::string_view kForm =
        "\"host:port[,host:port]\", e.g. \"kafka-1:9092,kafka-2:9092\"";
    const std::string text = nonempty(*v, "kafka.brokers", kForm);
    // Stored without whitespace: librdkafka splits on commas only.
    std::string normalized;
    for (std::string_view entry : split_broker_list(text)) {
      if (const std::string problem = broker_problem(entry); !problem.empty()) {
        fail(*v, "kafka.brokers", problem + "; expected " + std::string(kForm));
      }
      if (!normalized.empty()) normalized += ',';
      normalized += entry;
    }
    kafka.brokers = normalized;
  } else {
    missing_.push_back("kafka.brokers");
  }
  if (const Value* v = find(e, "topic_prefix")) {
    constexpr std::string_view kForm = "1 or more characters from [A-Za-z0-9._-], e.g. app";
    kafka.topic_prefix = nonempty(*v, "kafka.topic_prefix", kForm);
    if (!valid_topic(kafka.topic_prefix)) {
      fail(*v, "kafka.topic_prefix",
           quote(kafka.topic_prefix) + " is not a valid topic prefix; expected " +
               std::string(kForm));
    }
  } else {
    missing_.push_back("kafka.topic_prefix");
  }
  if (const Value* v = find(e, "properties")) parse_properties(*v, kafka.properties);
  if (const Value* v = find(e, "property_files")) {
    if (mapping(*v, "kafka.property_files",
                "a mapping of librdkafka property to file, e.g. { sasl.password: /secrets/kafka }")) {
      for (const auto& [key, file] : entries(v->node, "kafka.property_files", "properties", nullptr)) {
        const std::string path = "kafka.property_files." + key;
        if (const OwnedProperty* owned = find_owned_property(key)) {
          fail(file, path, "tombsync owns this librdkafka property: " + std::string(owned->config_reason));
        }
        if (kafka.properties.count(key)) {
          fail(file, path, "is also set in kafka.properties; keep one of the two");
        }
        kafka.property_files[key] = nonempty(file, path, "a file path");
        kafka.properties[key] = file_content(file, path);
      }
    }
  }
  if (const Value* v = find(e, "connect_timeout_ms")) {
    kafka.connect_timeout_ms = integer(*v, "kafka.connect_timeout_ms", 100, 300000,
                                       "milliseconds");
  }
}

void Parser::parse_properties(const Value& at, std::map<std::string, std::string>& properties) {
  const YAML::Node& n = at.node;
  if (!mapping(at, "kafka.properties",
               "a mapping of librdkafka properties, e.g. { compression.type: zstd }")) {
    return;
  }
  for (const auto& [key, value] : entries(n, "kafka.properties", "properties", nullptr)) {
    const std::string path = "kafka.properties." + key;
    if (const OwnedProperty* owned = find_owned_property(key)) {
      fail(value, path, "tombsync owns this librdkafka property: " + std::string(owned->config_reason));
    }
    // Values are never echoed: sasl.password and ssl.key.password live here.
    properties[key] = scalar(value, path, "a string, number or boolean");
  }
}

void Parser::parse_log(const Value& at, Config::Log& log) {
  const YAML::Node& n = at.node;
  if (!mapping(at, "log", "a mapping with level and format")) return;
  const Keys keys(kLogKeys);
  const Entries e = entries(n, "log", "log", &keys);
  if (const Value* v = find(e, "level")) {
    static constexpr std::array<std::string_view, 4> kNames = {"debug", "info", "warn", "error"};
    log.level = std::string(kNames[one_of(*v, "log.level", kNames)]);
  }
  if (const Value* v = find(e, "format")) {
    static constexpr std::array<std::string_view, 2> kNames = {"text", "json"};
    log.format = std::string(kNames[one_of(*v, "log.format", kNames)]);
  }
}

// The daemon's own settings: HTTP endpoints, health thresholds, heartbeat,
// reconnection and snapshot parallelism.
void Parser::parse_runtime(const Entries& top, Config& config) {
  if (const Value* n = find(top, "snapshot_max_connections")) {
    config.snapshot_max_connections =
        integer(*n, "snapshot_max_connections", 1, 16, "tables snapshotted at once");
  }
  auto section = [&](std::string_view name, Keys keys) -> std::optional<Entries> {
    const Value* n = find(top, name);
    if (!n || !mapping(*n, std::string(name), "a mapping of " + join(keys))) return std::nullopt;
    return entries(n->node, std::string(name), name, &keys);
  };
  if (auto e = section("http", Keys(kHttpKeys))) {
    if (const Value* v = find(*e, "address")) {
      constexpr std::string_view kForm = "\"host:port\", e.g. \"0.0.0.0:9187\" (empty: no HTTP server)";
      config.http.address = scalar(*v, "http.address", kForm);
      const size_t colon = config.http.address.rfind(':');
      int port = -1;
      if (colon != std::string::npos) {
        const std::string_view p = std::string_view(config.http.address).substr(colon + 1);
        const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
        if (ec != std::errc() || end != p.data() + p.size()) port = -1;
      }
      if (!config.http.address.empty() && (port < 0 || port > 65535)) {
        fail(*v, "http.address", quote(config.http.address) + " is not valid; expected " + std::string(kForm));
      }
    }
  }
  if (auto e = section("health", Keys(kHealthKeys))) {
    if (const Value* v = find(*e, "max_lag_bytes")) config.health.max_lag_bytes = byte_size(*v, "health.max_lag_bytes");
    if (const Value* v = find(*e, "kafka_stall_ms")) {
      config.health.kafka_stall_ms = integer(*v, "health.kafka_stall_ms", 1000, 3600000, "milliseconds");
    }
  }
  if (auto e = section("heartbeat", Keys(kHeartbeatKeys))) {
    if (const Value* v = find(*e, "interval")) {
      config.heartbeat.interval_ms = duration_ms(*v, "heartbeat.interval", 24 * 3600 * 1000);
    }
  }
  if (auto e = section("reconnect", Keys(kReconnectKeys))) {
    if (const Value* v = find(*e, "initial_backoff_ms")) {
      config.reconnect.initial_backoff_ms = integer(*v, "reconnect.initial_backoff_ms", 10, 600000, "milliseconds");
    }
    if (const Value* v = find(*e, "max_backoff_ms")) {
      config.reconnect.max_backoff_ms = integer(*v, "reconnect.max_backoff_ms", 10, 3600000, "milliseconds");
    }
    if (const Value* v = find(*e, "max_attempts")) {
      config.reconnect.max_attempts = integer(*v, "reconnect.max_attempts", 0, 1000000, "0 retries forever");
    }
    if (config.reconnect.max_backoff_ms < config.reconnect.initial_backoff_ms) {
      fail(find(top, "reconnect")->mark, "reconnect", "max_backoff_ms is smaller than initial_backoff_ms");
    }
  }
}

// "1073741824", "512MiB", "1GiB", "100MB": a byte count for lag thresholds.
int64_t Parser::byte_size(const Value& at, const std::string& path) const {
  constexpr std::string_view kForm = "a byte count, e.g. 1073741824, 512MiB or 1GiB";
  const std::string s = nonempty(at, path, kForm);
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  const std::string_view unit(end, s.data() + s.size() - end);
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"", 1}, {"B", 1}, {"kB", 1000}, {"KiB", 1024}, {"MB", 1000000}, {"MiB", 1 << 20},
      {"GB", 1000000000}, {"GiB", int64_t{1} << 30}, {"TiB", int64_t{1} << 40}};
  if (ec == std::errc() && n > 0) {
    for (const auto& [name, mult] : kUnits) {
      if (unit == name && n <= (int64_t{1} << 62) / mult) return n * mult;
    }
  }
  fail(at, path, quote(s) + " is not a positive byte count; expected " + std::string(kForm));
}

// "500ms", "10s", "5m", "1h"; 0 turns the feature off.
int Parser::duration_ms(const Value& at, const std::string& path, int max_ms) const {
  constexpr std::string_view kForm = "a duration such as 500ms, 10s, 5m or 1h, or 0 for off";
  const std::string s = nonempty(at, path, kForm);
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  const std::string_view unit(end, s.data() + s.size() - end);
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
  if (ec == std::errc() && n == 0 && unit.empty()) return 0;
  if (ec == std::errc() && n > 0) {
    for (const auto& [name, mult] : kUnits) {
      if (unit == name) {
        if (n > max_ms / mult) break;
        if (n * mult < 100) fail(at, path, quote(s) + " is shorter than the minimum, 100ms");
        return static_cast<int>(n * mult);
      }
    }
  }
  fail(at, path, quote(s) + " is not valid; expected " + std::string(kForm) + " up to " +
                     std::to_string(max_ms / 1000) + "s");
}

// A secret mounted as a file (a Kubernetes Secret volume): its content without
// the trailing newline. The content is never echoed in messages.
std::string Parser::file_content(const Value& at, const std::string& path) const {
  const std::string file = scalar(at, path, "a file path");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f) fail(at, path, "cannot open " + quote(file) + ": " + std::strerror(errno));
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) text.append(buf, n);
  if (std::ferror(f.get())) fail(at, path, "cannot read " + quote(file) + ": " + std::strerror(errno));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) fail(at, path, quote(file) + " is empty");
  return text;
}

// A column name or a list of them, as Postgres identifiers (unquoted ones folded).
std::vector<std::string> Parser::column_list(const Value& at, const std::string& path) const {
  if (at.node.IsScalar()) {
    std::vector<std::string> parts;
    std::string why;
    const std::string text = nonempty(at, path, "a column name");
    if (!parse_identifiers(text, parts, why) || parts.size() != 1) {
      fail(at, path, quote(text) + " is not a valid column name" + (why.empty() ? "" : ": " + why));
    }
    return parts;
  }
  return key_columns(at, path);
}

// Checks that need more than one key: the derived topic (prefix + names) and
// the delete policy of keyless tables.
void Parser::check_tables(const Config& config) const {
  std::map<std::string, size_t> topics;  // topic -> first table index using it
  for (size_t i = 0; i < config.source.tables.size(); ++i) {
    const TableConfig& t = config.source.tables[i];
    const Value& node = table_nodes_[i];
    const std::string path = "source.tables[" + std::to_string(i) + "]";
    const std::string topic = config.topic_for(t);
    // One table per topic: keys of two tables could collide, and a restart tells records
    // already in Kafka apart by partition order, which two tables would interleave.
    if (auto [it, added] = topics.emplace(topic, i); !added) {
      fail(node, path, "the topic " + quote(topic) + " is also the topic of source.tables[" +
                           std::to_string(it->second) + "] (" +
                           config.source.tables[it->second].name.qualified() +
                           "); each table needs its own topic: set topic: for one of them");
    }
    if (!t.topic && !valid_topic(topic)) {
      fail(node, path, "the topic " + quote(topic) + " derived from kafka.topic_prefix and the " +
                           "table name is not a valid Kafka topic name (" +
                           std::string(kTopicForm) + "); set topic: for this table");
    }
    if (t.allow_keyless && config.deletes_for(t) != DeletePolicy::kFlag) {
      fail(node, path, t.name.qualified() + " is keyless (allow_keyless: true) and its delete " +
                           "policy is " + to_string(config.deletes_for(t)) + ", but a " +
                           "tombstone needs a key; set deletes: flag on this table");
    }
    if (t.allow_keyless && config.snapshot_for(t) != SnapshotMode::kNever) {
      fail(node, path, t.name.qualified() + " is keyless (allow_keyless: true), and a snapshot needs a " +
                           "key to page by and to reconcile with the stream; set snapshot: never on this " +
                           "table (its existing rows are then not sent, only its changes)");
    }
  }
}

}  // namespace

Config parse_config(const std::string& yaml_text, const std::string& origin) {
  return Parser(origin).parse(yaml_text);
}

Config load_config_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    throw Error(ErrorKind::kConfig,
                "config " + path + ": cannot open the file: " + std::strerror(errno));
  }
  std::string text;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file.get())) > 0) text.append(buf, n);
  // fread on a directory opens fine and fails here, with EISDIR.
  if (std::ferror(file.get())) {
    throw Error(ErrorKind::kConfig,
                "config " + path + ": cannot read the file: " + std::strerror(errno));
  }
  return parse_config(text, path);
}

}  // namespace tombsync
