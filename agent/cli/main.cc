// tombsync: PostgreSQL logical replication to Kafka, hard deletes included.
#include <signal.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.h"
#include "agent/cli/drop_slot.h"
#include "base/error.h"
#include "agent/ops/http_server.h"
#include "base/log.h"
#include "base/small_file.h"
#include "connectors/postgres/pg_connection.h"
#include "agent/ops/metrics.h"
#include "agent/cli/preflight.h"
#include "agent/cli/reconcile_command.h"
#include "agent/snapshot/snapshot_request.h"
#include "agent/cli/status_report.h"
#include "base/stop_signal.h"
#include "state/cursor_reader.h"
#include "state/cursor_store.h"
#include "agent/daemon/supervisor.h"

namespace {

constexpr const char* kUsage =
    "usage: tombsync <command> [options]\n"
    "\n"
    "commands:\n"
    "  run --config FILE     stream the configured tables to Kafka until SIGTERM/SIGINT\n"
    "  check --config FILE   pre-flight: check everything run needs, one PASS/FAIL/SKIP line per item;\n"
    "                        creates nothing; exit 0 only when every item passes\n"
    "  status --config FILE  the stored cursor, the slot's positions and lag, the publication and tables\n"
    "  snapshot --config FILE --table SCHEMA.TABLE\n"
    "                        read a configured table again (a backfill): the running agent starts it\n"
    "                        within a second, while streaming goes on; else the next run does\n"
    "  reconcile --config FILE (--table SCHEMA.TABLE | --all) [--dry-run] [--no-wait] [--timeout SECONDS]\n"
    "                        re-read tables that keep a key ledger and delete (inferred deletes) every key\n"
    "                        the source no longer has; --dry-run only counts them and prints a sample.\n"
    "                        The running agent starts it within a second, while streaming goes on; else\n"
    "                        the next run does. Waits for the result (default up to 3600 s) unless --no-wait\n"
    "  drop-slot --config FILE [--yes]\n"
    "                        drop the replication slot (after typing its name, or with --yes) and forget\n"
    "                        its cursor; refused while an agent uses it\n"
    "  version               print the version\n"
    "\n"
    "options:\n"
    "  --config FILE         the YAML config (see docs/configuration.md)\n"
    "  --json                check, status: print one JSON object instead of text\n"
    "  --yes                 drop-slot: do not ask for confirmation\n"
    "  --all, --dry-run, --no-wait, --timeout SECONDS\n"
    "                        reconcile: every table with a ledger; count only; do not wait; wait at most this long\n"
    "  --log-level LEVEL     debug | info | warn | error (overrides log.level)\n"
    "  --log-format FORMAT   text | json (overrides log.format)\n";

int usage_error(const std::string& what) {
  std::fprintf(stderr, "tombsync: %s\n%s", what.c_str(), kUsage);
  return 2;
}

// source.password_file: read by every Postgres connection (connectors/postgres),
// so a rotated Secret applies at the next reconnect. Read once here too, so an
// unreadable file fails the start with its line. Set before any thread starts.
void use_password_file(const tombsync::Config& config) {
  if (config.source.password_file.empty()) return;
  std::string why;
  if (!tombsync::read_small_file(config.source.password_file, tombsync::kMaxSecretFileBytes, why))
    throw tombsync::Error(tombsync::ErrorKind::kConfig,
                          "source.password_file " + config.source.password_file + ": " + why);
  tombsync::pg::set_password_file(config.source.password_file);
}

// /healthz: the process answers. /readyz: streaming, Kafka acknowledging, lag under
// health.max_lag_bytes. /metrics: Prometheus text format.
std::unique_ptr<tombsync::HttpServer> start_http(const tombsync::Config& config, const tombsync::Metrics& metrics) {
  if (config.http.address.empty()) return nullptr;
  using tombsync::HttpResponse;
  std::map<std::string, tombsync::HttpServer::Handler> routes;
  routes["/healthz"] = [&metrics] {
    std::string why;
    if (metrics.alive(why)) return HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
    return HttpResponse{503, "text/plain; charset=utf-8", "unhealthy: " + why + "\n"};
  };
  routes["/readyz"] = [&metrics] {
    std::string why;
    if (metrics.ready(why)) return HttpResponse{200, "text/plain; charset=utf-8", "ready\n"};
    return HttpResponse{503, "text/plain; charset=utf-8", "not ready: " + why + "\n"};
  };
  routes["/metrics"] = [&metrics] {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics.prometheus()};
  };
  auto server = std::make_unique<tombsync::HttpServer>(config.http.address, std::move(routes));
  tombsync::log::info("http: /healthz /readyz /metrics on {} (port {})", config.http.address, server->port());
  return server;
}

// The hidden commands (not in the usage text): compact-state (for scripts/bench: with the agent
// stopped, compacts state_dir and prints its SST bytes and each table's ledger keys) and
// ledger-keys (for the integration tests: a table's key ledger, a key per line as hex, read-only
// like status).
int state_debug_command(const std::string& command, const tombsync::Config& config, const std::string& table) {
  if (command == "compact-state") {
    const uint64_t bytes = tombsync::compact_rocksdb_cursor_store(config.state_dir);
    std::printf("state store %s compacted: %llu bytes of SST files\n", config.state_dir.c_str(),
                static_cast<unsigned long long>(bytes));
    for (const auto& [name, keys] : tombsync::read_stored_cursor(config.state_dir, config.source.slot).ledger_keys)
      std::printf("ledger %s: %llu keys\n", name.c_str(), static_cast<unsigned long long>(keys));
    return 0;
  }
  static const char* kHex = "0123456789abcdef";
  std::string line;
  tombsync::read_ledger_keys(config.state_dir, config.source.slot, table, [&](std::string_view key) {
    line.clear();
    for (unsigned char c : key) {
      line.push_back(kHex[c >> 4]);
      line.push_back(kHex[c & 0xf]);
    }
    line.push_back('\n');
    std::fputs(line.c_str(), stdout);
  });
  return 0;
}

// The command line after the command, checked. `error`: the exit code of a usage error.
struct Options {
  std::string config_path, log_level, log_format, table, timeout;
  bool json = false, yes = false, all = false, dry_run = false, no_wait = false;
  tombsync::ReconcileOptions reconcile;
};

// Reads the options of `command` into `o`; returns the usage error's exit code, or -1 when they hold.
int parse_options(const std::string& command, const std::vector<std::string>& args, Options& o) {
  for (size_t i = 1; i < args.size(); ++i) {
    auto take = [&](std::string& into) {
      if (i + 1 >= args.size()) return false;
      into = args[++i];
      return true;
    };
    if (args[i] == "--config" || args[i] == "-c") {
      if (!take(o.config_path)) return usage_error("--config needs a file");
    } else if (args[i] == "--log-level") {
      if (!take(o.log_level)) return usage_error("--log-level needs a level");
    } else if (args[i] == "--log-format") {
      if (!take(o.log_format)) return usage_error("--log-format needs a format");
    } else if (args[i] == "--table") {
      if (!take(o.table)) return usage_error("--table needs schema.table");
    } else if (args[i] == "--json") {
      o.json = true;
    } else if (args[i] == "--yes") {
      o.yes = true;
    } else if (args[i] == "--all") {
      o.all = true;
    } else if (args[i] == "--dry-run") {
      o.dry_run = true;
    } else if (args[i] == "--no-wait") {
      o.no_wait = true;
    } else if (args[i] == "--timeout") {
      if (!take(o.timeout)) return usage_error("--timeout needs a number of seconds");
    } else {
      return usage_error("unknown option " + args[i]);
    }
  }
  // ledger-keys and compact-state: see state_debug_command.
  if (command != "run" && command != "check" && command != "status" && command != "snapshot" &&
      command != "drop-slot" && command != "reconcile" && command != "ledger-keys" && command != "compact-state")
    return usage_error("unknown command " + command);
  if (o.config_path.empty()) return usage_error(command + " needs --config FILE");
  if (o.json && command == "run") return usage_error("--json applies to check and status");
  if ((command == "snapshot" || command == "ledger-keys") && o.table.empty())
    return usage_error(command + " needs --table SCHEMA.TABLE");
  if (command != "snapshot" && command != "reconcile" && command != "ledger-keys" && !o.table.empty())
    return usage_error("--table applies to snapshot and reconcile");
  if (command == "reconcile" && o.table.empty() == !o.all)
    return usage_error("reconcile needs --table SCHEMA.TABLE or --all (one of them)");
  if (command != "reconcile" && (o.all || o.dry_run || o.no_wait || !o.timeout.empty()))
    return usage_error("--all, --dry-run, --no-wait and --timeout apply to reconcile");
  if (command == "reconcile") {
    if (!o.table.empty()) o.reconcile.tables.push_back(o.table);
    o.reconcile.all = o.all;
    o.reconcile.dry_run = o.dry_run;
    o.reconcile.wait = !o.no_wait;
    if (!o.timeout.empty()) {
      char* end = nullptr;
      const long secs = std::strtol(o.timeout.c_str(), &end, 10);
      if (end == o.timeout.c_str() || *end != '\0' || secs < 1 || secs > 7 * 24 * 3600)
        return usage_error("--timeout needs a whole number of seconds from 1 to 604800, not " + o.timeout);
      o.reconcile.timeout_s = static_cast<int>(secs);
    }
  }
  if (command != "drop-slot" && o.yes) return usage_error("--yes applies to drop-slot");
  return -1;
}

// `tombsync check`: a config that does not load is a failed item too, reported like the others (exit 2).
int check_command(const Options& o) {
  std::optional<tombsync::Config> config;
  try {
    config = tombsync::load_config_file(o.config_path);
    tombsync::log::configure(o.log_level.empty() ? config->log.level : o.log_level,
                             o.log_format.empty() ? config->log.format : o.log_format);
    use_password_file(*config);
  } catch (const tombsync::Error& e) {
    auto report = tombsync::config_refused(e.what());
    std::fputs((o.json ? report.json() : report.text()).c_str(), stdout);
    return 2;
  }
  try {
    std::signal(SIGPIPE, SIG_IGN);
    auto report = tombsync::run_preflight(o.config_path, *config);
    std::fputs((o.json ? report.json() : report.text()).c_str(), stdout);
    return report.ok() ? 0 : 1;
  } catch (const std::exception& e) {
    tombsync::log::error("internal error: {}", e.what());
    return 1;
  }
}

// `tombsync snapshot --table`: a request file the running agent (or the next start) takes.
int snapshot_command(const tombsync::Config& config, const std::string& table, const std::string& config_path) {
  const tombsync::TableConfig* found = nullptr;
  for (const auto& t : config.source.tables)
    if (t.name.qualified() == table) found = &t;
  if (found == nullptr)
    throw tombsync::Error(tombsync::ErrorKind::kConfig, "--table " + table + " is not in source.tables of " + config_path);
  if (config.snapshot_for(*found) == tombsync::SnapshotMode::kNever)
    throw tombsync::Error(tombsync::ErrorKind::kConfig,
                          "the snapshot mode of " + table + " is never; set snapshot: initial to allow it");
  tombsync::request_snapshot(config.state_dir, table);
  std::printf("requested a snapshot of %s: a running agent starts it within a second, while streaming "
              "goes on; otherwise the next `tombsync run` does\n", table.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  if (command == "version" || command == "--version") {
    std::printf("tombsync %s\n", TOMBSYNC_VERSION);
    return 0;
  }
  Options o;
  if (const int rc = parse_options(command, args, o); rc >= 0) return rc;
  if (command == "check") return check_command(o);
  const std::string& config_path = o.config_path;
  try {
    auto config = tombsync::load_config_file(config_path);
    tombsync::log::configure(o.log_level.empty() ? config.log.level : o.log_level,
                             o.log_format.empty() ? config.log.format : o.log_format);
    use_password_file(config);
    std::signal(SIGPIPE, SIG_IGN);
    if (command == "drop-slot") return tombsync::drop_slot(config, o.yes, stdin, stdout);
    if (command == "snapshot") return snapshot_command(config, o.table, config_path);
    if (command == "reconcile") return tombsync::reconcile_command(config, config_path, o.reconcile, stdout);
    if (command == "compact-state" || command == "ledger-keys") return state_debug_command(command, config, o.table);
    if (command == "status") {
      auto report = tombsync::collect_status(config_path, config);
      std::fputs((o.json ? report.json() : report.text()).c_str(), stdout);
      return report.ok() ? 0 : 1;
    }
    tombsync::StopSignal stop(std::chrono::seconds(5));
    tombsync::log::info("tombsync {} starting (config {})", TOMBSYNC_VERSION, config_path);
    tombsync::Metrics metrics(config);
    auto http = start_http(config, metrics);
    tombsync::supervise(config, stop, metrics);
    return 0;
  } catch (const tombsync::Error& e) {
    tombsync::log::error("{} error: {}", tombsync::to_string(e.kind()), e.what());
    return e.kind() == tombsync::ErrorKind::kConfig ? 2 : 1;
  } catch (const std::exception& e) {
    tombsync::log::error("internal error: {}", e.what());
    return 1;
  }
}
