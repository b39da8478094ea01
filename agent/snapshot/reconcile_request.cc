#include "agent/snapshot/reconcile_request.h"

#include <filesystem>
#include <fstream>
#include <optional>

#include "base/error.h"
#include "base/log.h"
#include "base/small_file.h"

namespace tombsync {
namespace {

namespace fs = std::filesystem;

// A request holds a flag, an id and one table name ("schema.table", each part at most 63 bytes,
// quoted names doubling their quotes at most): 4 KiB is far above any real one.
constexpr size_t kMaxRequestBytes = 4096;
constexpr const char* kPrefix = "reconcile-";

// The id names the file: only characters that are safe in a file name and in a log line.
bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// File content: "<dry 0|1> <id>\n<table>". The table is last so that it may hold any character
// (a quoted name can hold spaces or newlines).
std::string encode(const ReconcileRequest& r) { return std::string(r.dry_run ? "1" : "0") + " " + r.id + "\n" + r.table; }

std::optional<ReconcileRequest> decode(const std::string& text, std::string& why) {
  size_t nl = text.find('\n');
  if (nl == std::string::npos || nl < 3 || (text[0] != '0' && text[0] != '1') || text[1] != ' ') {
    why = "does not start with \"<0|1> <id>\" and a newline";
    return std::nullopt;
  }
  ReconcileRequest r;
  r.dry_run = text[0] == '1';
  r.id = text.substr(2, nl - 2);
  r.table = text.substr(nl + 1);
  if (!valid_id(r.id)) {
    why = "has an id that is not 1-128 letters, digits, '-' or '_'";
    return std::nullopt;
  }
  if (r.table.empty()) {
    why = "names no table";
    return std::nullopt;
  }
  return r;
}

}  // namespace

void request_reconcile(const std::string& state_dir, const ReconcileRequest& request) {
  if (!valid_id(request.id)) throw Error(ErrorKind::kState, "reconcile request id '" + request.id + "' is not 1-128 letters, digits, '-' or '_'");
  if (request.table.empty()) throw Error(ErrorKind::kState, "reconcile request names no table");
  std::error_code ec;
  fs::path dir = fs::path(state_dir) / "requests";
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::kState, "cannot create " + dir.string() + ": " + ec.message());
  std::string name = kPrefix + request.id;
  fs::path tmp = dir / (".tmp-" + name);
  {
    std::ofstream f(tmp);
    f << encode(request);
    if (!f) throw Error(ErrorKind::kState, "cannot write " + tmp.string());
  }
  fs::rename(tmp, dir / name, ec);
  if (ec) throw Error(ErrorKind::kState, "cannot write " + (dir / name).string() + ": " + ec.message());
}

std::vector<ReconcileRequest> take_reconcile_requests(const std::string& state_dir) {
  std::vector<ReconcileRequest> requests;
  std::error_code ec;
  fs::path dir = fs::path(state_dir) / "requests";
  if (!fs::is_directory(dir, ec)) return requests;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    auto name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    // Bounded (base/small_file.h): a stray device, FIFO or huge file in requests/ is one warning
    // and is removed, never read whole or retried every second.
    std::string why;
    std::optional<std::string> text = read_small_file(entry.path().string(), kMaxRequestBytes, why);
    std::optional<ReconcileRequest> request;
    if (text) request = decode(*text, why);
    if (!request) log::warn("ignoring {}: {}; request reconciliations with `tombsync reconcile --table`", entry.path().string(), why);
    else requests.push_back(std::move(*request));
    fs::remove(entry.path(), ec);
  }
  return requests;
}

}  // namespace tombsync
