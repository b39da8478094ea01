// Lower-case hex of bytes, and back: for names that may hold any byte (table names in file
// names, keys in progress files and test output). Any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tombsync {

std::string to_hex(std::string_view bytes);
// Unset when `text` is not an even number of lower-case hex digits.
std::optional<std::string> from_hex(std::string_view text);

}  // namespace tombsync
