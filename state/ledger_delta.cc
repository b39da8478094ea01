#include "state/ledger_delta.h"

namespace tombsync {

void LedgerDelta::put_varint(size_t len) {
  do {
    unsigned char b = len & 0x7f;
    len >>= 7;
    if (len != 0) b |= 0x80;
    bytes_.push_back(static_cast<char>(b));
  } while (len != 0);
}

void LedgerDelta::add(LedgerTableId table, Op op, std::string_view key, uint32_t mark, std::string_view row) {
  const bool with_row = op == Op::kPut && !row.empty();
  bytes_.push_back(static_cast<char>(static_cast<unsigned char>(op) | (mark != 0 ? kMarked : 0) |
                                     (with_row ? kWithRow : 0)));
  const uint32_t id = table.value();
  for (int i = 3; i >= 0; --i) bytes_.push_back(static_cast<char>((id >> (8 * i)) & 0xff));
  if (mark != 0)
    for (int i = 3; i >= 0; --i) bytes_.push_back(static_cast<char>((mark >> (8 * i)) & 0xff));
  put_varint(key.size());
  bytes_.append(key);
  if (with_row) {
    put_varint(row.size());
    bytes_.append(row);
  }
  ++entries_;
}

std::pair<LedgerTableId, std::string_view> LedgerDelta::key_at(size_t offset) const {
  if (offset >= bytes_.size()) return {LedgerTableId(0), {}};
  const auto tag = static_cast<unsigned char>(bytes_[offset]);
  uint32_t id = 0;
  for (size_t i = 1; i <= 4; ++i) id = (id << 8) | static_cast<unsigned char>(bytes_[offset + i]);
  size_t at = offset + 5 + ((tag & kMarked) != 0 ? 4 : 0);
  const size_t len = varint(at);
  return {LedgerTableId(id), std::string_view(bytes_).substr(at, len)};
}

std::string_view LedgerDelta::row_at(size_t offset) const {
  if (offset >= bytes_.size()) return {};
  const auto tag = static_cast<unsigned char>(bytes_[offset]);
  if ((tag & kWithRow) == 0) return {};
  size_t at = offset + 5 + ((tag & kMarked) != 0 ? 4 : 0);
  at += varint(at);
  const size_t row_len = varint(at);
  return std::string_view(bytes_).substr(at, row_len);
}

void LedgerDelta::append(const LedgerDelta& other) {
  bytes_.append(other.bytes_);
  entries_ += other.entries_;
}

void LedgerDelta::append(LedgerDelta&& other) {
  if (entries_ == 0) {  // the common case at a checkpoint: take the bytes, copy nothing
    bytes_ = std::move(other.bytes_);
    entries_ = other.entries_;
  } else {
    append(static_cast<const LedgerDelta&>(other));
  }
  other.clear();
}

void LedgerDelta::clear() {
  bytes_.clear();
  entries_ = 0;
}

}  // namespace tombsync
