// How Debezium's PostgreSQL connector represents one column in Kafka Connect
// terms, and the value conversions that takes. tombsync emulates Debezium 3.6
// with decimal.handling.mode=string and every other value-shaping setting at its
// default (time.precision.mode=adaptive, interval.handling.mode=numeric,
// binary.handling.mode=bytes), as Kafka's JsonConverter prints it. The choices
// and the remaining differences are in docs/formats.md.
//
// Reference: debezium/debezium v3.6.1.Final, PostgresValueConverter.java and
// io/debezium/time/*.java.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/change.h"

namespace tombsync::debezium {

// A Kafka Connect field type: "int16", "int32", "int64", "float", "double",
// "boolean", "string", "bytes"; `name` is the logical type (e.g.
// "io.debezium.time.MicroTimestamp", version 1) or empty.
struct FieldType {
  std::string_view type;
  std::string_view name;
};

// Postgres' precision of a time or timestamp column: the type modifier, or 6
// (what pgjdbc reports for an unconstrained column).
int time_precision(const ColumnSpec& column);

FieldType field_type(const ColumnSpec& column);

// Appends a present value as the JSON of its field type. Throws Error(kInternal)
// when the text is not in the form the Postgres connector produces (change.h).
void append_value(std::string& out, const ColumnSpec& column, const Datum& datum);

// Appends what Debezium writes for an unchanged TOASTed value: the placeholder
// "__debezium_unavailable_value" as a string, or its bytes for a bytes field.
// Only variable-length types are TOASTed; any other field type throws
// Error(kInternal).
void append_unavailable_value(std::string& out, const ColumnSpec& column);

// ---- conversions, exposed for tests -------------------------------------------

// Java's Math.floorDiv (what Instant.toEpochMilli amounts to): rounds toward
// minus infinity, so instants before 1970 get the millisecond they fall in.
int64_t floor_div(int64_t a, int64_t b);

// "2024-05-01T10:00:00.5" (tombsync's timestamp text, optional trailing 'Z',
// signed years as java.time prints them) -> Unix-epoch microseconds.
std::optional<int64_t> epoch_micros(std::string_view iso);
// "2024-05-01" -> days since 1970-01-01.
std::optional<int64_t> epoch_days(std::string_view iso);
// "10:00:00.5" -> microseconds since midnight ("24:00:00" -> 86400000000).
std::optional<int64_t> micros_of_day(std::string_view iso);
// ISO-8601 interval ("P1Y2M3DT4H5M6.5S", "P-1Y-2M3DT-4H") -> Debezium's
// MicroDuration: months count 365.25/12 days, computed in double exactly as
// io.debezium.time.MicroDuration.durationMicros does.
std::optional<int64_t> duration_micros(std::string_view iso);
// "2024-05-01T10:00:00.5Z" -> "2024-05-01T10:00:00.500000Z" for precision 6: the
// fraction padded (or cut) to `precision` digits, as ZonedTimestamp prints it;
// precision 0 prints no fraction.
std::optional<std::string> zoned_timestamp(std::string_view iso, int precision);

}  // namespace tombsync::debezium
