// RAII over a libpq connection, for both plain SQL (catalog, setup) and the
// replication protocol. Connection failures become one actionable
// Error(kSource) line; the password in the DSN never appears in it.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tombsync::pg {

// Session settings that make pgoutput's text values unambiguous (UTC, ISO
// dates and intervals, round-trippable floats, hex bytea). A walsender's output
// functions run with its own GUCs, so setting them here fixes the wire format.
inline constexpr const char* kSessionOptions =
    "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=iso_8601 -c extra_float_digits=3 "
    "-c bytea_output=hex";

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

class PgConnection {
 public:
  enum class Mode { kSql, kReplication };
  // Throws Error(kSource): "cannot connect to Postgres (host=.. port=.. dbname=.. user=..): <reason>; <hint>".
  PgConnection(const std::string& dsn, Mode mode);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  PGconn* raw() const { return conn_; }
  // Runs a statement (simple protocol) and returns its result; throws
  // Error(kSource) naming `what` on any status other than OK/TUPLES_OK.
  PgResult exec(const std::string& sql, const std::string& what);
  // Parameterised query with text parameters.
  PgResult exec_params(const std::string& sql, const std::vector<std::string>& params,
                       const std::string& what);
  // "host=127.0.0.1 port=5432 dbname=app user=tombsync", without secrets.
  const std::string& describe() const { return description_; }

 private:
  PGconn* conn_ = nullptr;
  std::string description_;
};

// Quotes an identifier for SQL (double quotes, doubled inside).
std::string quote_ident(const std::string& ident);
// Returns the value of a single-row result's column, or nullopt when NULL.
std::optional<std::string> value_at(const PGresult* r, int row, int col);

}  // namespace tombsync::pg
