#include "agent/snapshot/snapshot_request.h"

#include <filesystem>
#include <fstream>
#include <optional>

#include "base/error.h"
#include "base/hex.h"
#include "base/log.h"
#include "base/small_file.h"

namespace tombsync {
namespace {

namespace fs = std::filesystem;

// A request holds one table name ("schema.table", each part at most 63 bytes, quoted names
// doubling their quotes at most): 4 KiB is far above any real one.
constexpr size_t kMaxRequestBytes = 4096;

// Table names may hold any character: the file is named by their hex form.
std::string file_name(const std::string& table) { return "snapshot-" + to_hex(table); }

}  // namespace

void request_snapshot(const std::string& state_dir, const std::string& table) {
  std::error_code ec;
  fs::path dir = fs::path(state_dir) / "requests";
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::kState, "cannot create " + dir.string() + ": " + ec.message());
  fs::path tmp = dir / (".tmp-" + file_name(table));
  {
    std::ofstream f(tmp);
    f << table;
    if (!f) throw Error(ErrorKind::kState, "cannot write " + tmp.string());
  }
  fs::rename(tmp, dir / file_name(table), ec);
  if (ec) throw Error(ErrorKind::kState, "cannot write " + (dir / file_name(table)).string() + ": " + ec.message());
}

std::vector<std::string> take_snapshot_requests(const std::string& state_dir) {
  std::vector<std::string> tables;
  std::error_code ec;
  fs::path dir = fs::path(state_dir) / "requests";
  if (!fs::is_directory(dir, ec)) return tables;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    auto name = entry.path().filename().string();
    if (name.rfind("snapshot-", 0) != 0) continue;
    // Bounded (base/small_file.h): a stray device, FIFO or huge file in requests/ is one warning
    // and is removed, never read whole or retried every second.
    std::string why;
    std::optional<std::string> table = read_small_file(entry.path().string(), kMaxRequestBytes, why);
    if (!table) log::warn("ignoring {}: {}; request snapshots with `tombsync snapshot --table`", entry.path().string(), why);
    else if (!table->empty()) tables.push_back(std::move(*table));
    fs::remove(entry.path(), ec);
  }
  return tables;
}

}  // namespace tombsync
