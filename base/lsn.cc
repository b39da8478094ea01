#include "base/lsn.h"

#include <charconv>

namespace tombsync {

std::string Lsn::str() const {
  char buf[32];
  auto hi = static_cast<uint32_t>(v_ >> 32);
  auto lo = static_cast<uint32_t>(v_);
  auto* p = std::to_chars(buf, buf + sizeof buf, hi, 16).ptr;
  *p++ = '/';
  p = std::to_chars(p, buf + sizeof buf, lo, 16).ptr;
  std::string out(buf, p);
  for (auto& c : out) c = static_cast<char>(c >= 'a' && c <= 'f' ? c - 'a' + 'A' : c);
  return out;
}

std::optional<Lsn> Lsn::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= text.size()) return std::nullopt;
  uint32_t hi = 0, lo = 0;
  auto h = std::from_chars(text.data(), text.data() + slash, hi, 16);
  if (h.ec != std::errc() || h.ptr != text.data() + slash) return std::nullopt;
  auto l = std::from_chars(text.data() + slash + 1, text.data() + text.size(), lo, 16);
  if (l.ec != std::errc() || l.ptr != text.data() + text.size()) return std::nullopt;
  return Lsn((static_cast<uint64_t>(hi) << 32) | lo);
}

}  // namespace tombsync
