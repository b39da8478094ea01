// From Postgres column types and pgoutput text values to the shared change
// model (schemas/change.h). Called by ChangeBuilder for every column of every
// streamed tuple (the pipeline thread) and by SnapshotReader for every column of
// every snapshot row (a snapshot reader thread); it keeps no state.
//
// The text forms accepted are those Postgres prints under the session settings
// the replication connection sets:
//   DateStyle=ISO, TimeZone=UTC, IntervalStyle=iso_8601, extra_float_digits=3,
//   bytea_output=hex
// A value in another form (e.g. bytea escape format, a postgres-style interval)
// is rejected rather than guessed at.
#pragma once

#include <cstdint>
#include <string_view>

#include "schemas/change.h"

namespace tombsync::pg {

// The logical type of a builtin type OID (int2 21, int4 23, int8 20, bool 16,
// float4 700, float8 701, numeric 1700, text 25, varchar 1043, bpchar 1042,
// name 19, uuid 2950, date 1082, time 1083, timestamp 1114, timestamptz 1184,
// interval 1186, json 114, jsonb 3802, bytea 17). Everything else — arrays,
// enums, domains, timetz, inet, money, user types — is kOther: carried as its
// Postgres text form, tagged with the type name.
ColumnType column_type_for_oid(uint32_t oid);

// Decodes one pgoutput text value ('t' column) into a present Datum, in the
// representation change.h documents for `type`:
//   int2/int4/int8 -> i (range-checked for the type)
//   bool "t"/"f" -> b
//   float4/float8 -> d (the nearest double to the text) and text as sent, so
//     "NaN", "Infinity", "-Infinity" survive
//   numeric -> text, checked to be a plain decimal, "NaN", "Infinity" or "-Infinity"
//   timestamptz "2024-05-01 10:00:00.123456+00" -> "2024-05-01T10:00:00.123456Z"
//     (a non-zero offset is converted to UTC; fraction digits kept as given)
//   timestamp "2024-05-01 10:00:00.5" -> "2024-05-01T10:00:00.5"
//   date "2024-05-01" -> "2024-05-01"
//   time "10:00:00.5" -> as sent (checked)
//   interval "P1Y2M3DT4H5M6.5S" -> as sent (checked to be ISO-8601 style)
//   json/jsonb -> the JSON text as sent
//   bytea "\x0a0b" -> the raw bytes
//   uuid -> as sent (checked); text/varchar/bpchar/name and kOther -> as sent
// Dates and timestamps: "infinity" and "-infinity" are kept as they are. BC
// dates use ISO-8601 astronomical year numbering, as java.time does: 1 BC is
// year "0000", 2 BC is "-0001" ("0044-03-15 BC" -> "-0043-03-15"); years past
// 9999 get a '+' ("+10000-01-01").
// Throws Error(kProtocol) naming the type and the (truncated) value when the
// text is not a valid value of the type.
Datum decode_text_value(ColumnType type, std::string_view pg_text);
// The same, taking the text: a value kept as sent (text, json, other types) is
// moved, not copied, so a large value exists once.
Datum take_text_value(ColumnType type, std::string&& pg_text);

}  // namespace tombsync::pg
