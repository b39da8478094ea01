// Base64 (RFC 4648 section 4: standard alphabet, '=' padding, no line breaks),
// the form bytea values take in the JSON encoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tombsync {

std::string base64_encode(std::string_view bytes);
void append_base64(std::string& out, std::string_view bytes);

// Strict inverse of base64_encode: nullopt on a length that is not a multiple
// of 4, a character outside the alphabet, misplaced padding, or non-zero
// padding bits (so every byte string has exactly one accepted encoding).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace tombsync
