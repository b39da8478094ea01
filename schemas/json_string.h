// Writing a JSON string literal (RFC 8259 section 7) straight into a buffer:
// the hot path of the JSON encoder, so no DOM and no per-character appends.
#pragma once

#include <string>
#include <string_view>

namespace tombsync {

// Appends `text` as a quoted JSON string. Escapes '"', '\\' and every control
// character below 0x20 (\b \f \n \r \t, others as \u00XX); passes well-formed
// UTF-8 through unchanged (no \u escapes for non-ASCII, so output stays
// compact); replaces each byte that does not begin well-formed UTF-8 with U+FFFD
// (see utf8.h), so the result is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

}  // namespace tombsync
