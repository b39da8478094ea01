#include "connectors/postgres/type_mapping.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "base/error.h"
#include "schemas/iso_duration.h"
#include "schemas/time_format.h"

namespace tombsync::pg {
namespace {

// ---- errors ---------------------------------------------------------------

constexpr size_t kShownValueBytes = 64;

// The value as an error message shows it: at most 64 bytes (not cutting a UTF-8
// character), control characters as '?', so one bad row cannot flood a log.
std::string shown_value(std::string_view text) {
  size_t n = text.size();
  if (n > kShownValueBytes) {
    n = kShownValueBytes;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  }
  std::string out;
  out.reserve(n + 32);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out.push_back(c < 0x20 || c == 0x7F ? '?' : static_cast<char>(c));
  }
  if (n < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

[[noreturn]] void invalid(ColumnType type, std::string_view text, std::string_view why = {}) {
  std::string msg = "invalid ";
  msg += to_string(type);
  msg += " value \"";
  msg += shown_value(text);
  msg += '"';
  if (!why.empty()) {
    msg += ": ";
    msg += why;
  }
  throw Error(ErrorKind::kProtocol, msg);
}

// ---- scanning ---------------------------------------------------------------

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A forward-only reader over one value's text; every method fails (returns
// false/nullopt) rather than reading past the end.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool done() const { return pos_ == text_.size(); }
  size_t pos() const { return pos_; }

  bool eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool eat(std::string_view s) {
    if (text_.substr(pos_, s.size()) == s) {
      pos_ += s.size();
      return true;
    }
    return false;
  }
  // Skips a run of digits; false if there is none.
  bool skip_digits() {
    const size_t start = pos_;
    while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
    return pos_ > start;
  }
  // Exactly `count` digits.
  std::optional<int64_t> fixed_digits(size_t count) { return digits(count, count); }
  // Between min and max digits (as many as there are, up to max); max <= 18 so
  // the value always fits.
  std::optional<int64_t> digits(size_t min, size_t max) {
    if (max > 18) max = 18;
    size_t n = 0;
    int64_t v = 0;
    while (n < max && pos_ + n < text_.size() && is_digit(text_[pos_ + n])) {
      v = v * 10 + (text_[pos_ + n] - '0');
      ++n;
    }
    if (n < min) return std::nullopt;
    pos_ += n;
    return v;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// ---- numbers ---------------------------------------------------------------

Datum present() {
  Datum d;
  d.state = Datum::State::kPresent;
  return d;
}

Datum decode_int(ColumnType type, std::string_view text, int64_t min, int64_t max) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec == std::errc::result_out_of_range) invalid(type, text, "out of range");
  if (ec != std::errc() || ptr != end) invalid(type, text);
  if (v < min || v > max) invalid(type, text, "out of range");
  Datum d = present();
  d.i = v;
  return d;
}

Datum decode_float(ColumnType type, std::string_view text) {
  Datum d = present();
  d.text = std::string(text);
  if (text == "NaN") {
    d.d = std::numeric_limits<double>::quiet_NaN();
  } else if (text == "Infinity") {
    d.d = std::numeric_limits<double>::infinity();
  } else if (text == "-Infinity") {
    d.d = -std::numeric_limits<double>::infinity();
  } else {
    // from_chars also takes "inf"/"nan" spellings; Postgres never prints them, so
    // a non-finite result here means the text is not what Postgres sends.
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, d.d);
    if (ec != std::errc() || ptr != end || !std::isfinite(d.d)) invalid(type, text);
  }
  return d;
}

// Postgres prints numeric as [-]digits[.digits], or NaN / Infinity / -Infinity.
Datum decode_numeric(std::string_view text) {
  if (text != "NaN" && text != "Infinity" && text != "-Infinity") {
    Cursor c(text);
    c.eat('-');
    bool ok = c.skip_digits();
    if (ok && c.eat('.')) ok = c.skip_digits();
    if (!ok || !c.done()) invalid(ColumnType::kNumeric, text);
  }
  Datum d = present();
  d.text = std::string(text);
  return d;
}

// ---- dates and times ----------------------------------------------------------

// "YYYY-MM-DD", four or more year digits as Postgres prints them. The year is
// as printed (1 and up); the " BC" suffix comes at the very end of a
// timestamp, after the time and offset, so finish_date() applies it.
struct DateParts {
  CivilDate date;
  bool ok = false;
};

DateParts parse_date(Cursor& c) {
  DateParts out;
  auto year = c.digits(4, 9);
  if (!year || !c.eat('-')) return out;
  auto month = c.fixed_digits(2);
  if (!month || !c.eat('-')) return out;
  auto day = c.fixed_digits(2);
  if (!day || *year == 0 || *month < 1 || *month > 12 || *day < 1) return out;
  out.date = CivilDate{*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day)};
  out.ok = true;
  return out;
}

// Applies the era suffix and checks the day against the (proleptic Gregorian)
// month length, which depends on the astronomical year.
bool finish_date(Cursor& c, CivilDate& date) {
  if (c.eat(" BC")) date.year = 1 - date.year;
  return date.day <= days_in_month(date.year, date.month);
}

void append_date(std::string& out, const CivilDate& date) {
  append_iso_year(out, date.year);
  char buf[6] = {'-', static_cast<char>('0' + date.month / 10),
                 static_cast<char>('0' + date.month % 10), '-',
                 static_cast<char>('0' + date.day / 10), static_cast<char>('0' + date.day % 10)};
  out.append(buf, sizeof buf);
}

struct TimeParts {
  int64_t hour = 0, minute = 0, second = 0;
  std::string_view fraction;  // the digits after '.', as given (may be empty)
  bool ok = false;
};

TimeParts parse_time(Cursor& c, std::string_view text, int64_t max_hour) {
  TimeParts t;
  auto h = c.fixed_digits(2);
  if (!h || !c.eat(':')) return t;
  auto m = c.fixed_digits(2);
  if (!m || !c.eat(':')) return t;
  auto s = c.fixed_digits(2);
  if (!s) return t;
  if (c.eat('.')) {
    const size_t start = c.pos();
    if (!c.digits(1, 6)) return t;
    t.fraction = text.substr(start, c.pos() - start);
  }
  t.hour = *h;
  t.minute = *m;
  t.second = *s;
  t.ok = t.hour <= max_hour && t.minute <= 59 && t.second <= 59;
  return t;
}

void append_two(std::string& out, int64_t v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

void append_time(std::string& out, const TimeParts& t) {
  append_two(out, t.hour);
  out.push_back(':');
  append_two(out, t.minute);
  out.push_back(':');
  append_two(out, t.second);
  if (!t.fraction.empty()) {
    out.push_back('.');
    out.append(t.fraction);
  }
}

bool is_infinity(std::string_view text) { return text == "infinity" || text == "-infinity"; }

Datum decode_date(std::string_view text) {
  Datum d = present();
  if (is_infinity(text)) {
    d.text = std::string(text);
    return d;
  }
  Cursor c(text);
  DateParts p = parse_date(c);
  if (!p.ok || !finish_date(c, p.date) || !c.done()) invalid(ColumnType::kDate, text);
  append_date(d.text, p.date);
  return d;
}

Datum decode_time(std::string_view text) {
  Cursor c(text);
  TimeParts t = parse_time(c, text, 24);  // time allows 24:00:00
  if (!t.ok || !c.done() || (t.hour == 24 && (t.minute || t.second || !t.fraction.empty()))) {
    invalid(ColumnType::kTime, text);
  }
  Datum d = present();
  d.text = std::string(text);
  return d;
}

// timestamptz "YYYY-MM-DD HH:MM:SS[.f]±HH[:MM[:SS]][ BC]", timestamp the same
// without the offset.
Datum decode_timestamp(ColumnType type, std::string_view text) {
  Datum d = present();
  if (is_infinity(text)) {
    d.text = std::string(text);
    return d;
  }
  const bool with_zone = type == ColumnType::kTimestampTz;
  Cursor c(text);
  DateParts p = parse_date(c);
  if (!p.ok || !c.eat(' ')) invalid(type, text);
  TimeParts t = parse_time(c, text, 23);
  if (!t.ok) invalid(type, text);
  int64_t offset_s = 0;
  if (with_zone) {
    int64_t sign = c.eat('+') ? 1 : c.eat('-') ? -1 : 0;
    auto oh = c.fixed_digits(2);
    if (sign == 0 || !oh) invalid(type, text, "expected a UTC offset");
    int64_t om = 0, os = 0;
    if (c.eat(':')) {
      auto m = c.fixed_digits(2);
      if (!m) invalid(type, text);
      om = *m;
      if (c.eat(':')) {
        auto s = c.fixed_digits(2);
        if (!s) invalid(type, text);
        os = *s;
      }
    }
    if (om > 59 || os > 59) invalid(type, text);
    offset_s = sign * (*oh * 3600 + om * 60 + os);
  }
  if (!finish_date(c, p.date) || !c.done()) invalid(type, text);

  if (offset_s != 0) {
    // Not expected with TimeZone=UTC, but a local time plus its offset is still
    // an exact instant: convert rather than mislabel it as UTC.
    int64_t secs = days_from_civil(p.date) * 86'400 + t.hour * 3600 + t.minute * 60 + t.second -
                   offset_s;
    int64_t days = secs / 86'400;
    int64_t sod = secs % 86'400;
    if (sod < 0) {
      sod += 86'400;
      --days;
    }
    p.date = civil_from_days(days);
    t.hour = sod / 3600;
    t.minute = sod / 60 % 60;
    t.second = sod % 60;
  }
  d.text.reserve(text.size() + 2);
  append_date(d.text, p.date);
  d.text.push_back('T');
  append_time(d.text, t);
  if (with_zone) d.text.push_back('Z');
  return d;
}

// iso_8601 IntervalStyle ("P1Y2M3DT4H5M6.5S", "PT0S", "P-1Y-2M3DT-4H"), in
// exactly the grammar the encoders compute from (schemas/iso_duration.h), and
// the infinite intervals of Postgres 17. Passed through as sent.
Datum decode_interval(std::string_view text) {
  if (!is_infinity(text) && !parse_iso_duration(text)) {
    invalid(ColumnType::kInterval, text, "expected ISO-8601 as Postgres prints it (IntervalStyle=iso_8601)");
  }
  Datum d = present();
  d.text = std::string(text);
  return d;
}

// ---- other types -------------------------------------------------------------

Datum decode_bytea(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') {
    invalid(ColumnType::kBytea, text, "expected hex format (bytea_output=hex)");
  }
  if (text.size() % 2 != 0) invalid(ColumnType::kBytea, text, "odd number of hex digits");
  Datum d = present();
  d.text.resize((text.size() - 2) / 2);
  for (size_t i = 2, o = 0; i < text.size(); i += 2, ++o) {
    const int hi = hex_value(text[i]);
    const int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) invalid(ColumnType::kBytea, text, "not a hex digit");
    d.text[o] = static_cast<char>((hi << 4) | lo);
  }
  return d;
}

Datum decode_uuid(std::string_view text) {
  bool ok = text.size() == 36;
  for (size_t i = 0; ok && i < text.size(); ++i) {
    ok = (i == 8 || i == 13 || i == 18 || i == 23) ? text[i] == '-' : hex_value(text[i]) >= 0;
  }
  if (!ok) invalid(ColumnType::kUuid, text);
  Datum d = present();
  d.text = std::string(text);
  return d;
}

void check_json(std::string_view text) {
  // Postgres validated the JSON on input; an all-blank text cannot be JSON and
  // would break the JSON encoding, which embeds it as it is.
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    invalid(ColumnType::kJson, text, "empty");
  }
}

Datum decode_json(std::string_view text) {
  check_json(text);
  Datum d = present();
  d.text = std::string(text);
  return d;
}

Datum as_sent(std::string_view text) {
  Datum d = present();
  d.text = std::string(text);
  return d;
}

}  // namespace

ColumnType column_type_for_oid(uint32_t oid) {
  switch (oid) {
    case 21: return ColumnType::kInt16;        // int2
    case 23: return ColumnType::kInt32;        // int4
    case 20: return ColumnType::kInt64;        // int8
    case 16: return ColumnType::kBool;         // bool
    case 700: return ColumnType::kFloat32;     // float4
    case 701: return ColumnType::kFloat64;     // float8
    case 1700: return ColumnType::kNumeric;    // numeric
    case 25:                                   // text
    case 1043:                                 // varchar
    case 1042:                                 // bpchar
    case 19: return ColumnType::kText;         // name
    case 2950: return ColumnType::kUuid;       // uuid
    case 1082: return ColumnType::kDate;       // date
    case 1083: return ColumnType::kTime;       // time
    case 1114: return ColumnType::kTimestamp;  // timestamp
    case 1184: return ColumnType::kTimestampTz;  // timestamptz
    case 1186: return ColumnType::kInterval;   // interval
    case 114:                                  // json
    case 3802: return ColumnType::kJson;       // jsonb
    case 17: return ColumnType::kBytea;        // bytea
    default: return ColumnType::kOther;
  }
}

Datum decode_text_value(ColumnType type, std::string_view pg_text) {
  switch (type) {
    case ColumnType::kInt16:
      return decode_int(type, pg_text, std::numeric_limits<int16_t>::min(),
                        std::numeric_limits<int16_t>::max());
    case ColumnType::kInt32:
      return decode_int(type, pg_text, std::numeric_limits<int32_t>::min(),
                        std::numeric_limits<int32_t>::max());
    case ColumnType::kInt64:
      return decode_int(type, pg_text, std::numeric_limits<int64_t>::min(),
                        std::numeric_limits<int64_t>::max());
    case ColumnType::kBool: {
      if (pg_text != "t" && pg_text != "f") invalid(type, pg_text, "expected t or f");
      Datum d = present();
      d.b = pg_text == "t";
      return d;
    }
    case ColumnType::kFloat32:
    case ColumnType::kFloat64: return decode_float(type, pg_text);
    case ColumnType::kNumeric: return decode_numeric(pg_text);
    case ColumnType::kUuid: return decode_uuid(pg_text);
    case ColumnType::kDate: return decode_date(pg_text);
    case ColumnType::kTime: return decode_time(pg_text);
    case ColumnType::kTimestamp:
    case ColumnType::kTimestampTz: return decode_timestamp(type, pg_text);
    case ColumnType::kInterval: return decode_interval(pg_text);
    case ColumnType::kJson: return decode_json(pg_text);
    case ColumnType::kBytea: return decode_bytea(pg_text);
    case ColumnType::kText:
    case ColumnType::kOther: return as_sent(pg_text);
  }
  throw Error(ErrorKind::kInternal, "unknown column type");
}

Datum take_text_value(ColumnType type, std::string&& pg_text) {
  if (type != ColumnType::kText && type != ColumnType::kOther && type != ColumnType::kJson)
    return decode_text_value(type, pg_text);
  if (type == ColumnType::kJson) check_json(pg_text);
  Datum d = present();
  d.text = std::move(pg_text);
  return d;
}

}  // namespace tombsync::pg
