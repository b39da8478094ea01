#include "schemas/iso_duration.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "schemas/debezium_types.h"

using tombsync::parse_iso_duration;

TEST_CASE("ISO-8601 durations: the parts of what Postgres prints", "[iso_duration]") {
  auto d = parse_iso_duration("P1Y2M3DT4H5M6.5S");
  REQUIRE(d);
  CHECK(d->years == 1);
  CHECK(d->months == 2);
  CHECK(d->days == 3);
  CHECK(d->hours == 4);
  CHECK(d->minutes == 5);
  CHECK(d->seconds == 6);
  CHECK(d->micros == 500000);
  d = parse_iso_duration("PT-0.000001S");
  REQUIRE(d);
  CHECK(d->seconds == 0);
  CHECK(d->micros == -1);
  d = parse_iso_duration("P-1Y-2M3DT-4H");
  REQUIRE(d);
  CHECK(d->years == -1);
  CHECK(d->months == -2);
  CHECK(d->days == 3);
  CHECK(d->hours == -4);
  CHECK_FALSE(parse_iso_duration("P"));
  CHECK_FALSE(parse_iso_duration("P1Y2M3DT4H5M.65S"));
  CHECK_FALSE(parse_iso_duration("infinity"));
}

TEST_CASE("Debezium MicroDuration saturates like Java's (long) cast", "[iso_duration][debezium_json]") {
  using tombsync::debezium::duration_micros;
  // 178,000,000 years is about 5.6e21 µs: Debezium's (long) cast gives Long.MAX_VALUE; a C++
  // cast would be undefined behaviour.
  CHECK(duration_micros("P178000000Y") == std::numeric_limits<int64_t>::max());
  CHECK(duration_micros("P-178000000Y") == std::numeric_limits<int64_t>::min());
  CHECK(duration_micros("PT2562047788H54.775807S") == 9223372036854775807LL);  // rounds to 2^63 in double
  CHECK(duration_micros("P1Y") == 31557600000000);                                // 365.25 days
}
