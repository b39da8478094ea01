#include "schemas/stream_position.h"

#include <charconv>

namespace tombsync {
namespace {
__extension__ typedef unsigned __int128 U128;  // GCC and Clang; -Wpedantic otherwise refuses it
constexpr uint64_t kTen19 = 10000000000000000000ULL;
}  // namespace

// Hot path (every record): one 128-bit division, then two 64-bit conversions.
void append_stream_position(std::string& out, Lsn commit_lsn, uint32_t seq) {
  const U128 v = (static_cast<U128>(commit_lsn.value()) << 32) | seq;
  const auto high = static_cast<uint64_t>(v / kTen19);  // < 2^96 / 10^19: fits
  const auto low = static_cast<uint64_t>(v % kTen19);
  char buf[48];
  char* end = buf;
  if (high != 0) {
    end = std::to_chars(buf, buf + 20, high).ptr;
    char digits[20];
    char* d_end = std::to_chars(digits, digits + 20, low).ptr;
    const auto n = static_cast<size_t>(d_end - digits);
    for (size_t i = n; i < 19; ++i) *end++ = '0';  // low is 19 digits wide below a high part
    for (size_t i = 0; i < n; ++i) *end++ = digits[i];
  } else {
    end = std::to_chars(buf, buf + 20, low).ptr;
  }
  out.append(buf, static_cast<size_t>(end - buf));
}

std::string stream_position(Lsn commit_lsn, uint32_t seq) {
  std::string out;
  append_stream_position(out, commit_lsn, seq);
  return out;
}

}  // namespace tombsync
