// Calendar arithmetic and ISO-8601 formatting of instants, shared by the
// encoders (deleted_at, __commit_ts), the Postgres type mapping and the Kafka
// headers. Proleptic Gregorian calendar with astronomical year numbering: year
// 0 is 1 BC, year -1 is 2 BC. No time zone database: everything here is UTC.
#pragma once

#include <cstdint>
#include <string>

namespace tombsync {

struct CivilDate {
  int64_t year = 1970;  // astronomical: 0 = 1 BC
  unsigned month = 1;   // 1..12
  unsigned day = 1;     // 1..31
};

// Days since 1970-01-01 of a valid civil date, and back. Exact for any date
// whose day count fits in int64 (far beyond what Postgres can store).
int64_t days_from_civil(const CivilDate& date);
CivilDate civil_from_days(int64_t days);

bool is_leap_year(int64_t year);
unsigned days_in_month(int64_t year, unsigned month);  // month 1..12

// Appends an ISO-8601 year: four digits for 0..9999 ("0000" is 1 BC), a sign
// for the rest ("-0001" is 2 BC, "+10000"), as java.time prints years.
void append_iso_year(std::string& out, int64_t year);

// Unix-epoch microseconds as ISO-8601 UTC with exactly six fraction digits:
// 1714557600123456 -> "2024-05-01T10:00:00.123456Z". Total (every int64 is valid).
std::string format_utc_micros(int64_t epoch_us);
void append_utc_micros(std::string& out, int64_t epoch_us);

}  // namespace tombsync
