#include "log.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "error.h"

namespace tombsync::loader::log {
namespace {

Level g_level = Level::kInfo;  // set once at start, before any other thread exists

const char* label(Level l) {
  switch (l) {
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO ";
    case Level::kWarn: return "WARN ";
    case Level::kError: return "ERROR";
  }
  return "INFO ";
}

}  // namespace

void set_level(const std::string& name) {
  if (name == "debug") g_level = Level::kDebug;
  else if (name == "info") g_level = Level::kInfo;
  else if (name == "warn") g_level = Level::kWarn;
  else if (name == "error") g_level = Level::kError;
  else throw Error(ErrorKind::kConfig, "--log-level expects debug, info, warn or error, got '" + name + "'");
}

bool enabled(Level level) { return level >= g_level; }

void write(Level level, std::string_view message) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line = fmt::format("{}.{:03}Z {} {}\n", ts, ms, label(level), message);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace tombsync::loader::log
