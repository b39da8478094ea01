// The fuzz input's framing: a sequence of replication frames (CopyData payloads), each written
// as a 2-byte big-endian length and then that many bytes. A last frame cut short by the end of
// the input is taken as it is, so every byte string is a valid input. tests/fuzz/make-corpus
// writes the seed corpus in this form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tombsync::fuzz {

class FrameReader {
 public:
  explicit FrameReader(std::span<const uint8_t> input) : input_(input) {}

  // The next frame, or false at the end of the input. A frame may be empty.
  bool next(std::span<const uint8_t>& frame) {
    if (input_.size() < 2) return false;
    size_t len = (size_t{input_[0]} << 8) | input_[1];
    input_ = input_.subspan(2);
    if (len > input_.size()) len = input_.size();
    frame = input_.first(len);
    input_ = input_.subspan(len);
    return true;
  }

 private:
  std::span<const uint8_t> input_;
};

}  // namespace tombsync::fuzz
