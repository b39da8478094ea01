#include "agent/snapshot/reconcile_request.h"

#include <filesystem>
#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>

#include "base/error.h"
#include "base/log.h"
#include "base/small_file.h"

namespace tombsync {
namespace {

namespace fs = std::filesystem;

// "<dry 0|1> <id>\n<table>": a table name of at most 2 x 63 bytes (quotes doubled at most) and
// an id of a few dozen: 4 KiB is far above any real one.
constexpr size_t kMaxRequestBytes = 4096;
constexpr std::string_view kFilePrefix = "reconcile-";

// The id names the file: only characters safe in a file name.
bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

std::optional<ReconcileRequest> parse(const std::string& text) {
  std::istringstream in(text);
  ReconcileRequest r;
  int dry = -1;
  if (!(in >> dry >> r.id) || (dry != 0 && dry != 1) || !valid_id(r.id) || in.get() != '\n') return std::nullopt;
  std::getline(in, r.table, '\0');
  if (r.table.empty()) return std::nullopt;
  r.dry_run = dry == 1;
  return r;
}

}  // namespace

void request_reconcile(const std::string& state_dir, const ReconcileRequest& request) {
  if (!valid_id(request.id)) throw Error(ErrorKind::kInternal, "reconcile request id " + request.id + " is not valid");
  std::error_code ec;
  const fs::path dir = fs::path(state_dir) / "requests";
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::kState, "cannot create " + dir.string() + ": " + ec.message());
  const std::string name = std::string(kFilePrefix) + request.id;
  const fs::path tmp = dir / (".tmp-" + name);
  {
    std::ofstream f(tmp);
    f << (request.dry_run ? 1 : 0) << ' ' << request.id << '\n' << request.table;
    if (!f) throw Error(ErrorKind::kState, "cannot write " + tmp.string());
  }
  fs::rename(tmp, dir / name, ec);
  if (ec) throw Error(ErrorKind::kState, "cannot write " + (dir / name).string() + ": " + ec.message());
}

std::vector<ReconcileRequest> take_reconcile_requests(const std::string& state_dir) {
  std::vector<ReconcileRequest> out;
  std::error_code ec;
  const fs::path dir = fs::path(state_dir) / "requests";
  if (!fs::is_directory(dir, ec)) return out;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().filename().string().starts_with(kFilePrefix)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());  // ids begin with the request time: oldest first
  for (const auto& path : files) {
    // Bounded (base/small_file.h): a stray device, FIFO or huge file is one warning and is removed.
    std::string why;
    std::optional<std::string> text = read_small_file(path.string(), kMaxRequestBytes, why);
    std::optional<ReconcileRequest> r = text ? parse(*text) : std::nullopt;
    if (!r) log::warn("ignoring {}: {}; request reconciliations with `tombsync reconcile`", path.string(),
                      text ? "not a reconcile request" : why);
    else out.push_back(std::move(*r));
    fs::remove(path, ec);
  }
  return out;
}

}  // namespace tombsync
