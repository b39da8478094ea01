#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

#include "schemas/time_format.h"

using tombsync::CivilDate;
using tombsync::civil_from_days;
using tombsync::days_from_civil;
using tombsync::format_utc_micros;

TEST_CASE("format_utc_micros prints ISO-8601 UTC with microseconds", "[time_format]") {
  CHECK(format_utc_micros(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(format_utc_micros(1714557600123456) == "2024-05-01T10:00:00.123456Z");
  CHECK(format_utc_micros(1709251199999999) == "2024-02-29T23:59:59.999999Z");
  CHECK(format_utc_micros(951782400000000) == "2000-02-29T00:00:00.000000Z");
}

TEST_CASE("format_utc_micros floors instants before 1970", "[time_format]") {
  CHECK(format_utc_micros(-1) == "1969-12-31T23:59:59.999999Z");
  CHECK(format_utc_micros(-86'400'000'000) == "1969-12-31T00:00:00.000000Z");
  // Postgres' epoch, 2000-01-01, and the start of the proleptic year 1.
  CHECK(format_utc_micros(946'684'800'000'000) == "2000-01-01T00:00:00.000000Z");
  CHECK(format_utc_micros(-62'135'596'800'000'000) == "0001-01-01T00:00:00.000000Z");
}

TEST_CASE("format_utc_micros uses astronomical, signed years outside 1..9999",
          "[time_format]") {
  CHECK(format_utc_micros(-62'135'596'800'000'001) == "0000-12-31T23:59:59.999999Z");
  CHECK(format_utc_micros(-62'167'219'200'000'001) == "-0001-12-31T23:59:59.999999Z");
  CHECK(format_utc_micros(253'402'300'800'000'000) == "+10000-01-01T00:00:00.000000Z");
  // Every int64 is accepted.
  CHECK(format_utc_micros(std::numeric_limits<int64_t>::max()) ==
        "+294247-01-10T04:00:54.775807Z");
  CHECK(format_utc_micros(std::numeric_limits<int64_t>::min()) ==
        "-290308-12-21T19:59:05.224192Z");
}

TEST_CASE("Civil dates and day numbers convert both ways", "[time_format]") {
  CHECK(days_from_civil({1970, 1, 1}) == 0);
  CHECK(days_from_civil({2000, 3, 1}) == 11'017);
  CHECK(days_from_civil({1969, 12, 31}) == -1);
  // Every day from about 220 BC to AD 4160: consecutive days are consecutive dates.
  int64_t bad = 0;
  CivilDate prev = civil_from_days(-800'001);
  for (int64_t day = -800'000; day <= 800'000; ++day) {
    const CivilDate d = civil_from_days(day);
    const bool next_day = d.day == prev.day + 1 && d.month == prev.month && d.year == prev.year;
    const bool month_ended = prev.day == tombsync::days_in_month(prev.year, prev.month);
    const bool next_month = d.day == 1 && month_ended &&
                            ((d.month == prev.month + 1 && d.year == prev.year) ||
                             (d.month == 1 && prev.month == 12 && d.year == prev.year + 1));
    if (days_from_civil(d) != day || !(next_day || next_month)) ++bad;
    prev = d;
  }
  CHECK(bad == 0);
}

TEST_CASE("Leap years follow the Gregorian rule, year 0 included", "[time_format]") {
  CHECK(tombsync::is_leap_year(2024));
  CHECK(tombsync::is_leap_year(2000));
  CHECK_FALSE(tombsync::is_leap_year(1900));
  CHECK(tombsync::is_leap_year(0));
  CHECK(tombsync::is_leap_year(-4));
  CHECK_FALSE(tombsync::is_leap_year(-1));
  CHECK(tombsync::days_in_month(2023, 2) == 28);
  CHECK(tombsync::days_in_month(2024, 2) == 29);
  CHECK(tombsync::days_in_month(2024, 4) == 30);
}
