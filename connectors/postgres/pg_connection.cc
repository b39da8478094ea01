#include "connectors/postgres/pg_connection.h"

#include <vector>

#include "base/error.h"
#include "base/small_file.h"

namespace tombsync::pg {
namespace {

// Set once before threads start (set_password_file); read-only afterwards.
std::string& password_file() {
  static std::string path;
  return path;
}

bool dsn_has_password(const std::string& dsn) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return false;
  bool found = false;
  for (auto* o = opts; o->keyword; ++o)
    if (std::string(o->keyword) == "password" && o->val && *o->val) found = true;
  PQconninfoFree(opts);
  return found;
}

// The password from source.password_file, read now; nullopt when it is not used.
std::optional<std::string> file_password(const std::string& dsn) {
  const std::string& path = password_file();
  if (path.empty() || dsn_has_password(dsn)) return std::nullopt;
  std::string why;
  auto read = read_small_file(path, kMaxSecretFileBytes, why);
  std::string pw = read ? std::move(*read) : std::string();
  while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
  // Transient: the config's load proved the file; a Secret being rewritten or remounted must not
  // stop a running agent for good (the supervisor retries with back-off, reading it again).
  if (!read) throw Error(ErrorKind::kSource, "source.password_file " + path + ": " + why, Transient::kYes);
  if (pw.empty()) throw Error(ErrorKind::kSource, "source.password_file " + path + " is empty", Transient::kYes);
  return pw;
}

std::string hint_for(const std::string& reason, bool from_file, const std::string& user) {
  if (reason.find("password authentication failed") != std::string::npos)
    return from_file ? "check the user in source.dsn and the password in source.password_file " + password_file() +
                           " (read again at every connection)"
                     : "check the user and password in source.dsn";
  // TLS: libpq names the host it checked; say which setting fixes which cause.
  if (reason.find("does not match host name") != std::string::npos)
    return "the server's TLS certificate does not name the host in source.dsn (sslmode=verify-full checks it): "
           "connect by a host name the certificate lists (its subject alternative names) in host= of source.dsn, "
           "or have the certificate reissued for this host";
  if (reason.find("certificate verify failed") != std::string::npos)
    return "the server's TLS certificate is not signed by a CA in sslrootcert (source.dsn): point sslrootcert at "
           "the CA that signed the server's certificate (sslmode=verify-ca or verify-full verify it)";
  // A TLS alert from the server about the certificate tombsync presented (cert in pg_hba.conf).
  for (const char* alert : {"alert unknown ca", "alert certificate unknown", "alert bad certificate",
                            "alert certificate required", "alert certificate expired", "alert certificate revoked"})
    if (reason.find(alert) != std::string::npos)
      return "the server refused tombsync's client certificate: sslcert in source.dsn must name a certificate "
             "signed by a CA in the server's ssl_ca_file, not expired, with its key in sslkey";
  if (reason.find("root certificate file") != std::string::npos)
    return "sslrootcert in source.dsn must name the CA file that signed the server's certificate (or use "
           "sslmode=require, which does not verify the server)";
  if (reason.find("no password supplied") != std::string::npos)
    return "add password=... to source.dsn (use ${VAR} substitution for secrets)";
  if (reason.find("Connection refused") != std::string::npos ||
      reason.find("could not translate host name") != std::string::npos ||
      reason.find("timeout expired") != std::string::npos)
    return "check host and port in source.dsn and that PostgreSQL is running";
  if (reason.find("does not exist") != std::string::npos)
    return "check dbname and user in source.dsn";
  if (reason.find("pg_hba.conf") != std::string::npos)
    return "allow this client in pg_hba.conf (a replication connection needs a "
           "'replication' or matching database entry)";
  if (reason.find("must be superuser or replication role") != std::string::npos ||
      reason.find("permission denied to start WAL sender") != std::string::npos)
    return "grant it: ALTER ROLE " + quote_ident(user) + " WITH REPLICATION";
  return "check source.dsn";
}

// Whether waiting could fix a failed connection: everything an outage, a restart or a
// failover causes (refused, reset, timed out, SSL cut, server starting or full, ...) is;
// a wrong password, a missing role or database, or a pg_hba.conf rejection is not. Only a
// running agent retries (the first start fails at once), so erring towards retrying is safe.
Transient connect_transient(const std::string& reason) {
  for (const char* cause : {"password authentication failed", "no password supplied", "role \"",
                            "database \"", "does not exist", "pg_hba.conf", "permission denied",
                            "must be superuser or replication role", "certificate verify failed",
                            "does not match host name", "root certificate file",
                            "invalid connection option", "authentication method"})
    if (reason.find(cause) != std::string::npos) return Transient::kNo;
  return Transient::kYes;
}

std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  return s;
}

}  // namespace

PgConnection::PgConnection(const std::string& dsn, Mode mode) {
  // Keywords before "dbname" are defaults the DSN may override; those after it
  // override the DSN (libpq applies them in order, expanding the DSN in place).
  // TCP keepalives turn a half-open connection into an error in about 35 s
  // instead of a silent stall.
  // tcp_user_timeout: the replication connection always has unacknowledged data in flight
  // (status updates), where keepalives do not apply; without it a silently dropped network
  // is noticed only after the kernel's retransmissions give up (about 15 minutes).
  std::vector<const char*> keys = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                                   "keepalives_count", "tcp_user_timeout"};
  std::vector<const char*> values = {"10", "1", "20", "5", "3", "30000"};
  // Before dbname, so a password in the DSN itself would still win (it has none when this is set).
  const std::optional<std::string> password = file_password(dsn);
  if (password) {
    keys.push_back("password");
    values.push_back(password->c_str());
  }
  for (const char* k : {"dbname", "options", "application_name"}) keys.push_back(k);
  for (const char* v : {dsn.c_str(), kSessionOptions, "tombsync"}) values.push_back(v);
  if (mode == Mode::kReplication) {
    keys.push_back("replication");
    values.push_back("database");
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (conn_ == nullptr) throw Error(ErrorKind::kSource, "cannot allocate a libpq connection");
  auto field = [&](const char* v) { return v && *v ? std::string(v) : std::string("?"); };
  description_ = "host=" + field(PQhost(conn_)) + " port=" + field(PQport(conn_)) +
                 " dbname=" + field(PQdb(conn_)) + " user=" + field(PQuser(conn_));
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string reason = one_line(PQerrorMessage(conn_));
    const std::string hint = hint_for(reason, password.has_value(), field(PQuser(conn_)));
    PQfinish(conn_);
    conn_ = nullptr;
    throw Error(ErrorKind::kSource, "cannot connect to Postgres (" + description_ + "): " + reason + "; " + hint,
                connect_transient(reason));
  }
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

PgResult PgConnection::exec(const std::string& sql, const std::string& what) {
  PgResult r(PQexec(conn_, sql.c_str()));
  auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_COPY_BOTH)
    throw Error(ErrorKind::kSource, what + " failed (" + description_ + "): " + one_line(PQerrorMessage(conn_)),
                PQstatus(conn_) == CONNECTION_BAD ? Transient::kYes : Transient::kNo);
  return r;
}

PgResult PgConnection::exec_params(const std::string& sql, const std::vector<std::string>& params,
                                   const std::string& what) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  PgResult r(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), nullptr, nullptr, 0));
  auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw Error(ErrorKind::kSource, what + " failed (" + description_ + "): " + one_line(PQerrorMessage(conn_)),
                PQstatus(conn_) == CONNECTION_BAD ? Transient::kYes : Transient::kNo);
  return r;
}

std::string PgConnection::server_version_text() const {
  const char* v = PQparameterStatus(conn_, "server_version");
  return v ? v : "?";
}

ConnectionTarget PgConnection::target() const {
  auto field = [](const char* v) { return v ? std::string(v) : std::string(); };
  return {field(PQhost(conn_)), field(PQport(conn_)), field(PQdb(conn_)), field(PQuser(conn_))};
}

void set_password_file(const std::string& path) { password_file() = path; }

ConnectionTarget dsn_target(const std::string& dsn) {
  ConnectionTarget t;
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return t;
  for (auto* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    std::string k = o->keyword;
    if (k == "host" || (k == "hostaddr" && t.host.empty())) t.host = o->val;
    else if (k == "port") t.port = o->val;
    else if (k == "dbname") t.dbname = o->val;
    else if (k == "user") t.user = o->val;
  }
  PQconninfoFree(opts);
  return t;
}

std::string quote_ident(const std::string& ident) {
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::optional<std::string> value_at(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  return std::string(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

}  // namespace tombsync::pg
