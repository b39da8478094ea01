// UTF-8 well-formedness (RFC 3629: no overlongs, no surrogates, nothing past
// U+10FFFF). JSON and proto3 `string` fields must be valid UTF-8; text from a
// SQL_ASCII database may not be. Encoders repair such text rather than emit a
// message that consumers cannot parse: each byte that does not begin a
// well-formed sequence becomes U+FFFD (the Unicode replacement character).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tombsync {

inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";  // U+FFFD

// Length (1..4) of the well-formed sequence starting at `p`, or 0 if there is none.
// Requires p < end.
size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end);

bool is_valid_utf8(std::string_view text);
std::string to_valid_utf8(std::string_view text);

}  // namespace tombsync
