// Name syntax (see config_names.h): Postgres identifiers, Kafka topics, environment variables.
#include "agent/config/config_names.h"

#include <algorithm>

#include "agent/config/config_messages.h"

namespace tombsync::config_internal {

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

}  // namespace tombsync::config_internal
