// A bounds-checked reader of big-endian (network order) values over one
// message's bytes, as the Postgres wire protocol sends them.
//
// Contract: every read checks the remaining length first; there is no
// unchecked access. A short read throws tombsync::Error(kProtocol) whose
// message says what was being read, its wire type and the offset within the
// message, e.g. "relation id (Int32) at offset 1: needs 4 bytes, 2 remain".
// The caller adds the context it knows (LSN, message type, column) by
// catching and rethrowing. `what` names are expected to be string literals.
//
// The reader does not own the bytes: the span must outlive the reader and
// every span returned by bytes() or rest(). Single-threaded, like the
// message it reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/error.h"
#include "base/lsn.h"

namespace tombsync::pg {

class WireReader {
 public:
  explicit WireReader(std::span<const uint8_t> data) : data_(data) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }

  uint8_t u8(std::string_view what) { return static_cast<uint8_t>(be(1, what, "Int8")); }
  int16_t i16(std::string_view what) { return static_cast<int16_t>(be(2, what, "Int16")); }
  int32_t i32(std::string_view what) { return static_cast<int32_t>(be(4, what, "Int32")); }
  uint32_t u32(std::string_view what) { return static_cast<uint32_t>(be(4, what, "Int32")); }
  int64_t i64(std::string_view what) { return static_cast<int64_t>(be(8, what, "Int64")); }
  Lsn lsn(std::string_view what) { return Lsn(be(8, what, "Int64")); }

  // A NUL-terminated string (the protocol's "String"); the NUL is consumed
  // and not returned.
  std::string cstring(std::string_view what) {
    // memchr must not see a null pointer, even with a zero length.
    const uint8_t* start = data_.data() + pos_;
    const auto* nul = at_end() ? nullptr
                               : static_cast<const uint8_t*>(std::memchr(start, 0, remaining()));
    if (nul == nullptr) {
      throw Error(ErrorKind::kProtocol,
                  fmt::format("{} (String) at offset {}: no NUL terminator in the {} remaining {}",
                              what, pos_, remaining(), plural_bytes(remaining())));
    }
    std::string out(reinterpret_cast<const char*>(start), static_cast<size_t>(nul - start));
    pos_ += out.size() + 1;
    return out;
  }

  // `n` bytes whose length the message declared just before them.
  std::span<const uint8_t> bytes(size_t n, std::string_view what) {
    if (n > remaining()) {
      throw Error(ErrorKind::kProtocol,
                  fmt::format("{} at offset {}: declared length {} exceeds the {} remaining {}",
                              what, pos_, n, remaining(), plural_bytes(remaining())));
    }
    auto out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  // Everything not yet read (possibly empty); the reader is then at its end.
  std::span<const uint8_t> rest() {
    auto out = data_.subspan(pos_);
    pos_ = data_.size();
    return out;
  }

  // A message must be consumed exactly: bytes after its last field mean the
  // sender and tombsync disagree about the format, so nothing is trusted.
  void expect_end(std::string_view what) const {
    if (!at_end()) {
      throw Error(ErrorKind::kProtocol,
                  fmt::format("trailing garbage at offset {}: {} {} after the end of the {}",
                              pos_, remaining(), plural_bytes(remaining()), what));
    }
  }

 private:
  uint64_t be(size_t n, std::string_view what, std::string_view wire_type) {
    if (n > remaining()) {
      throw Error(ErrorKind::kProtocol,
                  fmt::format("{} ({}) at offset {}: needs {} {}, {} remain", what, wire_type,
                              pos_, n, plural_bytes(n), remaining()));
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | data_[pos_ + i];
    pos_ += n;
    return v;
  }

  static const char* plural_bytes(size_t n) { return n == 1 ? "byte" : "bytes"; }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// A protocol byte for an error message: "'U' (0x55)" when printable, else
// "0x01", so a binary byte never garbles the operator's log line.
inline std::string describe_byte(uint8_t b) {
  if (b >= 0x20 && b < 0x7f) return fmt::format("'{}' (0x{:02X})", static_cast<char>(b), b);
  return fmt::format("0x{:02X}", b);
}

}  // namespace tombsync::pg
