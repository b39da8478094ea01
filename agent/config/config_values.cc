// The Parser's readers of single values (see config_parser.h): fail(), the keys of a mapping,
// and typed scalars: ${VAR} expansion, strings, integers in a range, YAML 1.2 booleans, one name
// out of a list, byte sizes, durations, and the content of a secret file. Each returns a valid
// value or fails naming the key path and the expected form; none echoes a value it was not
// asked to quote (secrets pass through scalar() and file_content()).
#include "agent/config/config_parser.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "agent/config/config_messages.h"
#include "agent/config/config_names.h"
#include "agent/config/secret_files.h"
#include "base/error.h"
#include "base/small_file.h"

namespace tombsync::config_internal {

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

OversizedPolicy Parser::oversized_policy(const Value& at, const std::string& path) const {
  static constexpr std::array<std::string_view, 3> kNames = {"fail", "truncate_column", "skip_column"};
  return static_cast<OversizedPolicy>(one_of(at, path, kNames));
}

LedgerMode Parser::ledger_mode(const Value& at, const std::string& path) const {
  static constexpr std::array<std::string_view, 3> kNames = {"none", "keys", "rows"};
  return static_cast<LedgerMode>(one_of(at, path, kNames));
}

TruncateMode Parser::truncate_mode(const Value& at, const std::string& path) const {
  static constexpr std::array<std::string_view, 2> kNames = {"expand", "event"};
  return static_cast<TruncateMode>(one_of(at, path, kNames));
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
  std::string why;
  std::optional<std::string> read = read_secret_file(file, why);  // the rule every later read applies
  if (!read) fail(at, path, why);
  return std::move(*read);
}

}  // namespace tombsync::config_internal
