// Message wording and hints (see config_messages.h).
#include "agent/config/config_messages.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

#include "agent/config/config_names.h"

namespace tombsync::config_internal {
namespace {

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

}  // namespace

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

std::string unknown_key_message(const std::string& path, std::string_view section, Keys allowed,
                                const std::string& key) {
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

}  // namespace tombsync::config_internal
