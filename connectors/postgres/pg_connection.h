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

// Where a connection goes, without secrets: for reports (tombsync status).
struct ConnectionTarget {
  std::string host, port, dbname, user;  // "" when not known
};
// As the DSN itself gives them (for when the connection fails); malformed: all empty.
ConnectionTarget dsn_target(const std::string& dsn);

// source.password_file: the file read again at every connection, so a rotated
// Kubernetes Secret takes effect at the next reconnect without a restart. Its
// content (trailing newline removed) is the password when the DSN has none.
// Call once at start, before any thread connects; "" turns it off.
void set_password_file(const std::string& path);

class PgConnection {
 public:
  enum class Mode { kSql, kReplication };
  // Throws Error(kSource): "cannot connect to Postgres (host=.. port=.. dbname=.. user=..): <reason>; <hint>";
  // Error(kConfig) when the password file (set_password_file) cannot be read.
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
  int server_version() const { return PQserverVersion(conn_); }
  // The server's version as it reports it at login, "15.20 (Debian 15.20-0+deb12u1)"; "?" if not.
  std::string server_version_text() const;
  // Where this connection went (libpq's resolved host, port, database and user).
  ConnectionTarget target() const;

 private:
  PGconn* conn_ = nullptr;
  std::string description_;
};

// Quotes an identifier for SQL (double quotes, doubled inside).
std::string quote_ident(const std::string& ident);
// Returns the value of a single-row result's column, or nullopt when NULL.
std::optional<std::string> value_at(const PGresult* r, int row, int col);

}  // namespace tombsync::pg
