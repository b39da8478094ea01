// Reads a small regular file whole: a password or another secret the config
// names (source.password_file, kafka.property_files), typically a mounted
// Kubernetes Secret (a symlink to a regular file, which is followed), the config
// file itself, or a request file in the state directory. Bounded:
// a device (/dev/zero), a FIFO or a directory is refused, and so is a file
// larger than the cap, so a wrong path can never grow the process without end.
// Any thread; no state.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace tombsync {

inline constexpr size_t kMaxSecretFileBytes = 64 * 1024;
inline constexpr size_t kMaxConfigFileBytes = 1024 * 1024;  // a config is a few KiB; 1 MiB is 100 tables' worth many times over

// The content, or nullopt with `why` set to one line ("is not a regular file (a character
// device)", "is larger than 65536 bytes", or the system's reason it cannot be opened or read).
std::optional<std::string> read_small_file(const std::string& path, size_t max_bytes, std::string& why);

}  // namespace tombsync
