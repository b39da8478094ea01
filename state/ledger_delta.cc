#include "state/ledger_delta.h"

namespace tombsync {

void LedgerDelta::add(LedgerTableId table, Op op, std::string_view key, uint32_t mark) {
  bytes_.push_back(static_cast<char>(static_cast<unsigned char>(op) | (mark != 0 ? kMarked : 0)));
  const uint32_t id = table.value();
  for (int i = 3; i >= 0; --i) bytes_.push_back(static_cast<char>((id >> (8 * i)) & 0xff));
  if (mark != 0)
    for (int i = 3; i >= 0; --i) bytes_.push_back(static_cast<char>((mark >> (8 * i)) & 0xff));
  size_t len = key.size();
  do {
    unsigned char b = len & 0x7f;
    len >>= 7;
    if (len != 0) b |= 0x80;
    bytes_.push_back(static_cast<char>(b));
  } while (len != 0);
  bytes_.append(key);
  ++entries_;
  if (op == Op::kClear) has_clear_ = true;
}

void LedgerDelta::append(const LedgerDelta& other) {
  bytes_.append(other.bytes_);
  entries_ += other.entries_;
  has_clear_ = has_clear_ || other.has_clear_;
}

void LedgerDelta::append(LedgerDelta&& other) {
  if (entries_ == 0) {  // the common case at a checkpoint: take the bytes, copy nothing
    bytes_ = std::move(other.bytes_);
    entries_ = other.entries_;
    has_clear_ = other.has_clear_;
  } else {
    append(static_cast<const LedgerDelta&>(other));
  }
  other.clear();
}

void LedgerDelta::clear() {
  bytes_.clear();
  entries_ = 0;
  has_clear_ = false;
}

}  // namespace tombsync
