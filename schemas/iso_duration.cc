#include "schemas/iso_duration.h"

namespace tombsync {
namespace {

constexpr size_t kMaxDigits = 10;

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const { return i_ == s_.size(); }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  // A signed number of 1..kMaxDigits digits, or nullopt (nothing consumed then
  // only when no sign and no digit was there).
  std::optional<int64_t> number(bool& negative) {
    negative = eat('-');
    const size_t start = i_;
    int64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (i_ - start == kMaxDigits) return std::nullopt;
      v = v * 10 + (s_[i_++] - '0');
    }
    if (i_ == start) return std::nullopt;
    return negative ? -v : v;
  }
  // 1..6 fraction digits as microseconds ("65" -> 650000).
  std::optional<int64_t> fraction() {
    const size_t start = i_;
    int64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (i_ - start == 6) return std::nullopt;
      v = v * 10 + (s_[i_++] - '0');
    }
    const size_t n = i_ - start;
    if (n == 0) return std::nullopt;
    for (size_t k = n; k < 6; ++k) v *= 10;
    return v;
  }
  bool at_digit_or_sign() const {
    return i_ < s_.size() && (s_[i_] == '-' || (s_[i_] >= '0' && s_[i_] <= '9'));
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// Reads "<number><unit>" for the next of `units` (in order) that matches;
// `slots` receive the values. Returns the count of parts read, or -1 on a
// malformed part. Seconds (unit 'S' in the time part) may carry a fraction.
int read_parts(Cursor& c, std::string_view units, int64_t* const* slots, int64_t* micros) {
  int read = 0;
  size_t next = 0;
  while (c.at_digit_or_sign()) {
    bool negative = false;
    auto n = c.number(negative);
    if (!n) return -1;
    int64_t fraction = 0;
    bool has_fraction = false;
    if (micros != nullptr && c.eat('.')) {
      auto f = c.fraction();
      if (!f) return -1;
      fraction = negative ? -*f : *f;
      has_fraction = true;
    }
    size_t u = next;
    while (u < units.size() && !c.eat(units[u])) ++u;
    if (u == units.size()) return -1;
    if (has_fraction && units[u] != 'S') return -1;
    *slots[u] = *n;
    if (has_fraction) *micros = fraction;
    next = u + 1;
    ++read;
  }
  return read;
}

}  // namespace

std::optional<IsoDuration> parse_iso_duration(std::string_view text) {
  IsoDuration d;
  Cursor c(text);
  if (!c.eat('P')) return std::nullopt;
  int64_t* const date_slots[] = {&d.years, &d.months, &d.days};
  const int date_parts = read_parts(c, "YMD", date_slots, nullptr);
  if (date_parts < 0) return std::nullopt;
  int time_parts = 0;
  if (c.eat('T')) {
    int64_t* const time_slots[] = {&d.hours, &d.minutes, &d.seconds};
    time_parts = read_parts(c, "HMS", time_slots, &d.micros);
    if (time_parts <= 0) return std::nullopt;  // "T" with nothing after it
  }
  if (!c.done() || date_parts + time_parts == 0) return std::nullopt;
  return d;
}

}  // namespace tombsync
