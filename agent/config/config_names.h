// The syntax of the names a config file holds: Postgres identifiers (tables, columns), Kafka
// topic names and environment variable names, with ASCII character classes that, unlike
// <cctype>, do not depend on the locale. Private to tombsync_config; used by the parser.
// Pure functions: no I/O, no exceptions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tombsync::config_internal {

inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }


// A Postgres name list ("public.users", 'public."Order Items"'), read as SQL
// reads it: unquoted names fold to lower case, double-quoted ones are kept.
// Appends the names to `parts`; on failure, `why` says what is wrong.
bool parse_identifiers(std::string_view s, std::vector<std::string>& parts, std::string& why);

// A legal Kafka topic name: 1 to 249 characters from [A-Za-z0-9._-], not "." or "..".
bool valid_topic(std::string_view t);

// [A-Za-z_][A-Za-z0-9_]*: a name ${VAR} may refer to.
bool valid_env_name(std::string_view name);

}  // namespace tombsync::config_internal
