#include "schemas/stream_position.h"

#include <algorithm>

namespace tombsync {
namespace {
__extension__ typedef unsigned __int128 U128;  // GCC and Clang; -Wpedantic otherwise refuses it
}  // namespace

void append_stream_position(std::string& out, Lsn commit_lsn, uint32_t seq) {
  U128 v = (static_cast<U128>(commit_lsn.value()) << 32) | seq;
  char digits[40];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  } while (v != 0);
  std::reverse(digits, digits + n);
  out.append(digits, n);
}

std::string stream_position(Lsn commit_lsn, uint32_t seq) {
  std::string out;
  append_stream_position(out, commit_lsn, seq);
  return out;
}

}  // namespace tombsync
