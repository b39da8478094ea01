// One line per meaningful event, to stderr: "2024-05-01T10:00:00.123Z INFO  message".
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace tombsync::loader::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Throws Error(kConfig) on an unknown level name.
void set_level(const std::string& name);
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

}  // namespace tombsync::loader::log
