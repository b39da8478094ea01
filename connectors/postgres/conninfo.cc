// The libpq connection string scanner (see conninfo.h): conninfo pairs, the URI scheme, and
// the syntax check the config applies to source.dsn.
#include "connectors/postgres/conninfo.h"

#include <algorithm>
#include <cctype>

namespace tombsync::pg {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ci(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace

size_t scan_conninfo(std::string_view s, std::vector<ConninfoPair>& pairs) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  size_t i = 0;
  while (true) {
    while (i < s.size() && space(s[i])) ++i;
    if (i == s.size()) return std::string_view::npos;
    const size_t key_begin = i;
    while (i < s.size() && s[i] != '=' && !space(s[i])) ++i;
    ConninfoPair pair;
    pair.key = s.substr(key_begin, i - key_begin);
    while (i < s.size() && space(s[i])) ++i;
    if (i == s.size() || s[i] != '=' || pair.key.empty()) return key_begin;
    ++i;
    while (i < s.size() && space(s[i])) ++i;
    pair.value_begin = i;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          i += 2;
        } else if (s[i] == '\'') {
          ++i;
          closed = true;
          break;
        } else {
          ++i;
        }
      }
      pair.value_end = i;
      pairs.push_back(pair);
      if (!closed) return pair.value_begin;
    } else {
      while (i < s.size() && !space(s[i])) i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      pair.value_end = i;
      pairs.push_back(pair);
    }
  }
}

size_t uri_prefix_length(std::string_view dsn) {
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (dsn.size() >= scheme.size() && equals_ci(dsn.substr(0, scheme.size()), scheme)) {
      return scheme.size();
    }
  }
  return 0;
}

DsnCheck check_dsn(std::string_view dsn) {
  if (uri_prefix_length(dsn) > 0) return {};
  std::vector<ConninfoPair> pairs;
  const size_t bad = scan_conninfo(dsn, pairs);
  if (bad != std::string_view::npos) return {DsnProblem::kSyntax, bad};
  if (pairs.empty()) return {DsnProblem::kBlank, 0};
  return {};
}

}  // namespace tombsync::pg
