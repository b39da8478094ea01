#include "connectors/postgres/replication_stream.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "connectors/postgres/pgoutput_messages.h"

namespace tombsync::pg {
namespace {

PgMicros now_pg() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return to_pg(UnixMicros{us});
}

std::string quote_literal(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace

ReplicationStream::ReplicationStream(const std::string& dsn)
    : conn_(dsn, PgConnection::Mode::kReplication) {}

ReplicationStream::~ReplicationStream() {
  if (buffer_ != nullptr) PQfreemem(buffer_);
}

SystemIdentity ReplicationStream::identify() {
  auto r = conn_.exec("IDENTIFY_SYSTEM", "IDENTIFY_SYSTEM");
  if (PQntuples(r.get()) != 1 || PQnfields(r.get()) < 4)
    throw Error(ErrorKind::kSource, "IDENTIFY_SYSTEM returned an unexpected result");
  SystemIdentity id;
  id.system_id = value_at(r.get(), 0, 0).value_or("");
  id.timeline = std::stoi(value_at(r.get(), 0, 1).value_or("0"));
  id.xlog_pos = Lsn::parse(value_at(r.get(), 0, 2).value_or("")).value_or(Lsn());
  id.dbname = value_at(r.get(), 0, 3).value_or("");
  return id;
}

Lsn ReplicationStream::create_slot(const std::string& slot) {
  // NOEXPORT_SNAPSHOT: the stream starts at the slot's consistent point; the
  // initial snapshot (when configured) reads tables with its own watermarks.
  auto r = conn_.exec("CREATE_REPLICATION_SLOT " + quote_ident(slot) +
                          " LOGICAL pgoutput NOEXPORT_SNAPSHOT",
                      "creating replication slot " + slot);
  auto lsn = Lsn::parse(value_at(r.get(), 0, 1).value_or(""));
  if (!lsn) throw Error(ErrorKind::kSource, "CREATE_REPLICATION_SLOT returned no consistent point");
  return *lsn;
}

void ReplicationStream::start(const std::string& slot, const std::string& publication, Lsn from) {
  std::string sql = "START_REPLICATION SLOT " + quote_ident(slot) + " LOGICAL " + from.str() +
                    " (proto_version '1', publication_names " + quote_literal(quote_ident(publication)) +
                    ", messages 'true')";
  PgResult r(PQexec(conn_.raw(), sql.c_str()));
  if (!r || PQresultStatus(r.get()) != PGRES_COPY_BOTH) {
    std::string reason = PQerrorMessage(conn_.raw());
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    // "is active for PID": the slot is still held, by the walsender of a connection this
    // agent lost a moment ago (until wal_sender_timeout), or by another agent.
    const bool held = reason.find("is active for PID") != std::string::npos ||
                      PQstatus(conn_.raw()) == CONNECTION_BAD;
    throw Error(ErrorKind::kSource, "START_REPLICATION on slot " + slot + " failed (" + conn_.describe() + "): " + reason,
                held ? Transient::kYes : Transient::kNo);
  }
  streaming_ = true;
}

void ReplicationStream::release_frame() {
  if (buffer_ != nullptr) {
    PQfreemem(buffer_);
    buffer_ = nullptr;
  }
}

std::optional<ServerFrame> ReplicationStream::read(std::chrono::milliseconds timeout) {
  release_frame();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool polled = false;
  for (;;) {
    int n = PQgetCopyData(conn_.raw(), &buffer_, /*async=*/1);
    if (n > 0)
      return decode_server_frame(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buffer_), static_cast<size_t>(n)));
    if (n == -1) {
      // The server ended COPY: fetch the final result to report why.
      PgResult r(PQgetResult(conn_.raw()));
      const char* primary = r ? PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
      std::string reason = primary ? primary : "";
      if (reason.empty()) reason = PQerrorMessage(conn_.raw());
      for (auto& c : reason)
        if (c == '\n' || c == '\t') c = ' ';
      while (!reason.empty() && reason.back() == ' ') reason.pop_back();
      const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
      const std::string sqlstate = state ? state : "";
      streaming_ = false;
      // Only what goes away by itself is worth a reconnect: connection failures (class 08),
      // the server shutting down or starting (57P01-57P03), no SQLSTATE at all (the connection
      // simply ended). An ERROR such as a publication that does not exist comes back every time.
      const bool transient = sqlstate.empty() || sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" ||
                             sqlstate == "57P02" || sqlstate == "57P03" || sqlstate.rfind("53", 0) == 0;
      throw Error(ErrorKind::kSource,
                  "replication stream ended by the server (" + conn_.describe() + ")" +
                      (reason.empty() ? "" : ": " + reason) + (sqlstate.empty() ? "" : " [SQLSTATE " + sqlstate + "]"),
                  transient ? Transient::kYes : Transient::kNo);
    }
    if (n == -2) {
      std::string reason = PQerrorMessage(conn_.raw());
      while (!reason.empty() && reason.back() == '\n') reason.pop_back();
      streaming_ = false;
      throw Error(ErrorKind::kSource, "replication connection lost (" + conn_.describe() + "): " + reason,
                  Transient::kYes);
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    // However short the timeout, the socket is looked at once: data already
    // there must not wait for a caller that only ever asks briefly.
    if (left.count() <= 0 && polled) return std::nullopt;
    polled = true;
    pollfd pfd{PQsocket(conn_.raw()), POLLIN, 0};
    int rc = ::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (rc < 0) {
      if (errno == EINTR) return std::nullopt;  // a signal: let the caller look at it
      throw Error(ErrorKind::kSource, std::string("poll on replication socket: ") + std::strerror(errno));
    }
    if (rc > 0 && PQconsumeInput(conn_.raw()) == 0) {
      std::string reason = PQerrorMessage(conn_.raw());
      while (!reason.empty() && reason.back() == '\n') reason.pop_back();
      streaming_ = false;
      throw Error(ErrorKind::kSource, "replication connection lost (" + conn_.describe() + "): " + reason,
                  Transient::kYes);
    }
  }
}

void ReplicationStream::send_status(Lsn confirmed, bool reply_requested) {
  auto msg = encode_standby_status(confirmed, confirmed, confirmed, now_pg(), reply_requested);
  if (PQputCopyData(conn_.raw(), msg.data(), static_cast<int>(msg.size())) != 1)
    throw Error(ErrorKind::kSource,
                "sending standby status update failed (" + conn_.describe() + "): " + PQerrorMessage(conn_.raw()),
                Transient::kYes);
  flush_output();
}

void ReplicationStream::flush_output() {
  if (PQflush(conn_.raw()) == -1)
    throw Error(ErrorKind::kSource, "replication connection lost while writing (" + conn_.describe() + ")",
                Transient::kYes);
}

void ReplicationStream::finish() {
  if (!streaming_) return;
  streaming_ = false;
  if (PQputCopyEnd(conn_.raw(), nullptr) != 1) return;
  PQflush(conn_.raw());
  // Drain until the server acknowledges the end of COPY, for at most 2 s; if
  // it does not, closing the connection ends the walsender just the same.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn_.raw(), &buf, /*async=*/1);
    if (buf) PQfreemem(buf);
    if (n == -1) {
      while (PGresult* r = PQgetResult(conn_.raw())) PQclear(r);
      return;
    }
    if (n == -2) return;
    if (n == 0) {
      pollfd pfd{PQsocket(conn_.raw()), POLLIN, 0};
      if (::poll(&pfd, 1, 100) > 0 && PQconsumeInput(conn_.raw()) == 0) return;
    }
  }
}

}  // namespace tombsync::pg
