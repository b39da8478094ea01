#include "schemas/debezium_types.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "schemas/base64.h"
#include "schemas/iso_duration.h"
#include "base/error.h"
#include "schemas/json_string.h"
#include "schemas/time_format.h"

namespace tombsync::debezium {
namespace {

constexpr std::string_view kUnavailable = "__debezium_unavailable_value";
constexpr int64_t kMicrosPerDay = 86'400'000'000;

// pgjdbc's PGStatement.DATE_POSITIVE_INFINITY / DATE_NEGATIVE_INFINITY: what
// the connector maps 'infinity' and '-infinity' timestamps to (as microseconds;
// PostgresValueConverter.POSITIVE_INFINITY_INSTANT).
constexpr int64_t kPositiveInfinityMicros = 9'223'372'036'825'200'000;
constexpr int64_t kNegativeInfinityMicros = -9'223'372'036'832'400'000;

class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}
  bool done() const { return i_ == s_.size(); }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  // Between min and max digits, as a number.
  std::optional<int64_t> digits(size_t min, size_t max) {
    size_t start = i_;
    int64_t v = 0;
    while (i_ < s_.size() && i_ - start < max && s_[i_] >= '0' && s_[i_] <= '9') v = v * 10 + (s_[i_++] - '0');
    if (i_ - start < min) return std::nullopt;
    return v;
  }
  // The digits as written (for fractions, where leading zeros count).
  std::string_view digit_run(size_t max) {
    size_t start = i_;
    while (i_ < s_.size() && i_ - start < max && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return s_.substr(start, i_ - start);
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// A fraction of a second ("5" -> 500000 µs), at most six digits.
int64_t fraction_micros(std::string_view digits) {
  int64_t v = 0;
  for (size_t i = 0; i < 6; ++i) v = v * 10 + (i < digits.size() ? digits[i] - '0' : 0);
  return v;
}

std::optional<int64_t> parse_date(Reader& r) {
  int64_t sign = 1;
  if (r.eat('-')) sign = -1;
  else r.eat('+');
  auto year = r.digits(4, 9);
  if (!year || !r.eat('-')) return std::nullopt;
  auto month = r.digits(2, 2);
  if (!month || !r.eat('-')) return std::nullopt;
  auto day = r.digits(2, 2);
  if (!day || *month < 1 || *month > 12 || *day < 1) return std::nullopt;
  CivilDate date{sign * *year, static_cast<unsigned>(*month), static_cast<unsigned>(*day)};
  if (date.day > days_in_month(date.year, date.month)) return std::nullopt;
  return days_from_civil(date);
}

struct TimeOfDay {
  int64_t micros = 0;
  std::string_view fraction;
};

std::optional<TimeOfDay> parse_time(Reader& r) {
  auto h = r.digits(2, 2);
  if (!h || !r.eat(':')) return std::nullopt;
  auto m = r.digits(2, 2);
  if (!m || !r.eat(':')) return std::nullopt;
  auto s = r.digits(2, 2);
  if (!s || *h > 24 || *m > 59 || *s > 59) return std::nullopt;
  TimeOfDay t;
  if (r.eat('.')) {
    t.fraction = r.digit_run(9);
    if (t.fraction.empty() || t.fraction.size() > 6) return std::nullopt;
  }
  t.micros = ((*h * 60 + *m) * 60 + *s) * 1'000'000 + fraction_micros(t.fraction);
  if (t.micros > kMicrosPerDay) return std::nullopt;
  return t;
}

template <typename Number>
void append_number(std::string& out, Number n) {
  char buf[64];
  auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
  out.append(buf, end);
}

// Jackson (Kafka's JsonConverter) writes a float or double as Java's
// Float/Double.toString does: the shortest digits that read back, plain for
// 1e-3 <= |f| < 1e7 ("1.0", "0.001"), else "1.0E20" / "1.0E-4"; non-finite
// values as the strings "NaN", "Infinity", "-Infinity".
template <typename Float>
void append_float(std::string& out, Float f) {
  if (std::isnan(f)) {
    out.append("\"NaN\"");
    return;
  }
  if (std::isinf(f)) {
    out.append(f > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  if (f == 0) {
    out.append(std::signbit(f) ? "-0.0" : "0.0");
    return;
  }
  char buf[64];
  char* end = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific).ptr;
  std::string_view sci(buf, static_cast<size_t>(end - buf));  // "-1.2345e+20"
  const size_t e = sci.find('e');
  std::string_view mantissa = sci.substr(0, e);
  int exponent = std::atoi(std::string(sci.substr(e + 1)).c_str());
  if (!mantissa.empty() && mantissa[0] == '-') {
    out.push_back('-');
    mantissa.remove_prefix(1);
  }
  std::string digits;  // significant digits, no point
  for (char c : mantissa)
    if (c != '.') digits.push_back(c);
  if (exponent >= -3 && exponent < 7) {
    if (exponent < 0) {
      out.append("0.");
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out.append(digits);
    } else {
      const size_t int_digits = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_digits) {
        out.append(digits);
        out.append(int_digits - digits.size(), '0');
        out.append(".0");
      } else {
        out.append(digits, 0, int_digits);
        out.push_back('.');
        out.append(digits, int_digits);
      }
    }
  } else {
    out.push_back(digits[0]);
    out.push_back('.');
    out.append(digits.size() > 1 ? digits.substr(1) : std::string("0"));
    out.push_back('E');
    append_number(out, exponent);
  }
}

// A value the Debezium form cannot represent. The decoder checks every value
// against the grammar used here, so this is a value no Postgres sends; it is
// reported like any undecodable replication data (the caller adds table and LSN).
[[noreturn]] void bad_value(const ColumnSpec& column, const Datum& datum) {
  throw Error(ErrorKind::kProtocol, "column \"" + column.name + "\" (" + column.type_name + "): the " +
                                        to_string(column.type) + " value \"" + datum.text.substr(0, 64) +
                                        "\" cannot be represented in debezium-json");
}

template <typename T>
T need(const std::optional<T>& v, const ColumnSpec& column, const Datum& datum) {
  if (!v) bad_value(column, datum);
  return *v;
}

// Java's (long) cast of a double: saturates at the int64 range, NaN is 0. A
// C++ cast of an out-of-range double is undefined; Debezium's value for an
// interval of more than about 292,000 years is Long.MAX_VALUE, and so is ours.
int64_t java_long(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (v <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

}  // namespace

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int time_precision(const ColumnSpec& column) {
  return column.type_mod >= 0 && column.type_mod <= 6 ? column.type_mod : 6;
}

FieldType field_type(const ColumnSpec& column) {
  switch (column.type) {
    case ColumnType::kInt16: return {"int16", {}};
    case ColumnType::kInt32: return {"int32", {}};
    case ColumnType::kInt64: return {"int64", {}};
    case ColumnType::kBool: return {"boolean", {}};
    case ColumnType::kFloat32: return {"float", {}};
    case ColumnType::kFloat64: return {"double", {}};
    case ColumnType::kUuid: return {"string", "io.debezium.data.Uuid"};
    case ColumnType::kDate: return {"int32", "io.debezium.time.Date"};
    case ColumnType::kTime:
      return time_precision(column) <= 3 ? FieldType{"int32", "io.debezium.time.Time"}
                                         : FieldType{"int64", "io.debezium.time.MicroTime"};
    case ColumnType::kTimestamp:
      return time_precision(column) <= 3 ? FieldType{"int64", "io.debezium.time.Timestamp"}
                                         : FieldType{"int64", "io.debezium.time.MicroTimestamp"};
    case ColumnType::kTimestampTz: return {"string", "io.debezium.time.ZonedTimestamp"};
    case ColumnType::kInterval: return {"int64", "io.debezium.time.MicroDuration"};
    case ColumnType::kJson: return {"string", "io.debezium.data.Json"};
    case ColumnType::kBytea: return {"bytes", {}};
    case ColumnType::kNumeric:  // decimal.handling.mode=string
    case ColumnType::kText:
    case ColumnType::kOther: return {"string", {}};
  }
  throw Error(ErrorKind::kInternal, "unknown column type");
}

void append_value(std::string& out, const ColumnSpec& column, const Datum& datum) {
  switch (column.type) {
    case ColumnType::kInt16:
    case ColumnType::kInt32:
    case ColumnType::kInt64:
      append_number(out, datum.i);
      return;
    case ColumnType::kBool:
      out.append(datum.b ? "true" : "false");
      return;
    case ColumnType::kFloat32:
      append_float(out, static_cast<float>(datum.d));  // Java prints the float, not its double
      return;
    case ColumnType::kFloat64:
      append_float(out, datum.d);
      return;
    case ColumnType::kDate: {
      int64_t days;
      if (datum.text == "infinity" || datum.text == "-infinity") {
        // The connector's POSITIVE/NEGATIVE_INFINITY_LOCAL_DATE (pgjdbc artefacts).
        days = days_from_civil({-5877611, 6, datum.text[0] == '-' ? 22u : 21u});
      } else {
        days = need(epoch_days(datum.text), column, datum);
      }
      append_number(out, days);
      return;
    }
    case ColumnType::kTime: {
      int64_t micros = need(micros_of_day(datum.text), column, datum);
      append_number(out, time_precision(column) <= 3 ? micros / 1000 : micros);
      return;
    }
    case ColumnType::kTimestamp: {
      int64_t micros;
      if (datum.text == "infinity") micros = kPositiveInfinityMicros;
      else if (datum.text == "-infinity") micros = kNegativeInfinityMicros;
      else micros = need(epoch_micros(datum.text), column, datum);
      append_number(out, time_precision(column) <= 3 ? floor_div(micros, 1000) : micros);
      return;
    }
    case ColumnType::kTimestampTz:
      if (datum.text == "infinity" || datum.text == "-infinity") {
        append_json_string(out, datum.text);
      } else {
        append_json_string(out, need(zoned_timestamp(datum.text, time_precision(column)), column, datum));
      }
      return;
    case ColumnType::kInterval:
      if (datum.text == "infinity") append_number(out, std::numeric_limits<int64_t>::max());
      else if (datum.text == "-infinity") append_number(out, std::numeric_limits<int64_t>::min());
      else append_number(out, need(duration_micros(datum.text), column, datum));
      return;
    case ColumnType::kBytea:
      out.push_back('"');
      append_base64(out, datum.text);
      out.push_back('"');
      return;
    case ColumnType::kJson:  // io.debezium.data.Json: the document as a string
    case ColumnType::kNumeric:
    case ColumnType::kText:
    case ColumnType::kUuid:
    case ColumnType::kOther:
      append_json_string(out, datum.text);
      return;
  }
  throw Error(ErrorKind::kInternal, "unknown column type");
}

void append_unavailable_value(std::string& out, const ColumnSpec& column) {
  const FieldType type = field_type(column);
  if (type.type == "string") {
    append_json_string(out, kUnavailable);
  } else if (type.type == "bytes") {
    out.push_back('"');
    append_base64(out, kUnavailable);
    out.push_back('"');
  } else {
    throw Error(ErrorKind::kProtocol, "column \"" + column.name + "\" (" + column.type_name +
                                          ") is marked unchanged TOAST, but Postgres never TOASTs its type");
  }
}

std::optional<int64_t> epoch_micros(std::string_view iso) {
  Reader r(iso);
  auto days = parse_date(r);
  if (!days || !r.eat('T')) return std::nullopt;
  auto t = parse_time(r);
  if (!t || t->micros >= kMicrosPerDay) return std::nullopt;
  r.eat('Z');
  if (!r.done()) return std::nullopt;
  return *days * kMicrosPerDay + t->micros;
}

std::optional<int64_t> epoch_days(std::string_view iso) {
  Reader r(iso);
  auto days = parse_date(r);
  if (!days || !r.done()) return std::nullopt;
  return days;
}

std::optional<int64_t> micros_of_day(std::string_view iso) {
  Reader r(iso);
  auto t = parse_time(r);
  if (!t || !r.done()) return std::nullopt;
  return t->micros;
}

std::optional<int64_t> duration_micros(std::string_view iso) {
  auto d = parse_iso_duration(iso);
  if (!d) return std::nullopt;
  // io.debezium.time.MicroDuration.durationMicros, operation for operation, on
  // the parts PGInterval exposes (seconds as whole seconds plus micros / 1e6).
  const double days_per_month = 365.25 / 12.0;
  const double seconds = static_cast<double>(d->seconds) + static_cast<double>(d->micros) / 1'000'000;
  const double number_of_days =
      static_cast<double>(d->years * 12 + d->months) * days_per_month + static_cast<double>(d->days);
  const double number_of_seconds =
      ((number_of_days * 24 + static_cast<double>(d->hours)) * 60 + static_cast<double>(d->minutes)) * 60 + seconds;
  return java_long(number_of_seconds * 1e6);
}

std::optional<std::string> zoned_timestamp(std::string_view iso, int precision) {
  const size_t dot = iso.find('.');
  const size_t zone = iso.size() - 1;
  if (iso.empty() || iso[zone] != 'Z' || !epoch_micros(iso)) return std::nullopt;
  std::string_view fraction;
  std::string out(iso.substr(0, dot == std::string_view::npos ? zone : dot));
  if (dot != std::string_view::npos) fraction = iso.substr(dot + 1, zone - dot - 1);
  if (precision > 0) {
    out.push_back('.');
    for (int i = 0; i < precision; ++i) out.push_back(i < static_cast<int>(fraction.size()) ? fraction[i] : '0');
  } else if (!fraction.empty()) {
    // ISO_OFFSET_DATE_TIME: the fraction without trailing zeros (tombsync's text has none).
    out.push_back('.');
    out.append(fraction);
  }
  out.push_back('Z');
  return out;
}

}  // namespace tombsync::debezium
