// The one grammar for interval values, shared by the Postgres decoder (which
// refuses what does not match) and the encoders (which compute from it), so a
// value one side accepts the other can always encode.
//
// The grammar is what Postgres prints with IntervalStyle=iso_8601
// (EncodeInterval): "P", then the signed date parts Y, M, D in that order, each
// at most once; then, only if a time part follows, "T" and the signed parts H,
// M, S in that order; seconds may carry a fraction of 1 to 6 digits, with the
// sign in front of the whole number ("PT-0.5S"). A zero interval is "PT0S".
// Every number has 1 to 10 digits (Postgres' largest is 2562047788 hours).
// "infinity" and "-infinity" (Postgres 17) are not durations: callers check for
// them first.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tombsync {

struct IsoDuration {
  int64_t years = 0, months = 0, days = 0;
  int64_t hours = 0, minutes = 0, seconds = 0;
  int64_t micros = 0;  // the fraction of the seconds, with their sign
};

// The parts of `text`, or nullopt when it is not in the grammar above.
std::optional<IsoDuration> parse_iso_duration(std::string_view text);

}  // namespace tombsync
