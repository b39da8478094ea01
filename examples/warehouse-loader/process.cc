#include "examples/warehouse-loader/process.h"

#include <signal.h>

#include <csignal>

#include "base/error.h"

namespace tombsync::loader {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

}  // namespace

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

bool stop_requested() { return g_stop != 0; }

std::unique_ptr<pg::PgConnection> connect_flag(const std::string& dsn, const std::string& flag) {
  try {
    auto conn = std::make_unique<pg::PgConnection>(dsn, pg::PgConnection::Mode::kSql);
    // "schema already exists, skipping" and the like are not the operator's business.
    PQsetNoticeProcessor(conn->raw(), [](void*, const char*) {}, nullptr);
    return conn;
  } catch (const Error& e) {
    std::string m = e.what();
    for (size_t at; (at = m.find("source.dsn")) != std::string::npos;) m.replace(at, 10, flag);
    throw Error(e.kind(), flag + ": " + m);
  }
}

}  // namespace tombsync::loader
