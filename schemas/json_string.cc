#include "schemas/json_string.h"

#include <array>
#include <cstdint>

#include "schemas/utf8.h"

namespace tombsync {
namespace {

enum : uint8_t { kPlain = 0, kEscape = 1, kNonAscii = 2 };

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = kEscape;
  table['"'] = kEscape;
  table['\\'] = kEscape;
  for (int c = 0x80; c < 0x100; ++c) table[c] = kNonAscii;
  return table;
}
constexpr std::array<uint8_t, 256> kClass = make_classes();

void append_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '"': out.append("\\\""); return;
    case '\\': out.append("\\\\"); return;
    case '\b': out.append("\\b"); return;
    case '\f': out.append("\\f"); return;
    case '\n': out.append("\\n"); return;
    case '\r': out.append("\\r"); return;
    case '\t': out.append("\\t"); return;
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(esc, sizeof esc);
    }
  }
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  const auto* run = p;  // start of bytes that are copied verbatim
  while (p < end) {
    const uint8_t cls = kClass[*p];
    if (cls == kPlain) {
      ++p;
      continue;
    }
    if (cls == kNonAscii) {
      const size_t len = utf8_sequence_length(p, end);
      if (len != 0) {
        p += len;
        continue;
      }
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    if (cls == kEscape) {
      append_escape(out, *p);
    } else {
      out.append(kUtf8Replacement);
    }
    run = ++p;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
  out.push_back('"');
}

}  // namespace tombsync
