// The two microsecond clocks tombsync meets, as distinct types:
//  - PgMicros: microseconds since 2000-01-01 00:00 UTC, Postgres' wire clock
//    (pgoutput Begin's commit time, the walsender's keepalive clock, the
//    standby status update's clock);
//  - UnixMicros: microseconds since 1970-01-01 00:00 UTC, what change events
//    carry (commit_ts, deleted_at) and the encoders print.
// They convert only through to_unix / to_pg.
#pragma once

#include <cstdint>

#include "base/named_type.h"

namespace tombsync {

using PgMicros = NamedType<int64_t, struct PgMicrosTag>;
using UnixMicros = NamedType<int64_t, struct UnixMicrosTag>;

// 2000-01-01 - 1970-01-01, in microseconds (10,957 days).
inline constexpr int64_t kPgEpochOffsetMicros = 946'684'800'000'000;

constexpr UnixMicros to_unix(PgMicros t) { return UnixMicros{t.value() + kPgEpochOffsetMicros}; }
constexpr PgMicros to_pg(UnixMicros t) { return PgMicros{t.value() - kPgEpochOffsetMicros}; }

}  // namespace tombsync
