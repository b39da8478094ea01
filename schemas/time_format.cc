#include "schemas/time_format.h"

#include <charconv>

namespace tombsync {
namespace {

constexpr int64_t kUsPerDay = 86'400'000'000;
constexpr int64_t kDaysPer400Years = 146'097;
// Days from 0000-03-01 (the start of a 400-year era counted from March, so the
// leap day falls at the end of the year) to 1970-01-01.
constexpr int64_t kEraStartToUnixEpoch = 719'468;

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b < 0) ? q - 1 : q;
}

// Appends `value` (>= 0) zero-padded to at least `width` digits.
void append_padded(std::string& out, uint64_t value, int width) {
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
  for (auto n = end - buf; n < width; ++n) out.push_back('0');
  out.append(buf, end);
}

}  // namespace

bool is_leap_year(int64_t year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

unsigned days_in_month(int64_t year, unsigned month) {
  static constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && is_leap_year(year)) return 29;
  return month >= 1 && month <= 12 ? kDays[month - 1] : 0;
}

// Counting years from March makes every month but February a fixed length
// pattern (31,30,31,30,31 repeating), so day-of-year is a linear formula.
int64_t days_from_civil(const CivilDate& date) {
  const int64_t y = date.year - (date.month <= 2 ? 1 : 0);
  const int64_t era = floor_div(y, 400);
  const int64_t year_of_era = y - era * 400;  // 0..399
  const int64_t month_from_march = date.month > 2 ? date.month - 3 : date.month + 9;  // 0..11
  const int64_t day_of_year = (153 * month_from_march + 2) / 5 + date.day - 1;  // 0..365
  const int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;  // 0..146096
  return era * kDaysPer400Years + day_of_era - kEraStartToUnixEpoch;
}

CivilDate civil_from_days(int64_t days) {
  const int64_t z = days + kEraStartToUnixEpoch;
  const int64_t era = floor_div(z, kDaysPer400Years);
  const int64_t day_of_era = z - era * kDaysPer400Years;  // 0..146096
  // Undo the leap-day corrections (every 4th year, not every 100th, every 400th).
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t month_from_march = (5 * day_of_year + 2) / 153;  // 0..11
  CivilDate date;
  date.day = static_cast<unsigned>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  date.month = static_cast<unsigned>(month_from_march < 10 ? month_from_march + 3
                                                           : month_from_march - 9);
  date.year = year_of_era + era * 400 + (date.month <= 2 ? 1 : 0);
  return date;
}

void append_iso_year(std::string& out, int64_t year) {
  if (year < 0) {
    out.push_back('-');
    append_padded(out, static_cast<uint64_t>(-(year + 1)) + 1, 4);  // safe for INT64_MIN
  } else if (year > 9999) {
    out.push_back('+');
    append_padded(out, static_cast<uint64_t>(year), 4);
  } else {
    append_padded(out, static_cast<uint64_t>(year), 4);
  }
}

void append_utc_micros(std::string& out, int64_t epoch_us) {
  int64_t day = epoch_us / kUsPerDay;
  int64_t us_of_day = epoch_us % kUsPerDay;
  if (us_of_day < 0) {  // floor, without the overflow of day * kUsPerDay at INT64_MIN
    us_of_day += kUsPerDay;
    --day;
  }
  const CivilDate date = civil_from_days(day);
  const auto secs = static_cast<uint64_t>(us_of_day / 1'000'000);
  append_iso_year(out, date.year);
  out.push_back('-');
  append_padded(out, date.month, 2);
  out.push_back('-');
  append_padded(out, date.day, 2);
  out.push_back('T');
  append_padded(out, secs / 3600, 2);
  out.push_back(':');
  append_padded(out, secs / 60 % 60, 2);
  out.push_back(':');
  append_padded(out, secs % 60, 2);
  out.push_back('.');
  append_padded(out, static_cast<uint64_t>(us_of_day % 1'000'000), 6);
  out.push_back('Z');
}

std::string format_utc_micros(int64_t epoch_us) {
  std::string out;
  out.reserve(28);
  append_utc_micros(out, epoch_us);
  return out;
}

}  // namespace tombsync
