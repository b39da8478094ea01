// Operator log: one line per meaningful event, to stderr, as text
// ("2026-11-23T08:00:00.123Z INFO  streaming from 0/16B3748 ...") or JSON
// ({"ts":..,"level":..,"msg":..}). Safe to call from any thread.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace tombsync::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Throws Error(kConfig) on an unknown level or format name.
void configure(const std::string& level, const std::string& format);
bool enabled(Level level);
void write(Level level, std::string_view message);

template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kDebug)) write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kInfo)) write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kWarn)) write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kError)) write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace tombsync::log
