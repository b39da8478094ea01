// How the config's error messages are worded. Every message is one line that names the key
// path and the expected form (config.h gives the whole format); these helpers make the parts:
// values quoted and escaped, key paths, the kind of a YAML node, and the hints: the cause
// behind a yaml-cpp syntax error, and "did you mean" for an unknown key (edit distance, common
// aliases, a known key in the wrong section). Private to tombsync_config; used by the parser.
// Pure functions: no I/O, no exceptions.
#pragma once

#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "agent/config/config_keys.h"

namespace tombsync::config_internal {

// A value inside a message: double-quoted, with quotes, backslashes and control
// characters escaped so a message always stays on one line, and cut when long.
std::string quote(std::string_view s);
// "a, b, c".
std::string join(Keys keys);
// "path.key", or "key" at the top level (empty path).
std::string child(const std::string& path, std::string_view key);
// "a scalar", "a list", "a mapping", "nothing": what was found where something else was expected.
const char* kind_name(const YAML::Node& n);

// " (a tab indents line 3; ...)" naming the likely cause of a yaml-cpp parse error at `mark`
// in `text`, or "" when none is recognised.
std::string yaml_hint(const std::string& text, const YAML::Mark& mark, const std::string& msg);

// The message for `key`, not among the `allowed` keys of the mapping at `path`. `section` is
// the mapping's section name ("" for the top level, "table" for any source.tables[i],
// "properties" where no suggestion applies).
std::string unknown_key_message(const std::string& path, std::string_view section, Keys allowed,
                                const std::string& key);

}  // namespace tombsync::config_internal
