#include "base/error.h"

namespace tombsync {

std::string printable_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7F) {
      out.push_back(ch);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConfig: return "config";
    case ErrorKind::kSource: return "source";
    case ErrorKind::kProtocol: return "protocol";
    case ErrorKind::kSink: return "sink";
    case ErrorKind::kState: return "state";
    case ErrorKind::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace tombsync
