// Reading a libpq connection string without connecting: the keyword=value conninfo form
// ("host=db password='a b'"), scanned as libpq's conninfo_parse reads it, and the
// postgresql:// URI form, recognised by its scheme.
//
// Called by the config parser (agent/config) to refuse a malformed source.dsn at load time,
// with the file's line, rather than at the first connection. Nothing here allocates a copy of
// the text or echoes it: a DSN may hold a password, and these functions return offsets and
// views only. Whether the keys and values mean anything is left to libpq.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace tombsync::pg {

// One keyword=value pair of a conninfo.
struct ConninfoPair {
  std::string_view key;    // a view into the scanned text
  size_t value_begin = 0;  // offsets into the scanned text; quotes included
  size_t value_end = 0;
};

// Splits `s` into keyword=value pairs. Returns std::string_view::npos when the whole text
// parses, else the offset where it stops making sense (pairs before it are still reported;
// an unterminated quoted value runs to the end).
size_t scan_conninfo(std::string_view s, std::vector<ConninfoPair>& pairs);

// The length of a leading "postgresql://" or "postgres://" (any case), or 0 when `dsn` is not
// a URI and libpq reads it as a conninfo.
size_t uri_prefix_length(std::string_view dsn);

// What check_dsn found.
enum class DsnProblem {
  kNone,    // a URI (left to libpq), or a conninfo that scans whole with at least one pair
  kSyntax,  // a conninfo that stops making sense at DsnCheck::offset
  kBlank,   // a conninfo with no pair at all (only whitespace)
};
struct DsnCheck {
  DsnProblem problem = DsnProblem::kNone;
  size_t offset = 0;  // for kSyntax: the 0-based offset where the text stops making sense
};
// The syntax check the config applies to source.dsn.
DsnCheck check_dsn(std::string_view dsn);

}  // namespace tombsync::pg
