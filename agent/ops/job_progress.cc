#include "agent/ops/job_progress.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/hex.h"
#include "base/log.h"
#include "base/small_file.h"

namespace tombsync {
namespace {

namespace fs = std::filesystem;

// One line of a few fields, a table name and up to JobProgress::kSampleKeys sample keys (each cut
// to 200 bytes by the writer, hex-encoded here).
constexpr size_t kMaxFileBytes = 16384;


// Table names may hold any character (tabs and newlines too): the file is named by their hex form,
// and the line keeps the name last, hex-encoded.
std::string hex(const std::string& s) { return to_hex(s); }
std::optional<std::string> unhex(const std::string& s) { return from_hex(s); }

// An optional field: "-" when empty, else hex (it may hold spaces).
std::string field(const std::string& s) { return s.empty() ? "-" : hex(s); }
std::optional<std::string> unfield(const std::string& s) { return s == "-" ? std::optional<std::string>("") : unhex(s); }

}  // namespace

void write_job_progress(const std::string& state_dir, const JobProgress& p) {
  std::error_code ec;
  const fs::path dir = fs::path(state_dir) / "progress";
  const std::string name = p.job + "-" + hex(p.table);
  fs::create_directories(dir, ec);
  const fs::path tmp = dir / (".tmp-" + name);
  {
    std::ofstream f(tmp);
    f << p.job << ' ' << p.lsn << ' ' << (p.running ? "running" : "done") << ' ' << p.done << ' ' << p.total << ' '
      << p.rate << ' ' << p.eta_s << ' ' << p.elapsed_s << ' ' << p.updated_unix_ms << ' ' << hex(p.table);
    // A reconciliation's fields, after the ones every job has.
    f << ' ' << field(p.phase) << ' ' << (p.dry_run ? 1 : 0) << ' ' << p.inferred << ' ' << field(p.request_id) << ' '
      << std::min(p.sample.size(), JobProgress::kSampleKeys);
    for (size_t i = 0; i < p.sample.size() && i < JobProgress::kSampleKeys; ++i)
      f << ' ' << field(p.sample[i].substr(0, 200));
    f << '\n';
    if (!f) ec = std::make_error_code(std::errc::io_error);
  }
  if (!ec) fs::rename(tmp, dir / name, ec);
  if (ec) log::warn("cannot write the progress of the {} of {} in {}: {}", p.job, p.table, dir.string(), ec.message());
}

std::vector<JobProgress> read_job_progress(const std::string& state_dir) {
  std::vector<JobProgress> out;
  std::error_code ec;
  const fs::path dir = fs::path(state_dir) / "progress";
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().rfind(".tmp-", 0) == 0) continue;
    std::string why;
    auto text = read_small_file(entry.path().string(), kMaxFileBytes, why);
    if (!text) continue;
    std::istringstream in(*text);
    JobProgress p;
    std::string state, table;
    if (!(in >> p.job >> p.lsn >> state >> p.done >> p.total >> p.rate >> p.eta_s >> p.elapsed_s >>
          p.updated_unix_ms >> table))
      continue;
    auto name = unhex(table);
    if (!name) continue;
    p.table = *name;
    p.running = state == "running";
    std::string phase, request;
    int dry = 0;
    size_t samples = 0;
    if (in >> phase >> dry >> p.inferred >> request >> samples) {  // absent in a truncate's older file
      p.phase = unfield(phase).value_or("");
      p.dry_run = dry == 1;
      p.request_id = unfield(request).value_or("");
      std::string key;
      for (size_t i = 0; i < samples && i < JobProgress::kSampleKeys && in >> key; ++i)
        if (auto k = unfield(key)) p.sample.push_back(*k);
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace tombsync
